// The start page: create a bin, list bins (when this server allows it), how to send.

import { ApiError, api } from "./api.js";
import { ROOT, byId, el, formatAgo } from "./dom.js";

const KEY = "hookscope.apiKey";
let apiKey = sessionStorage.getItem(KEY) || "";

function binLink(bin) {
  const url = new URL(`b/${encodeURIComponent(bin.id)}`, ROOT);
  url.hash = new URLSearchParams({ token: bin.token }).toString();
  return url.href;
}

function showKeyState() {
  byId("key-state").hidden = !apiKey;
}

function askForKey(message) {
  const form = byId("key-form");
  form.hidden = false;
  byId("create-problem").textContent = message;
  byId("api-key").focus();
}

async function loadBins() {
  const note = byId("bins-note");
  const table = byId("bins");
  let answer;
  try {
    answer = await api("api/bins?limit=100", { token: apiKey });
  } catch (error) {
    table.hidden = true;
    if (error instanceof ApiError && error.code === "bin_list_closed") {
      note.textContent =
        "This server does not list bins: it is reachable from the network and has no API key. " +
        "Open a bin with the link (…/b/ID#token=TOKEN) you got when you created it.";
    } else if (error instanceof ApiError && (error.code === "api_key_required" || error.code === "api_key_invalid")) {
      note.textContent = "Enter this server's API key above to see its bins.";
      if (error.code === "api_key_invalid") forgetKey();
      byId("key-form").hidden = false;
    } else {
      note.textContent = `Could not list bins: ${error.message}`;
    }
    return;
  }
  const rows = answer.bins.map((bin) =>
    el(
      "tr",
      {},
      el("td", {}, el("a", { href: binLink(bin), text: bin.name || "(unnamed)" })),
      el("td", {}, el("code", { text: bin.id })),
      el("td", { className: "num", text: bin.requests.toLocaleString() }),
      el("td", { text: formatAgo(bin.last_request_at), title: bin.last_request_at || "" }),
      el("td", { text: formatAgo(bin.created_at), title: bin.created_at }),
    ),
  );
  byId("bin-rows").replaceChildren(...rows);
  table.hidden = rows.length === 0;
  note.textContent = rows.length
    ? `The ${rows.length === 100 ? "100 newest" : rows.length} bin${rows.length === 1 ? "" : "s"} on this server, newest first.`
    : "No bins yet.";
}

function forgetKey() {
  apiKey = "";
  sessionStorage.removeItem(KEY);
  showKeyState();
}

async function createBin(event) {
  event.preventDefault();
  const problem = byId("create-problem");
  problem.textContent = "";
  const name = byId("bin-name").value.trim();
  try {
    const bin = await api("api/bins", { token: apiKey, method: "POST", body: name ? { name } : {} });
    location.assign(binLink(bin));
  } catch (error) {
    if (error instanceof ApiError && error.code === "api_key_required") {
      askForKey("This server needs its API key to create bins.");
    } else if (error instanceof ApiError && error.code === "api_key_invalid") {
      forgetKey();
      askForKey("That API key is wrong.");
    } else {
      problem.textContent = error.message;
    }
  }
}

function main() {
  const base = ROOT.href.replace(/\/$/, "");
  byId("capture-pattern").textContent = `${base}/h/BIN_ID/any/path`;
  byId("curl-example").textContent = [
    `curl -s -X POST ${base}/api/bins            # a new bin: {"id", "token", "url", ...}`,
    `curl -X POST ${base}/h/BIN_ID/github/push -H 'x-github-event: push' -H 'content-type: application/json' -d '{"ref": "main"}'`,
  ].join("\n");
  byId("python-example").textContent = [
    "import hookscope",
    "",
    `client = hookscope.Client("${base}")`,
    "bin = client.create_bin(name=\"demo\")",
    "print(bin.url)                     # give this URL to the webhook sender",
    "req = bin.wait_for(method=\"POST\", timeout=60)",
    "print(req.method, req.path, req.json())",
  ].join("\n");
  byId("create-form").addEventListener("submit", createBin);
  byId("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    apiKey = byId("api-key").value.trim();
    sessionStorage.setItem(KEY, apiKey);
    byId("key-form").hidden = true;
    byId("create-problem").textContent = "";
    showKeyState();
    loadBins();
  });
  byId("forget-key").addEventListener("click", () => {
    forgetKey();
    loadBins();
  });
  showKeyState();
  loadBins();
}

main();

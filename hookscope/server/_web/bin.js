// The bin page, /b/{bin}#token=...: capture URL, live list, detail, filters, response editor.

import { ApiError, api, binPath } from "./api.js";
import { renderDetail } from "./detail.js";
import { byId, copyText, el } from "./dom.js";
import { setUpEditor } from "./editor.js";
import { RequestList, matcher } from "./list.js";
import { BinStream } from "./stream.js";

const WINDOW = 500; // rows kept on the page (and replayed on open)
const COMMON_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

const binId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";

const connection = byId("connection");
const detail = byId("detail");
const methodFilter = byId("method-filter");
const textFilter = byId("text-filter");
const pause = byId("pause");
const counts = byId("counts");
const windowNote = byId("window-note");
const empty = byId("empty");
let bin = null;
let stream = null;

const list = new RequestList(byId("rows"), {
  size: WINDOW,
  onSelect: (request) => showDetail(request),
  onChange: () => updateCounts(),
});

function showDetail(request) {
  if (request === null) {
    detail.replaceChildren(el("p", { className: "muted placeholder", text: "Select a request to see it in full." }));
    delete detail.dataset.id;
    return;
  }
  renderDetail(detail, request, bin ? bin.url : `${location.origin}/h/${binId}`);
}

function updateCounts() {
  const shown = list.visibleCount;
  const kept = list.entries.size;
  const parts = [`${kept} request${kept === 1 ? "" : "s"}`];
  if (shown !== kept) parts.push(`${shown} match the filter`);
  if (list.held) parts.push(`${list.held} new while paused`);
  counts.textContent = parts.join(" · ");
  counts.dataset.count = String(kept);
  counts.dataset.received = String(list.received);
  empty.hidden = kept > 0 || list.held > 0;
  const older = stream !== null && stream.replayed >= WINDOW;
  windowNote.hidden = list.dropped === 0 && !older;
  if (list.dropped > 0) {
    windowNote.textContent =
      `This page keeps the newest ${WINDOW} requests: ${list.dropped.toLocaleString()} older ` +
      "ones have left the view. The bin keeps them up to its limit: read them with the API " +
      "or `hookscope export`.";
  } else if (older) {
    windowNote.textContent =
      `This page shows the newest ${WINDOW} requests; the bin holds older ones too: read them ` +
      "with the API or `hookscope export`.";
  }
}

const methods = new Set();
function addMethod(method) {
  if (methods.has(method)) return;
  methods.add(method);
  const options = Array.from(methodFilter.options).slice(1);
  const next = options.find((option) => option.value > method);
  methodFilter.insertBefore(el("option", { value: method, text: method }), next || null);
}

const LABELS = {
  connecting: "Connecting…",
  replaying: "Loading history…",
  live: "Live",
  waiting: "Disconnected",
  closed: "Closed",
};
let countdown = 0;

function showState({ state, detail: why, retryAt }) {
  clearInterval(countdown);
  connection.dataset.state = state;
  const label = byId("connection-label");
  const note = byId("connection-detail");
  const retry = byId("reconnect");
  label.textContent = LABELS[state];
  note.textContent = why || "";
  retry.hidden = state !== "waiting";
  if (state === "waiting") {
    const tick = () => {
      const seconds = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
      note.textContent = `${why}; retrying in ${seconds} s`;
    };
    tick();
    countdown = setInterval(tick, 500);
  }
  if (state === "closed") fatal(why);
}

function fatal(message) {
  const box = byId("fatal");
  box.hidden = false;
  box.replaceChildren(el("p", { text: message }), el("p", {}, el("a", { href: new URL("../", location.href).href, text: "Back to the start page" })));
}

function applyFilter() {
  list.filter(matcher(methodFilter.value, textFilter.value));
}

function setUpControls() {
  methodFilter.addEventListener("change", applyFilter);
  let typing = 0;
  textFilter.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(applyFilter, 120);
  });
  pause.addEventListener("click", () => {
    const paused = pause.getAttribute("aria-pressed") !== "true";
    pause.setAttribute("aria-pressed", String(paused));
    pause.textContent = paused ? "Resume" : "Pause";
    list.setPaused(paused);
  });
  byId("reconnect").addEventListener("click", () => stream && stream.retryNow());
  byId("copy-url").addEventListener("click", (event) => copyText(byId("capture-url").value, event.currentTarget));
  // The smee channel (docs/smee.md): the token is in its query, as smee-client sends no
  // headers; the cursor lets a restarted client resume where it left off.
  byId("copy-smee").addEventListener("click", (event) => {
    const channel = `${location.origin}/${binPath(binId, "/smee")}?token=${encodeURIComponent(token)}&cursor=smee`;
    copyText(channel, event.currentTarget);
  });

  const confirm = byId("confirm-clear");
  byId("clear").addEventListener("click", () => confirm.showModal());
  byId("clear-cancel").addEventListener("click", () => confirm.close());
  byId("clear-confirm").addEventListener("click", async () => {
    try {
      await api(binPath(binId, "/requests"), { token, method: "DELETE" });
      list.clear();
      confirm.close();
    } catch (error) {
      byId("clear-problem").textContent = error.message;
    }
  });

  // Keyboard: arrows move through the list, Enter opens the detail, Escape goes back.
  byId("list").addEventListener("keydown", (event) => {
    const moves = { ArrowDown: 1, ArrowUp: -1, PageDown: 10, PageUp: -10 };
    if (event.key in moves) list.move(moves[event.key]);
    else if (event.key === "Home") list.edge(false);
    else if (event.key === "End") list.edge(true);
    else if (event.key === "Enter" && list.selected) detail.focus();
    else if (event.key === "Escape") list.select(null);
    else return;
    event.preventDefault();
  });
  detail.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && list.selected) {
      event.preventDefault();
      list.select(list.selected, { focus: true });
    }
  });
}

function askForToken() {
  const form = byId("token-form");
  form.hidden = false;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = byId("token-input").value.trim();
    if (value) {
      location.hash = new URLSearchParams({ token: value }).toString();
      location.reload();
    }
  });
}

async function main() {
  document.title = `${binId} · hookscope`;
  byId("bin-id").textContent = binId;
  byId("capture-url").value = `${location.origin}/h/${binId}`;
  for (const method of COMMON_METHODS) addMethod(method);
  setUpControls();
  showDetail(null);
  if (!token) {
    showState({ state: "closed", detail: "This page's address has no token (…#token=…)." });
    askForToken();
    return;
  }
  try {
    bin = await api(binPath(binId), { token });
  } catch (error) {
    const reason =
      error instanceof ApiError && error.status === 404
        ? "There is no such bin (deleted, expired, or a typo in the address)."
        : error.message;
    showState({ state: "closed", detail: reason });
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) askForToken();
    return;
  }
  showBin(bin);
  setUpEditor({ binId, token, getBin: () => bin, onSaved: (saved) => showBin(saved) });
  stream = new BinStream({
    binId,
    token,
    tail: WINDOW,
    onRequests: (requests) => {
      for (const request of requests) addMethod(request.method);
      list.add(requests);
    },
    onState: showState,
  });
  stream.start();
}

function showBin(record) {
  bin = record;
  if (record.name) {
    byId("bin-name").textContent = record.name;
    document.title = `${record.name} · hookscope`;
  }
  byId("capture-url").value = record.url;
  byId("example").textContent = `curl -X POST ${record.url}/hello -H 'content-type: application/json' -d '{"hello": "world"}'`;
  const response = record.response;
  const summary = [`${response.status}`];
  if (response.body !== null) summary.push(`custom body`);
  if (Object.keys(response.headers).length) summary.push(`${Object.keys(response.headers).length} header(s)`);
  if (response.delay_ms) summary.push(`${response.delay_ms} ms delay`);
  if (record.signing && record.signing.length) summary.push(`verifies ${record.signing.join(", ")}`);
  byId("response-summary").textContent = `Answers ${summary.join(", ")}`;
}

main();

// The response editor: what the bin answers to senders (status, headers, body, delay),
// saved with PATCH /api/bins/{bin}.

import { ApiError, api, binPath } from "./api.js";
import { byId } from "./dom.js";

/** "Name: value" lines → {name: value}; throws with a message naming the bad line. */
export function parseHeaders(text) {
  const headers = {};
  text.split("\n").forEach((line, index) => {
    if (!line.trim()) return;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`header line ${index + 1} needs the form "Name: value"`);
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  });
  return headers;
}

/** Wire the <dialog id="editor"> form to `bin` (its current record) and `token`. */
export function setUpEditor({ binId, token, getBin, onSaved }) {
  const dialog = byId("editor");
  const form = byId("editor-form");
  const status = byId("response-status");
  const headers = byId("response-headers");
  const body = byId("response-body");
  const useDefault = byId("response-default-body");
  const delay = byId("response-delay");
  const problem = byId("editor-problem");

  const syncBody = () => {
    body.disabled = useDefault.checked;
  };
  useDefault.addEventListener("change", syncBody);

  byId("edit-response").addEventListener("click", () => {
    const response = getBin().response;
    status.value = String(response.status);
    headers.value = Object.entries(response.headers)
      .map(([name, value]) => `${name}: ${value}`)
      .join("\n");
    useDefault.checked = response.body === null;
    body.value = response.body ?? "";
    delay.value = String(response.delay_ms);
    problem.textContent = "";
    syncBody();
    dialog.showModal();
    status.focus();
  });
  byId("editor-cancel").addEventListener("click", () => dialog.close());

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.textContent = "";
    let response;
    try {
      response = {
        status: Number(status.value),
        headers: parseHeaders(headers.value),
        body: useDefault.checked ? null : body.value,
        delay_ms: Number(delay.value || 0),
      };
    } catch (error) {
      problem.textContent = error.message;
      return;
    }
    try {
      const saved = await api(binPath(binId), { token, method: "PATCH", body: { response } });
      onSaved(saved);
      dialog.close();
    } catch (error) {
      problem.textContent = error instanceof ApiError ? error.message : String(error);
    }
  });
}

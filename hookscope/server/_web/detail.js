// The detail pane: one request in full. Every captured value goes in through textContent.

import {
  signature,
  smeeInexact,
  bodyBytes,
  bodyText,
  formFields,
  hexDump,
  mediaType,
  multipartParts,
  prettyJson,
  typeParam,
} from "./body.js";
import { toCurl } from "./curl.js";
import { copyText, el, formatSize, formatTime } from "./dom.js";

const TEXT_LIMIT = 64 * 1024; // characters shown before "Show all"
const HEX_LIMIT = 4 * 1024; // bytes shown before "Show all"
const COLOUR_LIMIT = 100 * 1024; // pretty JSON larger than this stays one colour

/** Fill `pane` with `request`; `captureUrl` is the bin's capture URL (for copy as curl). */
export function renderDetail(pane, request, captureUrl) {
  const target = request.path + (request.query ? `?${request.query}` : "");
  const heading = el(
    "h2",
    { className: "request-line" },
    el("span", { className: "badge", text: request.method, dataset: { method: request.method.toLowerCase() } }),
    " ",
    el("code", { className: "target", text: target }),
    " ",
    el("span", { className: "muted", text: `HTTP/${request.http_version || "1.1"}` }),
  );
  const curl = el("button", { type: "button", className: "copy-curl", text: "Copy as curl" });
  curl.addEventListener("click", () => {
    let command;
    try {
      command = toCurl(request, captureUrl);
    } catch (error) {
      curl.textContent = error.message; // a NUL byte outside the body: no command line can
      curl.disabled = true; //             carry it, as CapturedRequest.to_curl() says too
      return;
    }
    copyText(command, curl);
  });
  const facts = el("dl", { className: "facts" });
  const fact = (name, value, title) =>
    facts.append(el("dt", { text: name }), el("dd", { text: value, title }));
  fact("Received", formatTime(request.received_at), request.received_at);
  fact("Size", `${formatSize(request.size)}${request.size >= 1000 ? ` (${request.size} bytes)` : ""}`);
  fact("From", request.remote_addr || "unknown");
  fact("Content type", mediaType(request) || "none");
  fact("Id", request.id);
  const verdict = signature(request);
  if (verdict) {
    facts.append(
      el("dt", { text: "Signature" }),
      el("dd", {
        className: verdict.valid ? "verdict-valid" : "verdict-invalid",
        text: `${verdict.mark} ${verdict.long}`,
      }),
    );
  }
  const inexact = smeeInexact(request);
  const smeeNote = inexact
    ? el("p", {
        className: "smee-note muted",
        text: `Through a smee channel: smee-client would not forward this body byte-exact (${inexact}); hookscope forward relays the exact bytes.`,
      })
    : "";

  const rows = request.headers.map(([name, value]) =>
    el("tr", {}, el("th", { scope: "row", text: name }), el("td", { text: value })),
  );
  const headers = el(
    "section",
    { className: "headers", "aria-label": "Headers" },
    el("h3", { text: `Headers (${request.headers.length})` }),
    el(
      "table",
      { className: "header-table" },
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Name" }), el("th", { scope: "col", text: "Value" }))),
      el("tbody", {}, ...rows),
    ),
  );
  pane.replaceChildren(
    el("div", { className: "detail-head" }, heading, curl),
    facts,
    headers,
    bodySection(request),
    smeeNote,
  );
  pane.dataset.id = request.id;
}

/** The views a body offers, best first: `[{name, render()}]`. */
function views(request) {
  const found = [];
  const type = mediaType(request);
  const text = bodyText(request);
  if (request.size === 0) return [{ name: "Empty", render: () => el("p", { className: "muted", text: "No body." }) }];
  if (text !== null) {
    const pretty = type.includes("json") || /^\s*[[{]/.test(text) ? prettyJson(text) : null;
    if (pretty !== null) found.push({ name: "JSON", render: () => jsonView(pretty) });
    if (type === "application/x-www-form-urlencoded") {
      found.push({ name: "Form", render: () => fieldsTable(formFields(text)) });
    }
  }
  if (type === "multipart/form-data") {
    const parts = multipartParts(bodyBytes(request), typeParam(request, "boundary"));
    if (parts) found.push({ name: "Form", render: () => partsView(parts) });
  }
  if (text !== null) found.push({ name: "Text", render: () => limited(text, TEXT_LIMIT, "text") });
  found.push({ name: "Hex", render: () => hexView(bodyBytes(request)) });
  return found;
}

function bodySection(request) {
  const section = el("section", { className: "body", "aria-label": "Body" });
  const choices = views(request);
  const switcher = el("div", { className: "views", role: "group", "aria-label": "Body view" });
  const holder = el("div", { className: "view" });
  const show = (index) => {
    for (const [n, button] of Array.from(switcher.children).entries()) {
      button.setAttribute("aria-pressed", String(n === index));
    }
    holder.replaceChildren(choices[index].render());
    holder.dataset.view = choices[index].name.toLowerCase();
  };
  choices.forEach((choice, index) => {
    const button = el("button", { type: "button", text: choice.name });
    button.addEventListener("click", () => show(index));
    switcher.append(button);
  });
  section.append(el("div", { className: "body-head" }, el("h3", { text: "Body" }), choices.length > 1 ? switcher : null), holder);
  show(0);
  return section;
}

/** `text` in a <pre>, cut at `limit` characters with a button that shows the rest. */
function limited(text, limit, className) {
  const pre = el("pre", { className, text: text.length > limit ? text.slice(0, limit) : text });
  if (text.length <= limit) return pre;
  const more = el("button", {
    type: "button",
    className: "show-all",
    text: `Show all ${text.length.toLocaleString()} characters`,
  });
  more.addEventListener("click", () => {
    pre.textContent = text;
    more.remove();
  });
  return el("div", {}, pre, more);
}

function hexView(bytes) {
  const pre = el("pre", { className: "hex", text: hexDump(bytes, HEX_LIMIT) });
  if (bytes.length <= HEX_LIMIT) return pre;
  const more = el("button", { type: "button", className: "show-all", text: `Show all ${bytes.length.toLocaleString()} bytes` });
  more.addEventListener("click", () => {
    pre.textContent = hexDump(bytes);
    more.remove();
  });
  return el("div", {}, pre, more);
}

const TOKEN = /("(?:[^"\\]|\\.)*")(\s*:)?|(-?\d[\d.eE+-]*)|(true|false|null)/g;

/** Pretty JSON with keys, strings, numbers and literals in spans (built with textContent). */
function jsonView(pretty) {
  if (pretty.length > COLOUR_LIMIT) return limited(pretty, TEXT_LIMIT, "json");
  const pre = el("pre", { className: "json" });
  let last = 0;
  for (const match of pretty.matchAll(TOKEN)) {
    if (match.index > last) pre.append(pretty.slice(last, match.index));
    const [, string, colon, number, literal] = match;
    if (string !== undefined) {
      pre.append(el("span", { className: colon ? "j-key" : "j-string", text: string }));
      if (colon) pre.append(colon);
    } else if (number !== undefined) {
      pre.append(el("span", { className: "j-number", text: number }));
    } else {
      pre.append(el("span", { className: "j-literal", text: literal }));
    }
    last = match.index + match[0].length;
  }
  pre.append(pretty.slice(last));
  return pre;
}

function fieldsTable(fields) {
  return el(
    "table",
    { className: "fields" },
    el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Field" }), el("th", { scope: "col", text: "Value" }))),
    el(
      "tbody",
      {},
      ...fields.map(([name, value]) =>
        el("tr", {}, el("th", { scope: "row", text: name }), el("td", {}, value instanceof Node ? value : el("span", { className: "field-value", text: value }))),
      ),
    ),
  );
}

function partsView(parts) {
  return fieldsTable(
    parts.map((part) => {
      const name = part.name ?? "(no name)";
      if (part.filename === null && part.text !== null) return [name, part.text];
      const about = [
        part.filename !== null ? `file ${JSON.stringify(part.filename)}` : "binary",
        part.contentType || "no content type",
        formatSize(part.bytes.length),
      ].join(", ");
      const body = part.text !== null ? limited(part.text, 4096, "text") : el("pre", { className: "hex", text: hexDump(part.bytes, 256) });
      return [name, el("div", { className: "part" }, el("p", { className: "muted part-about", text: about }), body)];
    }),
  );
}

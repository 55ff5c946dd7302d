// The list of requests: a bounded window of rows, newest first, rendered incrementally.
//
// Arrivals are queued and added at most every FLUSH_MS, in an animation frame, at most CHUNK
// rows at a time, in front of the existing rows; the oldest rows leave at the bottom when the
// window is full. Nothing is ever rebuilt, so 200 requests/s cost 20 rows ten times a second.
// Rows are fixed-height grid rows with layout and paint containment, and rows out of view
// are skipped by the renderer (content-visibility, style.css): a table re-laid out all 500
// rows for each insertion at the top.

import { preview, mediaType, signature } from "./body.js";
import { el, formatSize, formatTime } from "./dom.js";

const CHUNK = 100;
const FLUSH_MS = 100;
const SEARCH_BODY = 64 * 1024;

export class RequestList {
  /**
   * `new RequestList(container, {size, onSelect, onChange})`: `onSelect(request)` when the
   * selection moves (null when cleared), `onChange()` after rows were added or dropped.
   */
  constructor(container, { size, onSelect, onChange }) {
    Object.assign(this, { container, size, onSelect, onChange });
    this.pending = [];
    this.entries = new Map(); // id -> {request, row, haystack}
    this.received = 0;
    this.dropped = 0; // rows that left the window (or never entered it)
    this.paused = false;
    this.frame = 0;
    this.lastFlush = 0;
    this.selected = null;
    this.match = () => true;
    container.addEventListener("click", (event) => {
      const row = event.target.closest(".req");
      if (row) this.select(row.dataset.id, { focus: true });
    });
  }

  /** Queue requests (oldest first) for the next frame. */
  add(requests) {
    this.received += requests.length;
    for (const request of requests) this.pending.push(request);
    const excess = this.pending.length - this.size;
    if (excess > 0) {
      this.pending.splice(0, excess); // would only scroll through the window unseen
      this.dropped += excess;
    }
    this.schedule();
  }

  schedule() {
    if (this.frame) return;
    const wait = Math.max(0, this.lastFlush + FLUSH_MS - performance.now());
    this.frame = setTimeout(() => requestAnimationFrame(() => this.flush()), wait);
  }

  get held() {
    return this.paused ? this.pending.length : 0;
  }

  setPaused(paused) {
    this.paused = paused;
    this.schedule();
    this.onChange();
  }

  flush() {
    this.frame = 0;
    this.lastFlush = performance.now();
    if (this.paused) {
      this.onChange(); // counts what waits
      return;
    }
    const batch = this.pending.splice(0, CHUNK);
    const fragment = document.createDocumentFragment();
    for (let i = batch.length - 1; i >= 0; i -= 1) {
      const request = batch[i];
      const entry = { request, row: this.row(request), haystack: null };
      entry.row.hidden = !this.match(entry);
      this.entries.set(request.id, entry);
      fragment.append(entry.row);
    }
    this.container.prepend(fragment);
    while (this.entries.size > this.size) {
      const row = this.container.lastElementChild;
      this.entries.delete(row.dataset.id);
      row.remove();
      this.dropped += 1;
      if (this.selected === row.dataset.id) this.selected = null;
    }
    if (this.pending.length) this.schedule();
    this.onChange();
  }

  row(request) {
    const type = mediaType(request);
    const target = request.path + (request.query ? `?${request.query}` : "");
    const cell = (className, text, title) => el("span", { className, role: "cell", text, title });
    const method = el("span", { className: "method", role: "cell" });
    method.append(el("span", { className: "badge", text: request.method, dataset: { method: request.method.toLowerCase() } }));
    return el(
      "div",
      { className: "req", role: "row", tabIndex: -1, dataset: { id: request.id }, "aria-selected": "false" },
      method,
      cell("path", target, target),
      cell("time", formatTime(request.received_at), request.received_at),
      cell("size", formatSize(request.size)),
      cell("type", type.replace(/^application\//, ""), type),
      this.signatureCell(request),
      cell("preview", preview(request)),
    );
  }

  signatureCell(request) {
    const verdict = signature(request);
    const cell = el("span", { className: "sig", role: "cell" });
    if (verdict) {
      cell.textContent = verdict.mark;
      cell.title = verdict.long;
      cell.dataset.valid = String(verdict.valid);
      cell.setAttribute("aria-label", verdict.long);
    }
    return cell;
  }

  /** Show only the requests for which `match(entry)` holds (see `matcher`). */
  filter(match) {
    this.match = match;
    for (const entry of this.entries.values()) entry.row.hidden = !match(entry);
    this.onChange();
  }

  get visibleCount() {
    let count = 0;
    for (const entry of this.entries.values()) if (!entry.row.hidden) count += 1;
    return count;
  }

  request(id) {
    const entry = this.entries.get(id);
    return entry ? entry.request : null;
  }

  select(id, { focus = false } = {}) {
    const previous = this.selected && this.entries.get(this.selected);
    if (previous) {
      previous.row.classList.remove("selected");
      previous.row.setAttribute("aria-selected", "false");
      previous.row.tabIndex = -1;
    }
    const entry = id ? this.entries.get(id) : null;
    this.selected = entry ? id : null;
    if (entry) {
      entry.row.classList.add("selected");
      entry.row.setAttribute("aria-selected", "true");
      entry.row.tabIndex = 0;
      if (focus) entry.row.focus({ preventScroll: true });
      entry.row.scrollIntoView({ block: "nearest" });
    }
    this.onSelect(entry ? entry.request : null);
  }

  /** Move the selection by `step` visible rows (positive: down, towards older). */
  move(step) {
    const current = this.selected && this.entries.get(this.selected);
    let row = current ? current.row : null;
    const forward = step > 0;
    let remaining = Math.abs(step);
    if (!row) {
      row = forward ? this.container.firstElementChild : this.container.lastElementChild;
      while (row && row.hidden) row = forward ? row.nextElementSibling : row.previousElementSibling;
      remaining = 0;
    }
    while (row && remaining > 0) {
      let next = forward ? row.nextElementSibling : row.previousElementSibling;
      while (next && next.hidden) next = forward ? next.nextElementSibling : next.previousElementSibling;
      if (!next) break;
      row = next;
      remaining -= 1;
    }
    if (row) this.select(row.dataset.id, { focus: true });
  }

  edge(last) {
    this.select(null);
    this.move(last ? -1 : 1);
  }

  clear() {
    clearTimeout(this.frame);
    this.frame = 0;
    this.container.replaceChildren();
    this.entries.clear();
    this.pending = [];
    this.selected = null;
    this.dropped = 0;
    this.received = 0;
    this.onSelect(null);
    this.onChange();
  }
}

/** A filter: method ("" for any) and text, which may be in the method, path, query,
 * headers or the first 64 KB of the body; case-insensitive. */
export function matcher(method, text) {
  const needle = text.trim().toLowerCase();
  return (entry) => {
    const request = entry.request;
    if (method && request.method !== method) return false;
    if (!needle) return true;
    if (entry.haystack === null) {
      const parts = [request.method, request.path, request.query];
      for (const [name, value] of request.headers) parts.push(`${name}: ${value}`);
      if (request.body_encoding !== "base64") parts.push(request.body.slice(0, SEARCH_BODY));
      entry.haystack = parts.join("\n").toLowerCase();
    }
    return entry.haystack.includes(needle);
  };
}

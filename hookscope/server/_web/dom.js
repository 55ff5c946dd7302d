// Small DOM and formatting helpers shared by the pages.
//
// Captured values only ever reach the page through `text` (textContent) or DOM properties:
// nothing here parses a string as HTML.

/** The app's root URL (works behind a proxy that mounts hookscope under a path). */
export const ROOT = new URL("../", import.meta.url);

/**
 * `el("td", {className: "path", text: req.path, title: req.path}, child...)`.
 * `text` sets textContent; `dataset` entries go to data-*; other keys are DOM properties
 * (`hidden`, `tabIndex`, `type`...) or, for names with a dash, attributes.
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.includes("-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child);
    }
  }
  return node;
}

/** `byId("x")`, failing loudly when the page lacks it. */
export function byId(id) {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`missing #${id}`);
  return node;
}

/** `1536` → `"1.5 KB"`. */
export function formatSize(bytes) {
  if (bytes < 1000) return `${bytes} B`;
  const units = ["KB", "MB", "GB"];
  let value = bytes;
  for (const unit of units) {
    value /= 1000;
    if (value < 1000 || unit === "GB") {
      return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${unit}`;
    }
  }
  return `${bytes} B`;
}

const timeFormat = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hour12: false,
});

/** The local wall-clock time of an RFC 3339 timestamp, with milliseconds. */
export function formatTime(iso) {
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return iso;
  const millis = String(moment.getMilliseconds()).padStart(3, "0");
  return `${timeFormat.format(moment)}.${millis}`;
}

/** "3 s ago", "5 min ago", "2 h ago", "4 d ago" (for lists of bins). */
export function formatAgo(iso) {
  if (!iso) return "never";
  const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return `${Math.round(seconds)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

/**
 * Copy `text` to the clipboard and say so on `button` for a moment. Plain-http pages on a
 * non-local host have no clipboard API; they fall back to a selected hidden textarea.
 */
export async function copyText(text, button) {
  let done = false;
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      done = true;
    } catch {
      done = false;
    }
  }
  if (!done) {
    const area = el("textarea", { value: text, className: "offscreen", readOnly: true });
    document.body.append(area);
    area.select();
    done = document.execCommand("copy");
    area.remove();
  }
  if (button) {
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    button.textContent = done ? "Copied" : "Copy failed";
    setTimeout(() => {
      button.textContent = label;
    }, 1500);
  }
  return done;
}

// A captured body in every form the detail pane shows: bytes, text, pretty JSON, form
// fields, multipart parts, hex dump. Pure functions on wire-format requests.

const utf8 = new TextDecoder("utf-8", { fatal: true });
const lenient = new TextDecoder("utf-8");

/** The body's exact bytes. */
const SIGNATURE_REASONS = {
  bad_signature: "the signature does not match the body and secret",
  missing_header: "the request carries no signature header of this scheme",
  malformed_header: "the signature header is not in this scheme's format",
  timestamp_outside_tolerance:
    "the signature matches, but its timestamp is outside the tolerance (a replay, or a clock that is off)",
  url_needed: "this scheme signs the URL the sender called",
};

/** The server's signature verdict as `{mark, valid, short, long}`, or null when it gave none
 * (the bin holds no signing secret). */
export function signature(request) {
  const verdict = request.signature;
  if (!verdict || typeof verdict !== "object") return null;
  const scheme = String(verdict.scheme);
  if (verdict.valid === true) {
    return { mark: "✓", valid: true, short: `${scheme} ✓`, long: `${scheme}: valid` };
  }
  const reason = String(verdict.reason ?? "invalid");
  const words = SIGNATURE_REASONS[reason];
  return {
    mark: "✗",
    valid: false,
    short: `${scheme} ✗`,
    long: `${scheme}: ${reason}${words ? ` (${words})` : ""}`,
  };
}

/** Why smee-client would not forward this body byte-exact, or null when it would: it posts
 * JSON.stringify(JSON.parse(body)), so only compact JSON arrives unchanged (docs/smee.md). */
export function smeeInexact(request) {
  if (!request.size) return 'an empty body is forwarded as ""';
  if (request.body_encoding !== "utf-8") return "a binary body is forwarded as JSON text";
  let parsed;
  try {
    parsed = JSON.parse(request.body);
  } catch {
    return "a body that is not JSON is forwarded as a JSON string";
  }
  return JSON.stringify(parsed) === request.body
    ? null
    : "JSON that smee-client re-encodes (whitespace, escapes, numbers or key order)";
}

export function bodyBytes(request) {
  if (request.body_encoding === "base64") {
    const raw = atob(request.body);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i += 1) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }
  return new TextEncoder().encode(request.body);
}

/** The body as text, or null when it is not UTF-8. */
export function bodyText(request) {
  return request.body_encoding === "base64" ? null : request.body;
}

/** The first value of a header (names compare case-insensitively), or null. */
export function header(request, name) {
  const wanted = name.toLowerCase();
  for (const [key, value] of request.headers) {
    if (key.toLowerCase() === wanted) return value;
  }
  return null;
}

/** `"application/json"` from `"Application/JSON; charset=utf-8"`, or "". */
export function mediaType(request) {
  const value = header(request, "content-type");
  return value ? value.split(";")[0].trim().toLowerCase() : "";
}

/** A parameter of the content type (`boundary`, `charset`), unquoted, or null. */
export function typeParam(request, name) {
  const value = header(request, "content-type") || "";
  for (const part of value.split(";").slice(1)) {
    const [key, ...rest] = part.split("=");
    if (key.trim().toLowerCase() === name) {
      const raw = rest.join("=").trim();
      return raw.startsWith('"') && raw.endsWith('"') && raw.length > 1 ? raw.slice(1, -1) : raw;
    }
  }
  return null;
}

/**
 * JSON re-indented by two spaces, or null when `text` is not JSON. Re-indented as text,
 * not re-serialised: numbers, escapes and key order stay exactly as sent.
 */
export function prettyJson(text) {
  try {
    JSON.parse(text);
  } catch {
    return null;
  }
  const out = [];
  let depth = 0;
  const newline = () => "\n" + "  ".repeat(depth);
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i];
    if (char === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
      out.push(text.slice(i, end + 1));
      i = end;
    } else if (char === "{" || char === "[") {
      let next = i + 1;
      while (" \t\r\n".includes(text[next])) next += 1;
      if (text[next] === "}" || text[next] === "]") {
        out.push(char + text[next]);
        i = next;
      } else {
        depth += 1;
        out.push(char + newline());
      }
    } else if (char === "}" || char === "]") {
      depth -= 1;
      out.push(newline() + char);
    } else if (char === ",") {
      out.push("," + newline());
    } else if (char === ":") {
      out.push(": ");
    } else if (!" \t\r\n".includes(char)) {
      out.push(char);
    }
  }
  return out.join("");
}

/** `[[name, value], ...]` of an `application/x-www-form-urlencoded` body, in order. */
export function formFields(text) {
  return Array.from(new URLSearchParams(text));
}

function indexOf(bytes, needle, from) {
  const first = needle[0];
  for (let i = bytes.indexOf(first, from); i !== -1; i = bytes.indexOf(first, i + 1)) {
    if (i + needle.length > bytes.length) return -1;
    let j = 1;
    while (j < needle.length && bytes[i + j] === needle[j]) j += 1;
    if (j === needle.length) return i;
  }
  return -1;
}

function dispositionParam(value, name) {
  const match = new RegExp(`(?:^|;)\\s*${name}="((?:[^"\\\\]|\\\\.)*)"`, "i").exec(value);
  if (match) return match[1].replace(/\\(.)/g, "$1");
  const bare = new RegExp(`(?:^|;)\\s*${name}=([^;]*)`, "i").exec(value);
  return bare ? bare[1].trim() : null;
}

/**
 * The parts of a `multipart/form-data` body: `[{name, filename, contentType, bytes, text}]`
 * (`text` null for a part that is not UTF-8), or null when the body does not parse.
 */
export function multipartParts(bytes, boundary) {
  if (!boundary) return null;
  const delimiter = new TextEncoder().encode(`--${boundary}`);
  const parts = [];
  let at = indexOf(bytes, delimiter, 0);
  if (at === -1) return null;
  const crlfcrlf = new Uint8Array([13, 10, 13, 10]);
  while (at !== -1) {
    let start = at + delimiter.length;
    if (bytes[start] === 45 && bytes[start + 1] === 45) break; // "--": the closing delimiter
    if (bytes[start] === 13 && bytes[start + 1] === 10) start += 2;
    const next = indexOf(bytes, delimiter, start);
    if (next === -1) return null;
    let end = next;
    if (bytes[end - 2] === 13 && bytes[end - 1] === 10) end -= 2;
    const split = indexOf(bytes.subarray(0, end), crlfcrlf, start);
    const head = lenient.decode(bytes.subarray(start, split === -1 ? end : split));
    const content = split === -1 ? new Uint8Array() : bytes.subarray(split + 4, end);
    const headers = {};
    for (const line of head.split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const disposition = headers["content-disposition"] || "";
    let text = null;
    try {
      text = utf8.decode(content);
    } catch {
      text = null;
    }
    parts.push({
      name: dispositionParam(disposition, "name"),
      filename: dispositionParam(disposition, "filename"),
      contentType: headers["content-type"] || null,
      bytes: content,
      text,
    });
    at = next;
  }
  return parts;
}

const HEX = Array.from({ length: 256 }, (_, n) => n.toString(16).padStart(2, "0"));

/** `offset  hex bytes (16 a line)  |ascii|`, for the first `limit` bytes. */
export function hexDump(bytes, limit = bytes.length) {
  const lines = [];
  const end = Math.min(bytes.length, limit);
  for (let offset = 0; offset < end; offset += 16) {
    const row = bytes.subarray(offset, Math.min(offset + 16, end));
    let hex = "";
    let ascii = "";
    for (let i = 0; i < 16; i += 1) {
      if (i < row.length) {
        hex += HEX[row[i]] + (i === 7 ? "  " : " ");
        ascii += row[i] >= 0x20 && row[i] < 0x7f ? String.fromCharCode(row[i]) : ".";
      } else {
        hex += i === 7 ? "    " : "   ";
      }
    }
    lines.push(`${offset.toString(16).padStart(8, "0")}  ${hex} |${ascii}|`);
  }
  return lines.join("\n");
}

/** A one-line preview of the body for the list (at most `length` characters). */
export function preview(request, length = 120) {
  if (request.size === 0) return "";
  if (request.body_encoding === "base64") return `binary, ${request.size} bytes`;
  return request.body.slice(0, length * 2).replace(/\s+/g, " ").slice(0, length);
}

// "Copy as curl": the rules of hookscope/_curl.py (CapturedRequest.to_curl()), in JS.
// Every argument is one quoted POSIX sh word that expands to exactly the captured bytes, and
// the command is written in printable characters only, so that pasting it runs curl and
// nothing else, whatever the sender chose. tests/web checks the two agree.

import { bodyBytes } from "./body.js";

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;
// Python's str.isprintable(): no "Other" (Cc Cf Cs Co Cn) or "Separator" but the space.
const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]|(?! )\p{Zs}/u;
const SPECIAL = /[^\x20-\x24\x26-\x5b\x5d-\x7e]/u; // not plain ASCII, or printf's % and \
const GLOB_BYTES = new Set([0x5b, 0x5d, 0x7b, 0x7d]); // [ ] { }: curl globs unless --globoff
const DOT_SEGMENT = /\/\.\.?(?:\/|$)/; // curl squashes these unless --path-as-is
const INLINE_BODY_LIMIT = 64 * 1024;
const utf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** Python's shlex.quote: bare when harmless, else in single quotes ('"'"' for a quote). */
export function shellQuote(text) {
  if (text === "") return "''";
  if (SAFE.test(text)) return text;
  return "'" + text.replaceAll("'", "'\"'\"'") + "'";
}

/** Bytes of a captured string (latin-1: one char code per byte received). */
function latin1(text) {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
  return bytes;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((size, part) => size + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function decoded(bytes) {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/** The bytes as text when they are UTF-8 and every character is printable, else null. */
function visible(bytes, newlines = false) {
  const text = decoded(bytes);
  if (text === null) return null;
  return NOT_PRINTABLE.test(newlines ? text.replaceAll("\n", "") : text) ? null : text;
}

const octal = (byte) => "\\" + byte.toString(8).padStart(3, "0");

/** A printf format, in printable characters, that prints exactly `bytes`. */
function printfFormat(bytes) {
  const text = decoded(bytes);
  let format = "";
  if (text !== null) {
    for (const char of text) {
      if (!SPECIAL.test(char)) format += char;
      else if (char === "%" || char === "\\") format += char + char;
      else if (!NOT_PRINTABLE.test(char)) format += char;
      else for (const byte of encoder.encode(char)) format += octal(byte);
    }
  } else {
    for (const byte of bytes) {
      const char = String.fromCharCode(byte);
      if (char === "%" || char === "\\") format += char + char;
      else if (byte >= 0x20 && byte <= 0x7e) format += char;
      else format += octal(byte);
    }
  }
  // A leading "-" could read as an option (bash's printf -v).
  return format.startsWith("-") ? "\\055" + format.slice(1) : format;
}

/** One sh word that expands to exactly `bytes`; throws on a NUL byte. */
function shellWord(bytes, what) {
  if (bytes.includes(0)) throw new Error(`no curl command: the ${what} holds a NUL byte`);
  const text = visible(bytes);
  if (text !== null) return shellQuote(text);
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0x0a) end--;
  const core = bytes.subarray(0, end);
  const word = core.length ? `"$(printf ${shellQuote(printfFormat(core))})"` : "";
  const newlines = bytes.length - end;
  return word + (newlines ? shellQuote("\n".repeat(newlines)) : "");
}

/** A curl command that sends `request` (wire format) again to `baseUrl` + path and query.
 * Throws an Error with a message to show when it cannot be written (a NUL byte outside the
 * body). */
export function toCurl(request, baseUrl) {
  const path = latin1(request.path);
  const target = request.query ? concat(path, latin1("?" + request.query)) : path;
  const options = ["-X", shellWord(latin1(request.method), "method")];
  if (target.some((byte) => GLOB_BYTES.has(byte))) options.push("--globoff");
  if (DOT_SEGMENT.test(request.path)) options.push("--path-as-is");
  const base = encoder.encode(baseUrl.replace(/\/+$/, ""));
  options.push(shellWord(concat(base, target), "URL"));
  for (const [name, value] of request.headers) {
    const lower = name.toLowerCase();
    if (lower === "host" || lower === "content-length") continue;
    // "Name:" would remove a header in curl; "Name;" sends it empty.
    const line = value ? `${name}: ${value}` : `${name};`;
    options.push("-H", shellWord(latin1(line), `header '${name}'`));
  }
  let pipe = "";
  if (request.size > 0) {
    const body = bodyBytes(request);
    const text = body.length <= INLINE_BODY_LIMIT ? visible(body, true) : null;
    if (text !== null) {
      options.push("--data-raw", shellQuote(text));
    } else {
      pipe = `printf ${shellQuote(printfFormat(body))} | `;
      options.push("--data-binary", "@-");
    }
  }
  return pipe + ["curl", ...options].join(" ");
}

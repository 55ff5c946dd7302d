// "Copy as curl": the rules of CapturedRequest.to_curl() (hookscope/_models.py), in JS.
// Every token is quoted for a POSIX shell, so that pasting the command runs curl and nothing
// else, whatever bytes the sender chose. tests/web checks the two agree.

import { bodyBytes } from "./body.js";

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Python's shlex.quote: bare when harmless, else in single quotes ('"'"' for a quote). */
export function shellQuote(text) {
  if (text === "") return "''";
  if (SAFE.test(text)) return text;
  return "'" + text.replaceAll("'", "'\"'\"'") + "'";
}

/** A curl command that sends `request` again to `baseUrl` + its path and query. */
export function toCurl(request, baseUrl) {
  const target = request.path + (request.query ? `?${request.query}` : "");
  const url = baseUrl.replace(/\/+$/, "") + target;
  let parts = ["curl", "-X", shellQuote(request.method), shellQuote(url)];
  for (const [name, value] of request.headers) {
    const lower = name.toLowerCase();
    if (lower === "host" || lower === "content-length") continue;
    parts.push("-H", shellQuote(`${name}: ${value}`));
  }
  if (request.size > 0) {
    // An argument cannot hold a NUL byte: such bodies go through printf like binary ones.
    if (request.body_encoding === "utf-8" && !request.body.includes("\0")) {
      parts.push("--data-binary", shellQuote(request.body));
    } else {
      // Octal escapes, which POSIX printf reads in every shell (hex ones only bash does).
      let octal = "";
      for (const byte of bodyBytes(request)) octal += "\\" + byte.toString(8).padStart(3, "0");
      parts = ["printf", shellQuote(octal), "|", ...parts, "--data-binary", "@-"];
    }
  }
  return parts.join(" ");
}

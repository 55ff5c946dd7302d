// The JSON API, with the credential in a header (never in a URL).

import { ROOT } from "./dom.js";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * `await api("api/bins/b_x", {token, method: "PATCH", body: {...}})`: the parsed JSON answer
 * (null for 204). Throws ApiError with the server's code and message, or status 0 when the
 * server could not be reached.
 */
export async function api(path, { token, method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers, cache: "no-store", credentials: "omit" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(new URL(path, ROOT), init);
  } catch (error) {
    throw new ApiError(0, "network", `the server did not answer (${error.message})`);
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const problem = (data && data.error) || {};
    throw new ApiError(
      response.status,
      problem.code || "http_" + response.status,
      problem.message || `the server answered ${response.status}`,
    );
  }
  return data;
}

/** The API path of a bin: `binPath("b_x", "/requests")`. */
export function binPath(binId, rest = "") {
  return `api/bins/${encodeURIComponent(binId)}${rest}`;
}

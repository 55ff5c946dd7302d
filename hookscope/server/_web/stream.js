// A bin's live stream over WebSocket, lossless across reconnects.
//
// The first connection asks for `tail=N`; every later one for `since=<last id>` (or
// `since=0-0` when the bin was empty), and anything at or below the last id is skipped, so
// a dropped connection or a server restart neither loses nor repeats a request. The token
// travels in the subprotocol offer: browsers cannot set headers on a WebSocket, and a URL
// ends up in server and proxy logs.

import { ApiError, api, binPath } from "./api.js";
import { ROOT } from "./dom.js";

export const SUBPROTOCOL = "hookscope.v1";
export const TOKEN_PREFIX = "hookscope.token.";
const BACKOFF_MS = [250, 500, 1000, 2000, 4000];
const MAX_BACKOFF_MS = 5000;

/** -1, 0 or 1: request ids are `<ms>-<seq>`, two unsigned integers of any size. */
export function compareIds(a, b) {
  const [aMs, aSeq] = a.split("-");
  const [bMs, bSeq] = b.split("-");
  return compareDigits(aMs, bMs) || compareDigits(aSeq, bSeq);
}

function compareDigits(a, b) {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * `new BinStream({binId, token, tail, onRequests, onState}).start()`.
 * `onRequests(list)` gets new requests, oldest first, never one twice.
 * `onState({state, detail, retryAt})`: state is one of connecting, replaying, live,
 * waiting (a retry is due at `retryAt`) or closed (for good: `detail` says why).
 */
export class BinStream {
  constructor({ binId, token, tail, onRequests, onState }) {
    Object.assign(this, { binId, token, tail, onRequests, onState });
    this.lastId = null;
    this.wasLive = false;
    this.replayed = 0; // requests of the first replay: `tail` of them means older ones exist
    this.failures = 0;
    this.socket = null;
    this.timer = null;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.connect();
    window.addEventListener("online", () => this.retryNow());
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close(1000, "page closed");
  }

  /** Skip the wait of a scheduled reconnect. */
  retryNow() {
    if (this.stopped || this.socket) return;
    clearTimeout(this.timer);
    this.connect();
  }

  query() {
    if (this.lastId) return `since=${encodeURIComponent(this.lastId)}`;
    // Live once with nothing received: the bin was empty, so all it holds now is new.
    return this.wasLive ? "since=0-0" : `tail=${this.tail}`;
  }

  connect() {
    const url = new URL(`${binPath(this.binId, "/ws")}?${this.query()}`, ROOT);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    this.setState("connecting");
    const socket = new WebSocket(url, [SUBPROTOCOL, TOKEN_PREFIX + this.token]);
    this.socket = socket;
    let opened = false;
    let refusal = null;
    socket.onopen = () => {
      opened = true;
      this.setState("replaying");
    };
    socket.onmessage = (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === "request") this.deliver([frame.request]);
      else if (frame.type === "batch") this.deliver(frame.requests);
      else if (frame.type === "live") {
        this.wasLive = true;
        this.failures = 0;
        this.setState("live");
      } else if (frame.type === "error") refusal = frame;
    };
    socket.onclose = (event) => {
      this.socket = null;
      if (this.stopped) return;
      if (event.code === 4404 || (refusal && refusal.code === "bin_deleted")) {
        this.close("This bin was deleted or has expired.");
      } else if (event.code === 1008 && refusal) {
        this.close(refusal.message);
      } else if (!opened) {
        this.diagnose();
      } else {
        this.retryLater(refusal ? refusal.message : "the connection closed");
      }
    };
  }

  deliver(requests) {
    const fresh = [];
    for (const request of requests) {
      if (this.lastId === null || compareIds(request.id, this.lastId) > 0) {
        fresh.push(request);
        this.lastId = request.id;
      }
    }
    if (!this.wasLive) this.replayed += fresh.length;
    if (fresh.length) this.onRequests(fresh);
  }

  /** A refused handshake says nothing to a page: ask the API why before retrying. */
  async diagnose() {
    try {
      await api(binPath(this.binId), { token: this.token });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        this.close("There is no such bin (deleted, expired, or a typo in the address).");
        return;
      }
      if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
        this.close("The token in this page's address does not open this bin.");
        return;
      }
      this.retryLater(error.message);
      return;
    }
    this.retryLater("the stream was refused");
  }

  retryLater(reason) {
    const base = BACKOFF_MS[this.failures] ?? MAX_BACKOFF_MS;
    this.failures += 1;
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.setState("waiting", reason, Date.now() + delay);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  close(detail) {
    this.stopped = true;
    this.setState("closed", detail);
  }

  setState(state, detail = "", retryAt = null) {
    this.onState({ state, detail, retryAt });
  }
}

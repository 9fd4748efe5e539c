// The embed's session: how the token arrives, where it is kept, how it is renewed.
//
// postMessage protocol (version 1). Every message is an object whose `type` starts with
// "signet:". The host page is the window that frames the embed (window.parent).
//
//   embed → host  {type: "signet:ready", version: 1}
//                 Sent once the page has loaded, to targetOrigin "*" (it carries nothing).
//   host → embed  {type: "signet:token", token: "sess_…", expires_at?: "…", theme?: {…}}
//                 Post it with targetOrigin = the portal's origin. Accepted only from the
//                 frame's parent and only when that origin is one the session allows
//                 (the frame ticket's origins, the same that CSP frame-ancestors lists).
//   embed → host  {type: "signet:token-request", reason: "expiring" | "unauthorized"}
//                 Sent to the host's origin only, about a minute before the token expires
//                 (or when the API answers 401). Answer with a fresh "signet:token".
//   host → embed  {type: "signet:theme", theme: {mode, brand, brand_text, font, radius}}
//   host → embed  {type: "signet:navigate", route: "/events/evt_…"}
//   embed → host  {type: "signet:resize", height: <px>}   so the host can size the frame
//   embed → host  {type: "signet:route", route: "/deliveries"}  after each navigation
//
// Fallback without postMessage: /embed?frame=…#token=sess_…&route=/events/evt_… — the
// fragment never reaches a server; the embed reads it and removes it from the address.
//
// The token lives in memory only (no storage, no cookie); a reload asks the host again.

const PROTOCOL_VERSION = 1;
const REFRESH_LEAD_MS = 60_000;
const REFRESH_WAIT_MS = 15_000;

export class Session extends EventTarget {
  constructor({ allowedOrigins, win = window }) {
    super();
    this.allowedOrigins = allowedOrigins;
    this.win = win;
    this.framed = win.parent !== win;
    this.hostOrigin = null;
    this.tokenValue = null;
    this.expiresAt = null;
    this.refreshTimer = null;
    this.waiters = [];
    this.refreshing = null;
    this.source = null; // "message" | "fragment"
  }

  /** Start listening; returns the route a fragment asked for, if any. */
  start() {
    this.win.addEventListener("message", (event) => this.onMessage(event));
    const route = this.readFragment();
    if (this.framed) {
      // Known before any message in Chromium and Safari; checked against the allow-list.
      const ancestor = this.win.location.ancestorOrigins?.[0];
      if (ancestor && this.allowedOrigins.includes(ancestor)) this.hostOrigin = ancestor;
      this.win.parent.postMessage({ type: "signet:ready", version: PROTOCOL_VERSION }, "*");
    }
    return route;
  }

  readFragment() {
    const hash = this.win.location.hash;
    if (!hash.startsWith("#token=")) return null;
    const params = new URLSearchParams(hash.slice(1));
    const token = params.get("token");
    const asked = params.get("route") ?? "";
    const route = /^\/[\w/-]*$/.test(asked) ? asked : "/destinations";
    // Out of the address bar and the history before anything else runs.
    const { pathname, search } = this.win.location;
    this.win.history.replaceState(null, "", `${pathname}${search}#${route}`);
    if (token) {
      this.source = "fragment";
      this.accept(token, params.get("expires_at"));
    }
    return route;
  }

  onMessage(event) {
    const data = event.data;
    if (!data || typeof data !== "object" || typeof data.type !== "string") return;
    if (!data.type.startsWith("signet:")) return;
    if (!this.framed || event.source !== this.win.parent) return;
    if (!this.allowedOrigins.includes(event.origin)) {
      this.dispatchEvent(new CustomEvent("refused", { detail: { origin: event.origin } }));
      return;
    }
    this.hostOrigin = event.origin;
    switch (data.type) {
      case "signet:token":
        if (typeof data.token === "string" && data.token.startsWith("sess_")) {
          this.source = "message";
          if (data.theme) this.dispatchEvent(new CustomEvent("theme", { detail: data.theme }));
          this.accept(data.token, data.expires_at);
        }
        break;
      case "signet:theme":
        this.dispatchEvent(new CustomEvent("theme", { detail: data.theme }));
        break;
      case "signet:navigate":
        if (typeof data.route === "string" && data.route.startsWith("/")) {
          this.dispatchEvent(new CustomEvent("navigate", { detail: data.route }));
        }
        break;
      default:
        break;
    }
  }

  accept(token, expiresAt) {
    const changed = token !== this.tokenValue;
    this.tokenValue = token;
    this.setExpiry(expiresAt);
    this.refreshing = null;
    for (const resolve of this.waiters.splice(0)) resolve(token);
    if (changed) this.dispatchEvent(new CustomEvent("token"));
  }

  /** When the token expires (an RFC 3339 string or ms); schedules the renewal. */
  setExpiry(expiresAt) {
    if (!expiresAt) return;
    const at = typeof expiresAt === "number" ? expiresAt : Date.parse(expiresAt);
    if (Number.isNaN(at)) return;
    this.expiresAt = at;
    clearTimeout(this.refreshTimer);
    const remaining = at - Date.now();
    // A minute ahead, or at 80 % of a shorter lifetime.
    const lead = Math.min(REFRESH_LEAD_MS, Math.max(remaining * 0.2, 0));
    this.refreshTimer = setTimeout(() => this.requestToken("expiring"), Math.max(remaining - lead, 0));
  }

  get canRefresh() {
    return this.framed && this.hostOrigin !== null;
  }

  /** The current token; waits for the first one. */
  token() {
    if (this.tokenValue) return Promise.resolve(this.tokenValue);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * Ask the host for a fresh token; resolves with it, or with null when the host cannot
   * be asked (fragment fallback) or does not answer in time.
   */
  requestToken(reason) {
    if (!this.canRefresh) {
      this.dispatchEvent(new CustomEvent("expiring", { detail: { reason } }));
      return Promise.resolve(null);
    }
    if (this.refreshing) return this.refreshing;
    const previous = this.tokenValue;
    this.refreshing = new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.refreshing = null;
        this.dispatchEvent(new CustomEvent("expiring", { detail: { reason } }));
        resolve(null);
      }, REFRESH_WAIT_MS);
      const onToken = () => {
        if (this.tokenValue === previous) return;
        clearTimeout(timer);
        this.removeEventListener("token", onToken);
        resolve(this.tokenValue);
      };
      this.addEventListener("token", onToken);
    });
    this.post({ type: "signet:token-request", reason });
    return this.refreshing;
  }

  /** A message to the host, only ever to its verified origin. */
  post(message) {
    if (this.canRefresh) this.win.parent.postMessage(message, this.hostOrigin);
  }
}

// A webhook destination's extra request headers and client certificate (mutual TLS), as
// the API shows them: sensitive header values as "…1234", the certificate by its subject,
// fingerprint and expiry; one within CERTIFICATE_WARNING_DAYS of it (or past it) is flagged.
// The page shows what is in force; admins change both in the settings form
// (request-extras-form.js) or through the API (docs/delivery.md).

import { badge, h, timeEl } from "../dom.js";
import { section } from "./common.js";

// services/portal/headers_tls.py CERTIFICATE_WARNING_DAYS
export const CERTIFICATE_WARNING_DAYS = 14;
const DAY_MS = 24 * 3600 * 1000;

/** "expired", "expiring" (within the warning window) or "ok". */
export function certificateState(notAfter, now = Date.now()) {
  const left = new Date(notAfter).getTime() - now;
  if (left <= 0) return "expired";
  return left <= CERTIFICATE_WARNING_DAYS * DAY_MS ? "expiring" : "ok";
}

export function requestSection(destination, { canWrite = false } = {}) {
  const headers = Object.entries(destination.headers ?? {});
  const sensitive = new Set((destination.sensitive_headers ?? []).map((name) => name.toLowerCase()));
  const tls = destination.tls;
  if (!headers.length && !tls) return null;
  const parts = [];
  if (headers.length) {
    parts.push(h("table", { class: "data headers-sent" },
      h("caption", {}, "Headers sent with every request"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Header"), h("th", { scope: "col" }, "Value"))),
      h("tbody", {}, headers.map(([name, value]) => h("tr", {},
        h("td", {}, h("code", {}, name)),
        h("td", {}, h("code", {}, value), sensitive.has(name.toLowerCase()) ? " (sensitive: sealed, only its end shown)" : ""))))));
  }
  if (tls) {
    const state = certificateState(tls.client_certificate_not_after);
    const replaceIt = canWrite ? "Replace it in the settings above" : "An admin can replace it";
    const days = Math.floor((new Date(tls.client_certificate_not_after).getTime() - Date.now()) / DAY_MS);
    const warning = state === "ok" ? null : h("p", { class: "cert-warning", role: "status" },
      badge(state === "expired" ? "exhausted" : "failed", state === "expired" ? "Expired" : "Expires soon"),
      state === "expired"
        ? ` The client certificate has expired: receivers that require it refuse every delivery. ${replaceIt}.`
        : ` The client certificate expires in ${days} day${days === 1 ? "" : "s"}. ${replaceIt} before it does.`);
    parts.push(h("dl", { class: "facts client-tls" },
      h("dt", {}, "Client certificate"), h("dd", {}, tls.client_certificate_subject),
      h("dt", {}, "SHA-256"), h("dd", {}, h("code", {}, tls.client_certificate_sha256)),
      h("dt", {}, "Expires"), h("dd", {}, timeEl(tls.client_certificate_not_after)),
      h("dt", {}, "Receiver's CA"), h("dd", {}, tls.ca_certificate ? "pinned (a private CA)" : "the usual public roots")),
    warning);
  }
  return section("Request headers and client certificate", parts);
}

// Pieces every screen uses: headings, loading and error states, the confirm dialog,
// the destinations lookup, and labels for signature schemes.

import { h, replace } from "../dom.js";

export const SCHEMES = [
  ["standard-webhooks", "Standard Webhooks (HMAC-SHA256)", "whsec_ followed by base64 of 24–64 random bytes"],
  ["standard-webhooks-ed25519", "Standard Webhooks (Ed25519 public key)", "optional: an existing whsk_ private key; usually let Signet generate the key pair"],
  ["hmac-sha256", "HMAC-SHA256, Stripe-style (signet-signature)", "any text of 16–512 characters"],
  ["hmac-sha512", "HMAC-SHA512, Stripe-style (signet-signature)", "any text of 16–512 characters"],
  ["github", "GitHub-compatible (x-hub-signature-256)", "any text of 16–512 characters"],
];

export function schemeLabel(value) {
  return SCHEMES.find(([name]) => name === value)?.[1] ?? value ?? "—";
}

/** The screen's <h1> (focused after navigation so screen readers announce it). */
export function pageHeader(title, { subtitle, actions = [], back } = {}) {
  return h("div", { class: "page-header" },
    back ? h("a", { class: "back", href: back[0] }, `← ${back[1]}`) : null,
    h("div", { class: "page-title-row" },
      h("h1", { tabindex: "-1" }, title),
      actions.length ? h("div", { class: "actions" }, actions) : null),
    subtitle ? h("p", { class: "subtitle" }, subtitle) : null);
}

export function loading(label = "Loading…") {
  return h("p", { class: "loading", role: "status" }, label);
}

export function errorPanel(error) {
  const status = error?.status;
  const title = status === 404 ? "Not found" : status === 403 ? "Not allowed" : "Something went wrong";
  return h("div", { class: "panel error-panel", role: "alert" },
    h("h2", {}, title),
    h("p", {}, error?.message ?? String(error)));
}

export function section(title, ...children) {
  const id = `sec-${title.toLowerCase().replace(/[^a-z]+/g, "-")}`;
  return h("section", { class: "panel", "aria-labelledby": id }, h("h2", { id }, title), children);
}

/** Resolves true when the user confirms; the dialog is modal, Escape cancels. */
export function confirmDialog({ title, body, confirm = "Confirm", danger = false, anchor = null }) {
  return new Promise((resolve) => {
    const cancelButton = h("button", { type: "button", class: "secondary", value: "cancel" }, "Cancel");
    const confirmButton = h("button", { type: "button", class: danger ? "danger" : "primary", value: "confirm" }, confirm);
    const titleId = "confirm-title";
    const dialog = h("dialog", { class: "confirm", "aria-labelledby": titleId },
      h("h2", { id: titleId }, title),
      h("p", {}, body),
      h("div", { class: "actions" }, cancelButton, confirmButton));
    const done = (result) => {
      dialog.close();
      dialog.remove();
      resolve(result);
    };
    cancelButton.addEventListener("click", () => done(false));
    confirmButton.addEventListener("click", () => done(true));
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      done(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    if (anchor) {
      // The host sizes this frame to its content, so the frame's middle may be far off
      // screen: open beside the button that asked, which the user is looking at.
      const top = anchor.getBoundingClientRect().top + window.scrollY;
      dialog.style.position = "absolute";
      dialog.style.margin = "0 auto";
      dialog.style.top = `${Math.max(16, top - dialog.offsetHeight / 2)}px`;
    }
    cancelButton.focus(); // the safe choice has the focus
  });
}

/** Destinations by id, fetched once per screen. */
export async function destinationsById(api) {
  const answer = await api.get("/v1/workspace/destinations");
  return new Map((answer?.data ?? []).map((d) => [d.id, d]));
}

export function render(main, ...children) {
  replace(main, ...children);
  main.removeAttribute("aria-busy");
  main.querySelector("h1")?.focus({ preventScroll: true });
}

/** Poll `fn` every `ms` while the page is visible; returns a stop function. */
export function every(ms, fn) {
  let stopped = false;
  let timer = null;
  const tick = async () => {
    if (stopped) return;
    if (document.visibilityState === "visible") {
      try {
        await fn();
      } catch {
        // The next tick tries again; the screen keeps what it showed.
      }
    }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  timer = setTimeout(tick, ms);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

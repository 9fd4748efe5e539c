// One destination: its settings, signing secret (rotation), test event, recovery of failed
// deliveries, enable/disable and delete. Viewers see the same facts without the controls.

import { ApiError, newIdempotencyKey } from "../api.js";
import {
  badge, field, formatLatency, h, inputToIso, localInputValue, secretBox, showFieldErrors, timeEl,
} from "../dom.js";
import { confirmDialog, pageHeader, render, schemeLabel, section } from "./common.js";
import {
  listOf, ORDERING_HINT, orderingSelect, RENAMABLE_SCHEMES, SIGNATURE_HEADER_HINT,
} from "./destinations.js";
import { healthSection } from "./health.js";
import { requestSection } from "./request-extras.js";
import { headersEditor, tlsEditor } from "./request-extras-form.js";
import { eventTypePicker, loadCatalog, pickedEventTypes } from "./event-types.js";

const OVERLAPS = [
  [0, "Immediately — the old secret stops signing now"],
  [3600, "After 1 hour"],
  [86400, "After 24 hours (recommended)"],
  [604800, "After 7 days"],
];

export async function destinationDetail(ctx, [id]) {
  const path = `/v1/workspace/destinations/${encodeURIComponent(id)}`;
  const [destination, catalog] = await Promise.all([ctx.api.get(path), loadCatalog(ctx.api)]);
  const reload = () => destinationDetail(ctx, [id]);
  const isWebhook = destination.type !== "slack";
  const back = ["#/destinations", "Destinations"];

  const actions = [];
  if (ctx.canWrite) {
    actions.push(h("button", { type: "button", class: "secondary", onclick: async () => {
      await ctx.api.patch(path, { enabled: !destination.enabled });
      ctx.toast(destination.enabled ? "Destination disabled" : "Destination enabled");
      await reload();
    } }, destination.enabled ? "Disable" : "Enable"));
    actions.push(h("button", { type: "button", class: "danger", onclick: async (event) => {
      const sure = await confirmDialog({
        anchor: event.currentTarget,
        title: `Delete “${destination.name}”?`,
        body: "Deliveries to it stop at once and its secret is destroyed. The delivery log keeps its history. This cannot be undone.",
        confirm: "Delete destination",
        danger: true,
      });
      if (!sure) return;
      await ctx.api.del(path);
      ctx.toast(`Destination “${destination.name}” deleted`);
      ctx.navigate("/destinations");
    } }, "Delete"));
  }

  const status = destination.enabled ? badge("enabled") : badge("disabled");
  const header = pageHeader(destination.name, {
    back,
    actions,
    subtitle: h("span", {}, isWebhook ? "Webhook " : "Slack alert channel ", status,
      destination.disabled_reason ? ` — ${destination.disabled_reason}` : ""),
  });
  const revealed = ctx.flash.get(destination.id);
  ctx.flash.delete(destination.id);
  render(ctx.main, header,
    revealed ? revealedPanel(revealed, destination) : null,
    isWebhook ? healthSection(ctx, destination.id) : null,
    settingsSection(ctx, destination, path, reload, catalog),
    isWebhook ? requestSection(destination, { canWrite: ctx.canWrite }) : null,
    isWebhook ? secretSection(ctx, destination, path, reload) : null,
    isWebhook && ctx.canWrite ? testSection(ctx, path, catalog) : null,
    isWebhook && ctx.canWrite ? recoverSection(ctx, path) : null,
    h("p", {}, h("a", { href: `#/deliveries?destination_id=${encodeURIComponent(destination.id)}` },
      "See this destination's deliveries →")));
  if (revealed) ctx.main.querySelector(".reveal h2")?.focus();
}

function revealedPanel(revealed, destination) {
  const title = revealed.kind === "rotated" ? "New signing secret" : "Signing secret";
  const children = [];
  if (revealed.secret) {
    children.push(secretBox("Secret", revealed.secret, {
      note: "Copy it into your receiver now: it is shown this once and never again.",
    }));
  }
  if (revealed.public_key) {
    children.push(secretBox("Public key", revealed.public_key, {
      note: "Verify signatures with this Ed25519 public key; Signet keeps the private half.",
    }));
  }
  return h("section", { class: "panel reveal", "aria-labelledby": "reveal-title" },
    h("h2", { id: "reveal-title", tabindex: "-1" }, `${title} for “${destination.name}”`), children);
}

function facts(rows) {
  return h("dl", { class: "facts" }, rows.filter(Boolean).map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

function settingsSection(ctx, destination, path, reload, catalog) {
  const isWebhook = destination.type !== "slack";
  const readOnly = facts([
    ["Name", destination.name],
    isWebhook ? ["Endpoint URL", h("code", {}, destination.url)] : ["Slack webhook", "set (never shown)"],
    isWebhook ? ["Event types", (destination.event_types ?? []).join(", ")] : null,
    isWebhook ? ["Timeout", destination.timeout_seconds ? `${destination.timeout_seconds} s` : "platform default"] : null,
    isWebhook ? ["Rate limit", destination.rate_limit_per_second ? `${destination.rate_limit_per_second} per second` : "unlimited"] : null,
    isWebhook ? ["Maximum attempts", destination.retry_policy?.max_attempts ?? "platform default"] : null,
    isWebhook ? ["Ordering", orderingFact(ctx, destination)] : null,
    ["Created", timeEl(destination.created_at)],
    ["Updated", timeEl(destination.updated_at)],
  ]);
  if (!ctx.canWrite) return section("Settings", readOnly);

  const headers = isWebhook ? headersEditor(destination) : null;
  const tls = isWebhook ? tlsEditor({
    current: destination.tls ?? null,
    collapsed: true,
    onRemove: async (event) => {
      const sure = await confirmDialog({
        anchor: event.currentTarget,
        title: "Remove the client certificate?",
        body: "Signet stops presenting it at once: a receiver that requires it refuses every delivery until a new one is set.",
        confirm: "Remove certificate",
        danger: true,
      });
      if (!sure) return;
      await ctx.api.patch(path, { tls: null });
      ctx.toast("Client certificate removed");
      await reload();
    },
  }) : null;
  const renamable = isWebhook && RENAMABLE_SCHEMES.includes(destination.signature_scheme);
  const text = (name, value, attrs = {}) => h("input", { name, value: value ?? "", autocomplete: "off", spellcheck: "false", ...attrs });
  const form = h("form", { class: "form", novalidate: true },
    field("Name", text("name", destination.name, { maxlength: "100" }), { required: true }),
    isWebhook ? field("Endpoint URL", text("url", destination.url, { type: "url" }), { required: true })
      : field("New Slack incoming-webhook URL", text("webhook_url", "", { type: "url", placeholder: "leave empty to keep the current one" })),
    isWebhook ? eventTypePicker(catalog, destination.event_types ?? []) : null,
    isWebhook ? field("Timeout (seconds)", text("timeout_seconds", destination.timeout_seconds, { type: "number", min: "1", max: "30" })) : null,
    isWebhook ? field("Ordering", orderingSelect(destination.ordering ?? "none"), { hint: ORDERING_HINT }) : null,
    renamable ? field("Signature header", text("signature_header", destination.signature_header, { maxlength: "64", placeholder: "the scheme's own" }), { hint: SIGNATURE_HEADER_HINT }) : null,
    isWebhook ? field("Rate limit (requests per second)", text("rate_limit_per_second", destination.rate_limit_per_second, { type: "number", min: "0.001", max: "10000", step: "any", placeholder: "unlimited" }), { hint: "Empty: no limit." }) : null,
    headers?.element, tls?.element,
    h("div", { class: "form-errors", role: "alert" }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save changes")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = (name) => form.elements[name]?.value?.trim() ?? "";
    const body = { name: value("name") };
    if (isWebhook) {
      body.url = value("url");
      body.event_types = pickedEventTypes(form, listOf);
      body.timeout_seconds = value("timeout_seconds") ? Number(value("timeout_seconds")) : null;
      body.rate_limit_per_second = value("rate_limit_per_second") ? Number(value("rate_limit_per_second")) : null;
      body.ordering = value("ordering") || "none";
      if (renamable) body.signature_header = value("signature_header") || null;
      const extras = headers.read();
      if (extras.errors.length) {
        showFieldErrors(form, extras.errors);
        return;
      }
      if (headers.changed()) { // untouched, the stored headers stand as they are
        body.headers = extras.headers;
        body.sensitive_headers = extras.sensitive_headers;
      }
      const clientTls = tls.read();
      if (clientTls) body.tls = clientTls;
    } else if (value("webhook_url")) {
      body.webhook_url = value("webhook_url");
    }
    form.querySelector(".form-errors").replaceChildren();
    try {
      await ctx.api.patch(path, body);
      ctx.toast("Changes saved");
      await reload();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      form.querySelector(".form-errors").textContent = error.message;
      showFieldErrors(form, error.fieldErrors);
    }
  });
  return section("Settings", form, h("details", {}, h("summary", {}, "Details"), readOnly));
}

function secretSection(ctx, destination, path, reload) {
  const ed25519 = destination.signature_scheme === "standard-webhooks-ed25519";
  const primaryId = [...(destination.secrets ?? [])].sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)))[0]?.id;
  const rows = (destination.secrets ?? []).map((s) => h("tr", {},
    h("td", {}, s.public_key ? h("code", { class: "wrap" }, s.public_key) : h("code", {}, s.hint)),
    h("td", {}, timeEl(s.created_at)),
    h("td", {}, s.id === primaryId ? badge("enabled", "Primary") : s.expires_at ? h("span", {}, "Signs until ", timeEl(s.expires_at)) : "—")));
  const table = h("div", { class: "table-wrap" }, h("table", { class: "data" },
    h("caption", { class: "visually-hidden" }, "Signing secrets"),
    h("thead", {}, h("tr", {}, [ed25519 ? "Public key" : "Secret", "Created", "Status"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows)));
  const intro = h("p", {}, "Scheme: ", h("strong", {}, schemeLabel(destination.signature_scheme)), ". ",
    destination.signature_header ? ["Sent in the header ", h("code", {}, destination.signature_header), ". "] : null,
    ed25519 ? "Receivers verify with the public key; Signet keeps the private key sealed."
      : "Secrets are sealed at rest; only their last characters are ever shown again.");
  if (!ctx.canWrite) return section("Signing secret", intro, table);

  const ownInput = h("input", { name: "secret", type: "password", autocomplete: "off", disabled: true, id: "rotate-own" });
  const form = h("form", { class: "form", novalidate: true, "aria-label": "Rotate the signing secret" },
    h("fieldset", { class: "choices" }, h("legend", {}, "New secret"),
      h("label", { class: "choice" }, h("input", { type: "radio", name: "mode", value: "generate", checked: true }), ed25519 ? " Generate a new key pair" : " Generate one for me"),
      h("label", { class: "choice" }, h("input", { type: "radio", name: "mode", value: "own" }), " Use my own"),
      h("div", { class: "field" }, h("label", { for: "rotate-own" }, ed25519 ? "Your whsk_ private key" : "Your new secret"), ownInput)),
    field("Keep signing with the current secret", h("select", { name: "overlap_seconds" },
      OVERLAPS.map(([seconds, label]) => h("option", { value: String(seconds), selected: seconds === 86400 }, label))),
    { hint: "During the overlap every request carries both signatures, so receivers can switch without downtime." }),
    h("div", { class: "form-errors", role: "alert" }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Rotate secret")));
  form.addEventListener("change", () => {
    ownInput.disabled = form.elements.mode.value !== "own";
  });
  // Pressed again after a lost answer, the same rotation carries the same key and rotates
  // once; after a success the page reloads, and a new form rotates anew.
  const rotateKeys = new Map();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { overlap_seconds: Number(form.elements.overlap_seconds.value) };
    if (form.elements.mode.value === "own") body.secret = ownInput.value;
    form.querySelector(".form-errors").replaceChildren();
    const sent = JSON.stringify(body);
    if (!rotateKeys.has(sent)) rotateKeys.set(sent, newIdempotencyKey());
    try {
      const rotated = await ctx.api.post(`${path}/rotate-secret`, body, { idempotencyKey: rotateKeys.get(sent) });
      if (rotated.secret || rotated.public_key) {
        ctx.flash.set(destination.id, { kind: "rotated", secret: rotated.secret, public_key: rotated.public_key });
      }
      ctx.toast("Secret rotated");
      await reload();
    } catch (error) {
      if (error instanceof TypeError) {  // fetch's network failure: no answer came
        form.querySelector(".form-errors").textContent = "Signet did not answer. Rotate again: it rotates only once.";
        return;
      }
      if (!(error instanceof ApiError)) throw error;
      form.querySelector(".form-errors").textContent = error.message;
      showFieldErrors(form, error.fieldErrors);
    }
  });
  return section("Signing secret", intro, table, h("h3", {}, "Rotate"), form);
}

/** The answer of POST …/test: the attempt's result, or status "pending" (202) if not in yet. */
export function testResult(answer) {
  const a = answer ?? {};
  return {
    status: a.status ?? "pending",
    httpStatus: a.http_status ?? null,
    latencyMs: a.latency_ms ?? null,
    excerpt: a.response_excerpt ?? null,
    error: a.error ?? null,
    eventId: a.event_id ?? null,
  };
}

const TEST_VERDICTS = {
  delivered: ["delivered", "Your endpoint accepted it"],
  pending: ["pending", "Sent — no answer yet; it will appear in the delivery log"],
};

function testSection(ctx, path, catalog = []) {
  const result = h("div", { class: "test-result", role: "status", "aria-live": "polite" });
  // A cataloged type with an example can be sent instead of signet.test.
  const withExample = catalog.filter((type) => type.example);
  const kind = withExample.length ? h("select", { name: "test_event_type" },
    h("option", { value: "" }, "signet.test"),
    withExample.map((type) => h("option", { value: type.name }, `${type.name} (its example)`))) : null;
  const button = h("button", { type: "button", class: "primary", onclick: async () => {
    button.disabled = true;
    const eventType = kind?.value || "";
    result.replaceChildren(h("p", {}, `Sending a signed ${eventType || "signet.test"} event…`));
    try {
      const r = testResult(await ctx.api.post(`${path}/test`, eventType ? { event_type: eventType } : {}));
      const [status, verdict] = TEST_VERDICTS[r.status] ?? [r.status, "Your endpoint did not accept it"];
      result.replaceChildren(h("div", { class: "panel inset" },
        h("p", {}, badge(status, verdict)),
        facts([
          ["HTTP status", r.httpStatus ?? "no answer"],
          ["Latency", formatLatency(r.latencyMs)],
          r.error ? ["Error", r.error] : null,
          ["Response", r.excerpt ? h("pre", { class: "excerpt" }, r.excerpt) : "(empty)"],
          r.eventId ? ["Event", h("a", { href: `#/events/${encodeURIComponent(r.eventId)}` }, h("code", {}, r.eventId))] : null,
        ])));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      result.replaceChildren(h("p", { class: "field-error" }, error.message));
    } finally {
      button.disabled = false;
    }
  } }, "Send test event");
  return section("Send a test event",
    h("p", {}, "Delivers a signed ", h("code", {}, "signet.test"), " event now and shows your receiver's answer.",
      kind ? " Or pick an event type to send its example." : ""),
    kind ? field("Event", kind) : null,
    button, result);
}

function recoverSection(ctx, path) {
  const since = h("input", { type: "datetime-local", name: "since", value: localInputValue(new Date(Date.now() - 24 * 3600_000)) });
  const until = h("input", { type: "datetime-local", name: "until" });
  const result = h("div", { role: "status", "aria-live": "polite" });
  const form = h("form", { class: "form inline", novalidate: true, "aria-label": "Recover failed deliveries" },
    field("Failed since", since, { required: true }),
    field("Until (optional)", until),
    h("div", { class: "form-errors", role: "alert" }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "secondary" }, "Replay failed deliveries")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { since: inputToIso(since.value) };
    if (until.value) body.until = inputToIso(until.value);
    form.querySelector(".form-errors").replaceChildren();
    try {
      const answer = await ctx.api.post(`${path}/recover`, body);
      const count = answer?.replayed ?? 0;
      const parts = [`${count} failed ${count === 1 ? "delivery" : "deliveries"} queued for replay.`];
      if (answer?.truncated && answer?.next_since) {
        // Bounded per call: continue from where this one stopped.
        since.value = localInputValue(new Date(answer.next_since));
        parts.push(" More remain: press the button again to continue.");
      }
      if (answer?.skipped_without_body) parts.push(` ${answer.skipped_without_body} skipped (body not logged).`);
      result.replaceChildren(h("p", {}, parts.join("")));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      form.querySelector(".form-errors").textContent = error.message;
      showFieldErrors(form, error.fieldErrors);
    }
  });
  return section("Recover failed deliveries",
    h("p", {}, "Replays every delivery to this destination that failed or gave up in the time range."), form, result);
}

/** "In order (FIFO)" and, once GET …/line answers, how many wait behind a stalled head. */
function orderingFact(ctx, destination) {
  if (destination.ordering !== "fifo") return "Concurrent";
  const line = h("span", { class: "line-status", "aria-live": "polite" });
  ctx.api.get(`/v1/workspace/destinations/${encodeURIComponent(destination.id)}/line`).then((answer) => {
    if (answer.waiting > 0) {
      line.replaceChildren(" — ", h("strong", {}, `${answer.waiting} waiting`), " behind a delivery being retried",
        answer.head_since ? [" since ", timeEl(answer.head_since)] : "");
    }
  }, () => {});
  return h("span", {}, "In order (FIFO)", line);
}

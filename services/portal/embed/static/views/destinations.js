// Destinations: the list, and the form that creates a webhook or a Slack alert channel.

import { ApiError, newIdempotencyKey } from "../api.js";
import { badge, field, h, showFieldErrors } from "../dom.js";
import { SCHEMES, errorPanel, loading, pageHeader, render, schemeLabel } from "./common.js";
import { healthCell } from "./health.js";
import { eventTypePicker, loadCatalog, pickedEventTypes } from "./event-types.js";
import { headersEditor, tlsEditor } from "./request-extras-form.js";

export async function destinationsList(ctx) {
  render(ctx.main, pageHeader("Destinations"), loading());
  const answer = await ctx.api.get("/v1/workspace/destinations");
  const destinations = answer?.data ?? [];
  const create = ctx.canWrite
    ? h("a", { class: "button primary", href: "#/destinations/new" }, "New destination")
    : null;
  const header = pageHeader("Destinations", {
    subtitle: "Where this workspace's events are delivered, each signed with its own secret.",
    actions: [create],
  });
  if (destinations.length === 0) {
    render(ctx.main, header, h("div", { class: "panel empty" },
      h("p", {}, "No destinations yet."),
      ctx.canWrite ? h("p", {}, "Add a webhook URL to start receiving signed events.") : null));
    return;
  }
  const rows = destinations.map((d) => h("tr", { dataset: { destination: d.id } },
    h("th", { scope: "row" }, h("a", { href: `#/destinations/${d.id}` }, d.name)),
    h("td", {}, d.type === "slack" ? "Slack alerts" : "Webhook"),
    h("td", { class: "url" }, d.type === "slack" ? "Slack incoming webhook" : d.url),
    h("td", {}, d.type === "slack" ? "Failed deliveries" : (d.event_types ?? []).join(", ")),
    h("td", {}, d.type === "slack" ? "—" : schemeLabel(d.signature_scheme)),
    h("td", {}, d.enabled ? badge("enabled") : badge("disabled")),
    healthCell(ctx.api, d)));
  render(ctx.main, header, h("div", { class: "table-wrap" }, h("table", { class: "data" },
    h("caption", { class: "visually-hidden" }, "Destinations"),
    h("thead", {}, h("tr", {},
      ["Name", "Type", "Endpoint", "Events", "Signature", "Status", "Last 24 h"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows))));
}

function input(name, attrs = {}) {
  return h("input", { name, autocomplete: "off", spellcheck: "false", ...attrs });
}

function radio(name, value, label, checked) {
  return h("label", { class: "choice" }, h("input", { type: "radio", name, value, checked }), " ", label);
}

/** "order.*, invoice.paid" (or "5, 30") as a list of its comma- or space-separated items. */
export function listOf(text) {
  return String(text).split(/[,\s]+/).map((s) => s.trim()).filter(Boolean);
}

export async function newDestination(ctx) {
  const back = ["#/destinations", "Destinations"];
  if (!ctx.canWrite) {
    render(ctx.main, pageHeader("New destination", { back }),
      errorPanel(new ApiError(403, { detail: "This session can view the workspace but not change it." })));
    return;
  }
  const catalog = await loadCatalog(ctx.api);
  const headers = headersEditor();
  const tls = tlsEditor();
  const scheme = h("select", { name: "signature_scheme" },
    SCHEMES.map(([value, label]) => h("option", { value }, label)));
  const secretInput = input("secret", { type: "password", minlength: "16", disabled: true });
  const secretHint = h("small", { class: "hint", id: "secret-rule" }, SCHEMES[0][2]);
  secretInput.setAttribute("aria-describedby", secretHint.id);
  const secretChoice = h("fieldset", { class: "choices", dataset: { field: "secret" } },
    h("legend", {}, "Signing secret"),
    radio("secret_mode", "generate", "Generate one for me (shown once)", true),
    radio("secret_mode", "own", "Use my own secret", false),
    h("div", { class: "field", dataset: { field: "secret" } },
      h("label", { for: "own-secret" }, "Your secret"), secretInput, secretHint));
  secretInput.id = "own-secret";
  const signatureHeader = field("Signature header", input("signature_header", { maxlength: "64", placeholder: "the scheme's own" }),
    { hint: SIGNATURE_HEADER_HINT });

  const webhookFields = h("div", { class: "type-fields", dataset: { for: "webhook" } },
    field("Endpoint URL", input("url", { type: "url", placeholder: "https://example.com/webhooks", inputmode: "url" }), { required: true }),
    eventTypePicker(catalog, catalog.length ? [] : ["*"]),
    field("Signature scheme", scheme),
    signatureHeader,
    secretChoice,
    h("details", { class: "advanced" }, h("summary", {}, "Delivery options"),
      field("Timeout (seconds)", input("timeout_seconds", { type: "number", min: "1", max: "30", step: "1", placeholder: "15" })),
      field("Rate limit (requests per second)", input("rate_limit_per_second", { type: "number", min: "0.001", max: "10000", step: "any", placeholder: "unlimited" }), { hint: "Requests are spaced out to stay under it (0.5 = 30 a minute); deliveries over it wait, none is dropped." }),
      field("Ordering", orderingSelect("none"), { hint: ORDERING_HINT }),
      field("Maximum attempts", input("max_attempts", { type: "number", min: "1", max: "50", step: "1", placeholder: "platform default" })),
      field("Retry delays (seconds)", input("delays_seconds", { placeholder: "platform default, e.g. 5, 30, 120" }), { hint: "Waits between attempts; the last one repeats." })),
    h("details", { class: "advanced request-extras" }, h("summary", {}, "Custom headers and client certificate"),
      headers.element, tls.element));
  const slackFields = h("div", { class: "type-fields", dataset: { for: "slack" }, hidden: true },
    h("p", { class: "hint" }, "Signet posts to this Slack channel when a delivery has exhausted its retries."),
    field("Slack incoming-webhook URL", input("webhook_url", { type: "url", placeholder: "https://hooks.slack.com/services/…" }), { required: false }));

  const form = h("form", { class: "panel form", novalidate: true, "aria-labelledby": "new-dest-title" },
    h("fieldset", { class: "choices" }, h("legend", {}, "Type"),
      radio("type", "webhook", "Webhook", true),
      radio("type", "slack", "Slack alert channel", false)),
    field("Name", input("name", { maxlength: "100", placeholder: "Order events" }), { required: true }),
    webhookFields, slackFields,
    h("label", { class: "choice" }, h("input", { type: "checkbox", name: "enabled", checked: true }), " Enabled"),
    h("div", { class: "form-errors", role: "alert" }),
    h("div", { class: "actions" },
      h("a", { class: "button secondary", href: "#/destinations" }, "Cancel"),
      h("button", { type: "submit", class: "primary" }, "Create destination")));

  const sync = () => {
    const type = form.elements.type.value;
    webhookFields.hidden = type !== "webhook";
    slackFields.hidden = type !== "slack";
    form.elements.url.required = type === "webhook";
    form.elements.webhook_url.required = type === "slack";
    const own = form.elements.secret_mode.value === "own";
    secretInput.disabled = !own;
    secretInput.required = own;
    secretHint.textContent = SCHEMES.find(([v]) => v === scheme.value)?.[2] ?? "";
    signatureHeader.hidden = !RENAMABLE_SCHEMES.includes(scheme.value);
    form.elements.signature_header.disabled = signatureHeader.hidden;
  };
  form.addEventListener("change", sync);
  // One create per body: sent again (after a timeout or a lost answer) it carries the same
  // Idempotency-Key, so the portal makes it once; a changed body is another create.
  const createKeys = new Map();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const errorBox = form.querySelector(".form-errors");
    errorBox.replaceChildren();
    const extras = headers.read();
    if (extras.errors.length) {
      showFieldErrors(form, extras.errors);
      return;
    }
    const body = destinationBody(form);
    if (body.type === "webhook") {
      if (Object.keys(extras.headers).length) {
        body.headers = extras.headers;
        body.sensitive_headers = extras.sensitive_headers;
      }
      const clientTls = tls.read();
      if (clientTls) body.tls = clientTls;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    const sent = JSON.stringify(body);
    if (!createKeys.has(sent)) createKeys.set(sent, newIdempotencyKey());
    try {
      const created = await ctx.api.post("/v1/workspace/destinations", body, {
        idempotencyKey: createKeys.get(sent),
      });
      if (created.secret) ctx.flash.set(created.id, { secret: created.secret, kind: "created" });
      ctx.toast(`Destination “${created.name}” created`);
      ctx.navigate(`/destinations/${created.id}`);
    } catch (error) {
      button.disabled = false;
      if (error instanceof ApiError) {
        errorBox.textContent = error.message;
        showFieldErrors(form, error.fieldErrors);
      } else if (error instanceof TypeError) {  // fetch's network failure: no answer came
        errorBox.textContent = "Signet did not answer. Create it again: it is made only once.";
      } else {
        throw error;
      }
    }
  });
  render(ctx.main, pageHeader("New destination", { back }), form);
  sync();
}

function destinationBody(form) {
  const value = (name) => form.elements[name]?.value?.trim() ?? "";
  const enabled = form.elements.enabled.checked;
  if (form.elements.type.value === "slack") {
    return { type: "slack", name: value("name"), webhook_url: value("webhook_url"), enabled };
  }
  const body = {
    type: "webhook",
    name: value("name"),
    url: value("url"),
    event_types: pickedEventTypes(form, listOf),
    signature_scheme: value("signature_scheme"),
    enabled,
  };
  if (form.elements.secret_mode.value === "own") body.secret = form.elements.secret.value;
  if (!form.elements.signature_header.disabled && value("signature_header")) {
    body.signature_header = value("signature_header");
  }
  if (value("timeout_seconds")) body.timeout_seconds = Number(value("timeout_seconds"));
  if (value("rate_limit_per_second")) body.rate_limit_per_second = Number(value("rate_limit_per_second"));
  if (value("ordering") === "fifo") body.ordering = "fifo";
  const retry = {};
  if (value("max_attempts")) retry.max_attempts = Number(value("max_attempts"));
  if (value("delays_seconds")) retry.delays_seconds = listOf(value("delays_seconds")).map(Number);
  if (Object.keys(retry).length) body.retry_policy = retry;
  return body;
}

// A one-header scheme's signature under the receivers' own header name
// (docs/receiving-webhooks.md, "Keeping the header name your receivers read").
export const RENAMABLE_SCHEMES = ["hmac-sha256", "hmac-sha512", "github"];
export const SIGNATURE_HEADER_HINT = "Only if your receivers already check the signature under another header (X-Acme-Signature): it is sent under that name instead.";

// Ordered delivery (docs/delivery.md#ordered-delivery): the destination form and page share these.
export const ORDERING_HINT = "In order: one delivery at a time, in the order the events were accepted; a failing one holds the rest until it is delivered or gives up.";

export function orderingSelect(current) {
  return h("select", { name: "ordering" },
    [["none", "Concurrent (fastest)"], ["fifo", "In order (FIFO)"]].map(([value, label]) =>
      h("option", { value, selected: value === current }, label)));
}

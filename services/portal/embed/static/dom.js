// Building DOM without innerHTML: every value from the API becomes a text node, so
// nothing a workspace stores (names, URLs, response excerpts) can inject markup.

let nextId = 0;

/** A unique element id, for label/control and aria-describedby pairs. */
export function uid(prefix = "s") {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/**
 * h("button", {class: "primary", onclick: fn, disabled: true}, "Save")
 * Attributes: `class`, `text`, `on<event>` (a function), `dataset` (an object), booleans
 * (set when true, left out when false), anything else as an attribute.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") el.textContent = String(value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.append(child);
    else el.append(document.createTextNode(String(child)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A labelled form control: <div class="field"><label/>control<small hint/></div>. */
export function field(label, control, { hint, required } = {}) {
  const id = control.id || uid("f");
  control.id = id;
  const parts = [h("label", { for: id }, label, required ? h("span", { class: "req", "aria-hidden": "true" }, " *") : null)];
  let hintEl = null;
  if (hint) {
    hintEl = h("small", { class: "hint", id: `${id}-hint` }, hint);
    control.setAttribute("aria-describedby", hintEl.id);
  }
  if (required) control.required = true;
  return h("div", { class: "field", dataset: { field: control.name || "" } }, parts, control, hintEl);
}

/** Show the problem+json `errors` of a 400 next to the fields they name. */
export function showFieldErrors(form, errors) {
  for (const old of form.querySelectorAll(".field-error")) old.remove();
  for (const bad of form.querySelectorAll("[aria-invalid]")) bad.removeAttribute("aria-invalid");
  let first = null;
  const unmatched = [];
  for (const error of errors ?? []) {
    // "retry_policy.max_attempts" → max_attempts; "event_types[2]" → event_types.
    const path = String(error.field ?? "").replace(/\[\d+\]/g, "");
    const names = [path, path.split(".").pop(), path.split(".")[0]].filter(Boolean);
    const control = names
      .map((name) => form.querySelector(`[name="${CSS.escape(name)}"]`))
      .find((found) => found && !found.disabled);
    if (!control) {
      unmatched.push(`${error.field}: ${error.message}`);
      continue;
    }
    const note = h("p", { class: "field-error", id: uid("err") }, error.message ?? "is not valid");
    control.setAttribute("aria-invalid", "true");
    const described = control.getAttribute("aria-describedby");
    control.setAttribute("aria-describedby", described ? `${described} ${note.id}` : note.id);
    control.closest(".field")?.append(note);
    control.closest("details:not([open])")?.setAttribute("open", ""); // a folded section shows it
    first ??= control;
  }
  const summary = form.querySelector(".form-errors");
  if (summary && unmatched.length) summary.append(h("ul", {}, unmatched.map((text) => h("li", {}, text))));
  first?.focus();
  return first !== null;
}

const STATUS_LABELS = {
  delivered: "Delivered",
  failed: "Failed",
  exhausted: "Gave up",
  pending: "Pending",
  destination_disabled: "Disabled (410)",
  enabled: "Enabled",
  disabled: "Disabled",
};

/** A status badge: colour plus words, never colour alone. */
export function badge(status, label) {
  const key = String(status ?? "unknown");
  return h("span", { class: `badge badge-${key.replace(/[^a-z_]/g, "")}` }, label ?? STATUS_LABELS[key] ?? key);
}

/** Local time; `short` leaves out the year when it is this year, `clock` the date too. */
export function formatTime(value, { short = false, clock = false } = {}) {
  if (value === null || value === undefined || value === "") return "—";
  const date = typeof value === "number" ? new Date(value) : new Date(String(value));
  if (Number.isNaN(date.getTime())) return String(value);
  if (clock) return date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const sameYear = date.getFullYear() === new Date().getFullYear();
  return date.toLocaleString(undefined, {
    year: short && sameYear ? undefined : "numeric", month: "short", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
}

/** A <time> whose title is the exact UTC instant. */
export function timeEl(value, options) {
  const text = formatTime(value, options);
  if (text === "—") return text;
  const iso = typeof value === "number" ? new Date(value).toISOString() : String(value);
  return h("time", { datetime: iso, title: iso }, text);
}

export function formatLatency(ms) {
  if (ms === null || ms === undefined) return "—";
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

/** A value shown once, with a copy button that says whether copying worked. */
export function secretBox(label, value, { note } = {}) {
  const id = uid("secret");
  const output = h("output", { id, class: "secret-value", "aria-label": label }, value);
  const status = h("span", { class: "copy-status", role: "status" });
  const copy = h("button", { type: "button", class: "secondary", onclick: async () => {
    try {
      await navigator.clipboard.writeText(value);
      status.textContent = "Copied";
    } catch {
      // No clipboard permission in this frame: select the text for Ctrl+C instead.
      const range = document.createRange();
      range.selectNodeContents(output);
      const selection = getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      status.textContent = "Selected — press Ctrl+C to copy";
    }
  } }, "Copy");
  return h("div", { class: "secret-box" },
    h("p", { class: "secret-label" }, h("strong", {}, label)),
    note ? h("p", { class: "secret-note" }, note) : null,
    h("div", { class: "secret-row" }, output, copy, status));
}

/** "2026-04-17T18:22" in local time, as <input type="datetime-local"> wants it. */
export function localInputValue(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** A datetime-local value (local time) as an RFC 3339 UTC string, or null when empty. */
export function inputToIso(value) {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

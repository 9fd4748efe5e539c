// The form parts that set a webhook destination's custom headers and client certificate
// (docs/delivery.md, "Custom headers" and "Mutual TLS"), shared by the create form and the
// settings form. Each part reads back the body fields the workspace API takes:
// - headers: rows of name, value and "sensitive". A sensitive value stored before is never
//   shown ("…1234"); its row sends null, which keeps it, unless a new value is typed.
// - tls: client certificate, key and optional CA as PEM, pasted or read from a file. On an
//   existing destination the current certificate is described and the PEM fields open
//   only to replace it (with the pinned CA filled in: tls is replaced whole); removing it
//   is its own action (PATCH tls: null).
// The API is the judge of every rule; the only checks here are those a JSON object cannot
// carry to it (one name twice). Its field errors name a row (`headers.X-Api-Key`) or a PEM
// field (`tls.client_key`), which are the `name`s of the controls below.

import { field, h, timeEl, uid } from "../dom.js";

// services/portal/headers_tls.py HEADERS_MAX, ALWAYS_SENSITIVE, PEM_MAX
export const HEADERS_MAX = 20;
const ALWAYS_SENSITIVE = new Set(["authorization"]);
const PEM_MAX = 64 * 1024;

/**
 * The "Custom headers" fieldset, filled with `destination`'s headers when given.
 * Returns { element, changed(), read() }; read() gives { headers, sensitive_headers, errors }.
 */
export function headersEditor(destination = null) {
  const sealed = new Set((destination?.sensitive_headers ?? []).map((name) => name.toLowerCase()));
  const rows = [];
  const list = h("div", { class: "header-rows" });
  const empty = h("p", { class: "hint header-none" }, "No custom headers.");
  const hint = h("small", { class: "hint", id: uid("headers-hint") },
    `Sent with every request. Up to ${HEADERS_MAX} headers and 8 KiB in all; not webhook-*, signet-*, `
    + "x-hub-signature*, content-type, host, user-agent and the other names Signet sets. "
    + "A sensitive value is sealed and only its last four characters are shown again; "
    + "Authorization always is.");
  const add = h("button", { type: "button", class: "secondary" }, "Add header");
  const element = h("fieldset", { class: "field header-editor", name: "headers", "aria-describedby": hint.id },
    h("legend", {}, "Custom headers"), hint, empty, list, h("div", { class: "actions" }, add));
  let changed = false;

  const renumber = () => {
    rows.forEach((row, index) => row.number(index + 1));
    empty.hidden = rows.length > 0;
    add.disabled = rows.length >= HEADERS_MAX;
  };
  const addRow = (name = "", value = "", stored = false) => {
    const row = headerRow({ name, value, stored, sensitive: stored }, () => {
      rows.splice(rows.indexOf(row), 1);
      row.element.remove();
      changed = true;
      renumber();
      add.focus();
    });
    rows.push(row);
    list.append(row.element);
    renumber();
    return row;
  };
  add.addEventListener("click", () => {
    changed = true;
    addRow().focus();
  });
  element.addEventListener("input", () => { changed = true; });
  element.addEventListener("change", () => { changed = true; });
  for (const [name, value] of Object.entries(destination?.headers ?? {})) {
    addRow(name, value, sealed.has(name.toLowerCase()));
  }
  renumber();

  const read = () => {
    const headers = {};
    const sensitive = [];
    const errors = [];
    const seen = new Set();
    for (const row of rows) {
      const { name, value, sensitive: secret, keeps } = row.read();
      if (!name && !value && !keeps) continue; // a row added and left empty
      if (seen.has(name.toLowerCase())) {
        errors.push({ field: `headers.${name}`, message: "is given twice (names ignore case)" });
        continue;
      }
      seen.add(name.toLowerCase());
      headers[name] = keeps ? null : value;
      if (secret) sensitive.push(name);
    }
    return { headers, sensitive_headers: sensitive, errors };
  };
  return { element, changed: () => changed, read };
}

function headerRow({ name, value, stored, sensitive }, onRemove) {
  // A stored sensitive value comes back as its hint ("…abcd"): never a value to send.
  const hintText = stored ? value : null;
  const nameInput = h("input", { class: "header-name", value: name, autocomplete: "off", spellcheck: "false", maxlength: "256", placeholder: "X-Api-Key" });
  const valueInput = h("input", {
    class: "header-value", value: stored ? "" : value, autocomplete: "off", spellcheck: "false",
    type: sensitive ? "password" : "text", placeholder: stored ? `unchanged (${hintText})` : "",
  });
  const secretBox = h("input", { type: "checkbox", class: "header-sensitive", name: "sensitive_headers", checked: sensitive });
  const keptNote = stored
    ? h("small", { class: "hint", id: uid("kept") }, `Stored value ends ${hintText}; leave empty to keep it.`)
    : null;
  if (keptNote) valueInput.setAttribute("aria-describedby", keptNote.id);
  const label = (control, text) => {
    control.id = uid("hdr");
    const number = h("span", { class: "visually-hidden row-number" });
    return [h("label", { for: control.id }, text, number), number];
  };
  const [nameLabel, nameNumber] = label(nameInput, "Header");
  const [valueLabel, valueNumber] = label(valueInput, "Value");
  const [secretLabel, secretNumber] = label(secretBox, "Sensitive");
  const remove = h("button", { type: "button", class: "secondary", onclick: onRemove }, "Remove");
  const element = h("div", { class: "field header-row" },
    h("div", { class: "cell" }, nameLabel, nameInput),
    h("div", { class: "cell" }, valueLabel, valueInput),
    h("div", { class: "cell choice" }, secretBox, secretLabel),
    h("div", { class: "cell" }, remove),
    keptNote);

  const always = () => ALWAYS_SENSITIVE.has(nameInput.value.trim().toLowerCase());
  const sync = () => {
    if (always()) secretBox.checked = true;
    secretBox.disabled = always();
    valueInput.type = secretBox.checked ? "password" : "text";
  };
  nameInput.addEventListener("input", sync);
  secretBox.addEventListener("change", sync);
  sync();
  return {
    element,
    focus: () => nameInput.focus(),
    number(n) {
      for (const span of [nameNumber, valueNumber, secretNumber]) span.textContent = ` ${n}`;
      remove.setAttribute("aria-label", `Remove header ${n}`);
    },
    read() {
      const headerName = nameInput.value.trim();
      // Named so that a field error on this header (headers.X-Api-Key) finds its row.
      nameInput.name = `headers.${headerName}`;
      return {
        name: headerName,
        value: valueInput.value,
        sensitive: secretBox.checked || always(),
        keeps: stored && valueInput.value === "",
      };
    },
  };
}

const PEM_FIELDS = [
  ["client_certificate", "Client certificate (PEM)", "The certificate, then any intermediates: -----BEGIN CERTIFICATE-----", ".pem,.crt,.cer"],
  ["client_key", "Client key (PEM)", "Its unencrypted private key: -----BEGIN PRIVATE KEY-----. Sealed, never shown again.", ".pem,.key"],
  ["ca_certificate", "Receiver's CA certificate (PEM, optional)", "Pins a private CA: the receiver's certificate must chain to it. Empty: the usual public roots.", ".pem,.crt,.cer"],
];

/**
 * The "Client certificate (mutual TLS)" fieldset. With `current` (a destination's `tls`) it
 * describes that certificate, offers "Replace certificate" (opens the PEM fields) and
 * "Remove certificate" (calls `onRemove`); with `collapsed`, the PEM fields of a
 * destination without one open behind "Add a client certificate".
 * Returns { element, read() }; read() gives the body's `tls`, or undefined for no change.
 */
export function tlsEditor({ current = null, collapsed = false, onRemove = null } = {}) {
  const areas = PEM_FIELDS.map(([name]) => h("textarea", {
    name: `tls.${name}`, rows: "4", autocomplete: "off", spellcheck: "false", class: "pem",
  }));
  const pemFields = h("div", { class: "pem-fields" }, PEM_FIELDS.map(([, label, hint, accept], index) =>
    pemField(areas[index], label, hint, accept)));
  const legend = h("legend", {}, "Client certificate (mutual TLS)");
  const intro = h("p", { class: "hint" },
    "Signet presents this certificate to the receiver on every request, so it can refuse any caller without it.");
  const element = h("fieldset", { class: "field tls-editor", name: "tls" }, legend);
  const hidden = current !== null || collapsed;
  const setOpen = (open) => {
    pemFields.hidden = !open;
    for (const area of areas) area.disabled = !open;
    for (const file of pemFields.querySelectorAll("input[type=file]")) file.disabled = !open;
  };
  if (!hidden) {
    element.append(intro, pemFields);
    setOpen(true);
    return { element, read: () => readPem(areas) };
  }
  // A replacement is sent whole: the pinned CA is offered again rather than dropped.
  if (current?.ca_certificate) areas[2].value = current.ca_certificate;
  pemFields.id = uid("pem");
  const openLabel = current ? "Replace certificate" : "Add a client certificate";
  const toggle = h("button", { type: "button", class: "secondary", "aria-expanded": "false", "aria-controls": pemFields.id }, openLabel);
  toggle.addEventListener("click", () => {
    const open = pemFields.hidden;
    setOpen(open);
    toggle.setAttribute("aria-expanded", String(open));
    toggle.textContent = open ? (current ? "Keep the current certificate" : "Add no certificate") : openLabel;
    if (open) areas[0].focus();
  });
  const remove = current && onRemove
    ? h("button", { type: "button", class: "danger", onclick: onRemove }, "Remove certificate")
    : null;
  element.append(current ? certificateFacts(current) : intro, h("div", { class: "actions" }, toggle, remove), pemFields);
  setOpen(false);
  return { element, read: () => (pemFields.hidden ? undefined : readPem(areas)) };
}

function pemField(area, label, hint, accept) {
  const file = h("input", { type: "file", accept: `${accept},text/plain`, class: "pem-file" });
  const status = h("small", { class: "hint", role: "status" });
  file.addEventListener("change", async () => {
    const chosen = file.files?.[0];
    if (!chosen) return;
    if (chosen.size > PEM_MAX) {
      status.textContent = `${chosen.name} is larger than 64 KiB: not a PEM file Signet takes.`;
      return;
    }
    area.value = (await chosen.text()).trim();
    area.dispatchEvent(new Event("input", { bubbles: true }));
    status.textContent = `Read from ${chosen.name}.`;
  });
  const fileId = uid("pemfile");
  file.id = fileId;
  return h("div", { class: "pem-field" },
    field(label, area, { hint }),
    h("div", { class: "pem-file-row" }, h("label", { for: fileId }, `${label.replace(/ \(PEM.*\)$/, "")} from a file`), file, status));
}

function readPem(areas) {
  const [certificate, key, ca] = areas.map((area) => area.value.trim());
  if (!certificate && !key && !ca) return undefined;
  return { client_certificate: certificate, client_key: key, ca_certificate: ca || null };
}

function certificateFacts(tls) {
  return h("dl", { class: "facts client-tls-current" },
    h("dt", {}, "Current certificate"), h("dd", {}, tls.client_certificate_subject),
    h("dt", {}, "SHA-256"), h("dd", {}, h("code", { class: "wrap" }, tls.client_certificate_sha256)),
    h("dt", {}, "Expires"), h("dd", {}, timeEl(tls.client_certificate_not_after)),
    h("dt", {}, "Receiver's CA"), h("dd", {}, tls.ca_certificate ? "pinned (a private CA)" : "the usual public roots"));
}

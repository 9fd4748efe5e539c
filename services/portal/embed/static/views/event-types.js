// The event-type catalog (docs/event-types.md): the screen listing every type the product
// emits, and the picker the destination forms subscribe with.

import { badge, field, h } from "../dom.js";
import { loading, pageHeader, render } from "./common.js";

/** Every cataloged type, by name ([] when the catalog is empty or cannot be read). */
export async function loadCatalog(api) {
  try {
    return (await api.get("/v1/workspace/event-types"))?.data ?? [];
  } catch {
    return []; // the forms still work with patterns alone
  }
}

/** [[prefix, types]] by the name's first segment ("order.completed" → "order"). */
export function groupByPrefix(types) {
  const groups = new Map();
  for (const type of [...types].sort((a, b) => a.name.localeCompare(b.name))) {
    const prefix = type.name.split(".")[0];
    if (!groups.has(prefix)) groups.set(prefix, []);
    groups.get(prefix).push(type);
  }
  return [...groups.entries()];
}

function deprecatedBadge(type) {
  return type.deprecated ? badge("disabled", "Deprecated") : null;
}

// -- the catalog screen ------------------------------------------------------------------

export async function eventTypesCatalog(ctx) {
  render(ctx.main, pageHeader("Event types"), loading());
  const types = await loadCatalog(ctx.api);
  const header = pageHeader("Event types", {
    subtitle: "Every event this application sends, with what its payload holds. Subscribe a destination to the ones you need.",
  });
  if (types.length === 0) {
    render(ctx.main, header, h("div", { class: "panel empty" }, h("p", {}, "No event types are listed yet.")));
    return;
  }
  const groups = groupByPrefix(types);
  const contents = h("nav", { class: "panel catalog-index", "aria-label": "Event type groups" },
    h("ul", {}, groups.map(([prefix, members]) => h("li", {},
      h("a", { href: `#/event-types`, onclick: (event) => {
        event.preventDefault();
        ctx.main.querySelector(`#group-${CSS.escape(prefix)}`)?.scrollIntoView();
      } }, `${prefix}.*`), ` (${members.length})`))));
  render(ctx.main, header, contents, groups.map(([prefix, members]) =>
    h("section", { class: "catalog-group", "aria-labelledby": `group-${prefix}` },
      h("h2", { id: `group-${prefix}`, tabindex: "-1" }, h("code", {}, `${prefix}.*`)),
      members.map(typeCard))));
}

function typeCard(type) {
  const id = `type-${type.name.replace(/[^A-Za-z0-9_-]/g, "-")}`;
  return h("article", { class: "panel event-type", "aria-labelledby": id, dataset: { eventType: type.name } },
    h("h3", { id }, h("code", {}, type.name), " ", deprecatedBadge(type)),
    type.description ? h("p", {}, type.description) : null,
    type.schema ? h("div", {}, h("h4", {}, "Payload"), schemaTable(type.schema),
      h("details", {}, h("summary", {}, "JSON Schema"), h("pre", { class: "excerpt" }, JSON.stringify(type.schema, null, 2))))
      : h("p", { class: "hint" }, "No schema: any JSON object."),
    type.example ? h("div", {}, h("h4", {}, "Example"), h("pre", { class: "excerpt" }, JSON.stringify(type.example, null, 2))) : null,
    h("p", { class: "hint" }, `Version ${type.version}`));
}

/** The schema's properties as rows: name, type, required, what else it says. */
export function schemaRows(schema, root = schema, prefix = "", depth = 0) {
  const resolved = resolve(schema, root);
  const required = new Set(resolved.required ?? []);
  const rows = [];
  for (const [name, raw] of Object.entries(resolved.properties ?? {})) {
    const property = resolve(raw, root);
    const path = prefix ? `${prefix}.${name}` : name;
    rows.push({ name: path, type: typeOf(property), required: required.has(name), rules: rulesOf(property) });
    if (depth < 3 && property.properties) rows.push(...schemaRows(property, root, path, depth + 1));
    const items = property.items ? resolve(property.items, root) : null;
    if (depth < 3 && items?.properties) rows.push(...schemaRows(items, root, `${path}[]`, depth + 1));
  }
  return rows;
}

function resolve(schema, root) {
  let node = schema ?? {};
  for (let hops = 0; typeof node.$ref === "string" && node.$ref.startsWith("#/") && hops < 10; hops++) {
    const target = node.$ref.slice(2).split("/").reduce((at, part) => at?.[decodeURIComponent(part).replaceAll("~1", "/").replaceAll("~0", "~")], root);
    if (!target) break;
    const { $ref, ...rest } = node;
    node = { ...target, ...rest };
  }
  return node;
}

function typeOf(property) {
  if (property.enum) return "one of";
  if (property.const !== undefined) return "constant";
  const type = Array.isArray(property.type) ? property.type.join(" or ") : property.type;
  if (type === "array") {
    const items = property.items?.type;
    return items ? `array of ${items}` : "array";
  }
  return type ?? "any";
}

function rulesOf(property) {
  const rules = [];
  if (property.enum) rules.push(property.enum.map((v) => JSON.stringify(v)).join(", "));
  if (property.const !== undefined) rules.push(JSON.stringify(property.const));
  if (property.format) rules.push(property.format);
  if (property.pattern) rules.push(`matches ${property.pattern}`);
  if (property.minimum !== undefined) rules.push(`≥ ${property.minimum}`);
  if (property.maximum !== undefined) rules.push(`≤ ${property.maximum}`);
  if (property.minLength !== undefined) rules.push(`at least ${property.minLength} characters`);
  if (property.maxLength !== undefined) rules.push(`at most ${property.maxLength} characters`);
  if (property.description) rules.push(property.description);
  return rules.join("; ");
}

function schemaTable(schema) {
  const rows = schemaRows(schema);
  if (rows.length === 0) return h("p", { class: "hint" }, "An object (see the JSON Schema).");
  return h("div", { class: "table-wrap" }, h("table", { class: "data schema" },
    h("caption", { class: "visually-hidden" }, "Payload fields"),
    h("thead", {}, h("tr", {}, ["Field", "Type", "Required", "Rules"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows.map((r) => h("tr", {},
      h("th", { scope: "row" }, h("code", {}, r.name)),
      h("td", {}, r.type),
      h("td", {}, r.required ? "required" : "optional"),
      h("td", {}, r.rules || "—"))))));
}

// -- the picker of the destination forms ---------------------------------------------------

/**
 * The "Event types" control of a destination form: with a catalog, a checkbox per type
 * grouped by prefix plus a text field of other patterns; without one, the text field alone
 * (named "event_types", labelled "Event types", as it always was).
 */
export function eventTypePicker(types, current = ["*"]) {
  const names = new Set(types.map((t) => t.name));
  const picked = new Set(current.filter((p) => names.has(p)));
  const others = current.filter((p) => !names.has(p));
  const patterns = h("input", {
    name: "event_types", autocomplete: "off", spellcheck: "false", value: others.join(", "),
  });
  if (types.length === 0) {
    return field("Event types", patterns, { hint: "Comma-separated: * for all, order.* for a prefix, or order.completed." });
  }
  return h("fieldset", { class: "picker", dataset: { field: "event_types" } },
    h("legend", {}, "Event types"),
    groupByPrefix(types).map(([prefix, members]) => h("fieldset", { class: "picker-group" },
      h("legend", {}, h("code", {}, `${prefix}.*`)),
      members.map((type) => h("label", { class: "choice", title: type.description || "" },
        h("input", { type: "checkbox", name: "event_type_choice", value: type.name, checked: picked.has(type.name) }),
        " ", h("code", {}, type.name), " ", deprecatedBadge(type))))),
    field("Other patterns", patterns, {
      hint: "Comma-separated, besides the types ticked above: * for all, order.* for a prefix. Nothing at all means *.",
    }));
}

/** What the picker says: the ticked types and the typed patterns (["*"] when neither). */
export function pickedEventTypes(form, listOf) {
  const ticked = [...form.querySelectorAll('input[name="event_type_choice"]:checked')].map((box) => box.value);
  const typed = listOf(form.elements.event_types?.value ?? "");
  const all = [...new Set([...ticked, ...typed])];
  return all.length ? all : ["*"];
}

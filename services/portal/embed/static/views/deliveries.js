// The delivery log: filters, status badges, cursor pagination, auto-refresh.

import { query } from "../api.js";
import { badge, field, h, inputToIso, localInputValue, replace, timeEl } from "../dom.js";
import { destinationsById, every, loading, pageHeader, render } from "./common.js";

const STATUSES = [["", "Any status"], ["delivered", "Delivered"], ["failed", "Failed (retrying)"], ["exhausted", "Gave up"], ["pending", "Pending"]];
const PAGE_SIZE = 25;
const REFRESH_MS = 4000;

function isoToInput(value) {
  const date = value ? new Date(value) : null;
  return date && !Number.isNaN(date.getTime()) ? localInputValue(date) : "";
}

export async function deliveriesLog(ctx, _params, route) {
  const filters = {
    destination_id: route.query.get("destination_id") ?? "",
    status: route.query.get("status") ?? "",
    event_type: route.query.get("event_type") ?? "",
    since: route.query.get("since") ?? "",
    until: route.query.get("until") ?? "",
  };
  render(ctx.main, pageHeader("Delivery log"), loading());
  const destinations = await destinationsById(ctx.api);

  const select = (name, options) => h("select", { name },
    options.map(([value, label]) => h("option", { value, selected: filters[name] === value }, label)));
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter deliveries" },
    field("Destination", select("destination_id", [["", "All destinations"], ...[...destinations.values()].map((d) => [d.id, d.name])])),
    field("Status", select("status", STATUSES)),
    field("Event type", h("input", { name: "event_type", value: filters.event_type, placeholder: "order.* or order.completed", autocomplete: "off" })),
    field("Since", h("input", { name: "since", type: "datetime-local", value: isoToInput(filters.since) })),
    field("Until", h("input", { name: "until", type: "datetime-local", value: isoToInput(filters.until) })),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Apply filters")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = {
      destination_id: form.elements.destination_id.value,
      status: form.elements.status.value,
      event_type: form.elements.event_type.value.trim(),
      since: inputToIso(form.elements.since.value),
      until: inputToIso(form.elements.until.value),
    };
    ctx.navigate(`/deliveries${query(chosen)}`);
  });

  const auto = h("input", { type: "checkbox", id: "auto-refresh", checked: true });
  // Refreshed every few seconds: no live region, or a screen reader would never be quiet.
  const updated = h("span", { class: "hint" });
  const results = h("div", { class: "results" });
  const newer = h("button", { type: "button", class: "secondary", onclick: () => { page -= 1; load(); } }, "← Newer");
  const older = h("button", { type: "button", class: "secondary", onclick: () => { page += 1; load(); } }, "Older →");
  const pageLabel = h("span", { role: "status" }, "Page 1");
  const pager = h("nav", { class: "pager", "aria-label": "Pages" }, newer, pageLabel, older);
  const cursors = [null]; // cursors[i] fetches page i
  let page = 0;
  let shown = "";

  const load = async () => {
    const cursor = cursors[page];
    const answer = await ctx.api.get(`/v1/workspace/deliveries${query({ ...filters, cursor, limit: PAGE_SIZE })}`);
    const items = answer?.data ?? [];
    cursors[page + 1] = answer?.next_cursor ?? null;
    updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    newer.disabled = page === 0;
    older.disabled = !cursors[page + 1];
    pageLabel.textContent = `Page ${page + 1}`;
    const text = JSON.stringify([page, items]);
    if (text === shown) return; // unchanged: keep the focus where the user left it
    shown = text;
    const focused = document.activeElement?.closest("tr[data-delivery]") ? document.activeElement.getAttribute("href") : null;
    replace(results, items.length ? table(items, destinations) : h("p", { class: "panel empty" }, "No deliveries match."));
    if (focused) results.querySelector(`a[href="${CSS.escape(focused)}"]`)?.focus();
  };

  render(ctx.main,
    pageHeader("Delivery log", { subtitle: "Every delivery to this workspace's destinations, newest first." }),
    h("div", { class: "panel" }, form),
    h("div", { class: "toolbar" },
      h("label", { class: "choice", for: "auto-refresh" }, auto, " Refresh automatically"), updated),
    results, pager);
  await load();
  // Only the first page moves as deliveries arrive; older pages stay put.
  return every(REFRESH_MS, async () => {
    if (auto.checked && page === 0) await load();
  });
}

function table(items, destinations) {
  const rows = items.map((d) => {
    const eventId = d.event_id;
    const destination = destinations.get(d.destination_id);
    return h("tr", { dataset: { delivery: d.id, status: d.status } },
      h("td", {}, timeEl(d.event_created_at ?? d.created_at, { short: true })),
      h("td", {}, h("code", {}, d.event_type)),
      h("td", {}, h("a", { href: `#/events/${encodeURIComponent(eventId)}`, "aria-label": `Event ${eventId}` }, h("code", {}, eventId))),
      h("td", {}, destination?.name ?? h("span", { class: "hint" }, `${d.destination_id} (deleted)`)),
      h("td", {}, badge(d.status), d.replay_of ? h("span", { class: "tag" }, "replay") : null),
      h("td", { class: "num" }, d.attempts ?? "—"),
      h("td", { class: "num" }, d.last_http_status ?? "—"),
      h("td", {}, d.status === "failed" && d.next_attempt_at ? h("span", {}, "next ", timeEl(d.next_attempt_at, { clock: true })) : timeEl(d.last_attempt_at, { clock: true })));
  });
  return h("div", { class: "table-wrap" }, h("table", { class: "data" },
    h("caption", { class: "visually-hidden" }, "Deliveries"),
    h("thead", {}, h("tr", {}, ["Time", "Event type", "Event", "Destination", "Status", "Attempts", "HTTP", "Last attempt"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows)));
}

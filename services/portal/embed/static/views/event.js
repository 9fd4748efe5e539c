// One event: its payload, and every attempt to every destination (time, status, latency,
// response excerpt, the headers sent), with a replay button per delivery.

import { ApiError } from "../api.js";
import { badge, formatLatency, h, replace, timeEl } from "../dom.js";
import { destinationsById, every, pageHeader, render } from "./common.js";

const REFRESH_MS = 3000;

function payloadOf(event) {
  const raw = event.data ?? null;
  if (raw === null) return null;
  if (typeof raw === "string") {
    try {
      return JSON.stringify(JSON.parse(raw), null, 2);
    } catch {
      return raw;
    }
  }
  return JSON.stringify(raw, null, 2);
}

export async function eventDetail(ctx, [eventId]) {
  const path = `/v1/workspace/events/${encodeURIComponent(eventId)}`;
  const [event, destinations] = await Promise.all([ctx.api.get(path), destinationsById(ctx.api)]);
  const body = h("div", {});
  let shown = "";
  const draw = (current) => {
    const text = JSON.stringify(current.deliveries ?? []);
    if (text === shown) return; // nothing new: keep open panels and the focus as they are
    shown = text;
    const open = new Set([...body.querySelectorAll("details[open][data-key]")].map((d) => d.dataset.key));
    const focused = document.activeElement?.closest("[data-key]")?.dataset.key;
    replace(body, ...(current.deliveries ?? []).map((d) => deliveryCard(ctx, d, destinations, refresh)));
    for (const details of body.querySelectorAll("details[data-key]")) details.open = open.has(details.dataset.key);
    if (focused) body.querySelector(`[data-key="${CSS.escape(focused)}"] summary, button[data-key="${CSS.escape(focused)}"]`)?.focus();
  };
  const refresh = async () => draw(await ctx.api.get(path));

  const payload = payloadOf(event);
  render(ctx.main,
    pageHeader(event.type ?? "Event", {
      back: ["#/deliveries", "Delivery log"],
      subtitle: h("span", {}, h("code", {}, event.id ?? eventId), " · created ", timeEl(event.created_at),
        event.resource ? h("span", {}, " · ", event.resource, " ", h("code", {}, event.resource_id ?? "")) : null),
    }),
    payload ? h("details", { class: "panel", open: true }, h("summary", {}, "Payload (data)"), h("pre", { class: "excerpt" }, payload)) : null,
    h("h2", {}, "Deliveries"),
    body);
  draw(event);
  return every(REFRESH_MS, refresh);
}

function deliveryCard(ctx, delivery, destinations, refresh) {
  const destination = destinations.get(delivery.destination_id);
  const title = destination?.name ?? `${delivery.destination_id} (deleted)`;
  const id = `delivery-${delivery.id}`;
  const note = h("span", { role: "status", class: "hint" });
  const replay = ctx.canWrite && destination ? h("button", { type: "button", class: "secondary", dataset: { key: `replay-${delivery.id}` }, onclick: async () => {
    replay.disabled = true;
    try {
      const answer = await ctx.api.post(`/v1/workspace/deliveries/${encodeURIComponent(delivery.id)}/replay`, {});
      note.textContent = `Replay queued${answer?.delivery_id ? ` as ${answer.delivery_id}` : ""}.`;
      ctx.toast("Replay queued");
      await refresh();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      note.textContent = error.message;
      replay.disabled = false;
    }
  } }, "Replay") : null;
  const attempts = Array.isArray(delivery.attempts) ? delivery.attempts : [];
  return h("section", { class: "panel delivery", "aria-labelledby": id, dataset: { delivery: delivery.id, status: delivery.status } },
    h("div", { class: "page-title-row" },
      h("h3", { id }, title, " ", badge(delivery.status), delivery.replay_of ? h("span", { class: "tag" }, `replay of ${delivery.replay_of}`) : null),
      h("div", { class: "actions" }, replay, note)),
    h("p", { class: "hint" }, "Delivery ", h("code", {}, delivery.id),
      delivery.status === "failed" && delivery.next_attempt_at ? h("span", {}, " · next attempt ", timeEl(delivery.next_attempt_at)) : null),
    attempts.length ? h("ol", { class: "attempts" }, attempts.map(attemptItem)) : h("p", {}, "No attempt yet."));
}

function attemptItem(a) {
  const headers = Object.entries(a.request_headers ?? {});
  return h("li", { class: "attempt", dataset: { status: a.status } },
    h("div", { class: "attempt-head" },
      h("strong", {}, `Attempt ${a.attempt ?? "?"}`), " ", badge(a.status),
      " ", timeEl(a.attempted_at),
      h("span", { class: "metric" }, `HTTP ${a.http_status ?? "—"}`),
      h("span", { class: "metric" }, formatLatency(a.latency_ms))),
    a.error ? h("p", { class: "field-error" }, a.error) : null,
    h("details", { dataset: { key: a.id ?? `${a.attempt}` } }, h("summary", {}, "Response and headers sent"),
      h("h4", {}, "Response excerpt"),
      a.response_excerpt ? h("pre", { class: "excerpt" }, a.response_excerpt) : h("p", { class: "hint" }, "(empty)"),
      h("h4", {}, "Headers sent"),
      headers.length ? h("table", { class: "data headers" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Header"), h("th", { scope: "col" }, "Value"))),
        h("tbody", {}, headers.map(([name, value]) => h("tr", {}, h("td", {}, h("code", {}, name)), h("td", {}, h("code", { class: "wrap" }, value))))))
        : h("p", { class: "hint" }, "(none recorded)")));
}

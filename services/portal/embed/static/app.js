// The embed's entry point: wait for a session, then draw the screen the hash names.

import { ApiError, createApi } from "./api.js";
import { h, replace } from "./dom.js";
import { DEFAULT_ROUTE, navigate, parseRoute } from "./router.js";
import { Session } from "./session.js";
import { applyTheme, themeFromQuery } from "./theme.js";
import { errorPanel, pageHeader, render } from "./views/common.js";
import { destinationDetail } from "./views/destination.js";
import { destinationsList, newDestination } from "./views/destinations.js";
import { deliveriesLog } from "./views/deliveries.js";
import { eventDetail } from "./views/event.js";
import { eventTypesCatalog } from "./views/event-types.js";
import { exportLog } from "./views/export.js";

const VIEWS = {
  destinations: destinationsList,
  "new-destination": newDestination,
  destination: destinationDetail,
  deliveries: deliveriesLog,
  event: eventDetail,
  export: exportLog,
  "event-types": eventTypesCatalog,
};
const NAV_OF = { destinations: "destinations", "new-destination": "destinations", destination: "destinations", deliveries: "deliveries", event: "deliveries", export: "export", "event-types": "event-types" };

const origins = (document.querySelector('meta[name="signet-frame-origins"]')?.content ?? "").split(/\s+/).filter(Boolean);
applyTheme(themeFromQuery(location.search));

const main = document.getElementById("main");
const toasts = document.getElementById("toasts");
const banner = document.getElementById("banner");
const session = new Session({ allowedOrigins: origins });
const api = createApi(session);
const ctx = {
  api,
  session,
  main,
  workspace: null,
  canWrite: false,
  flash: new Map(), // secrets to show once on the next screen, by destination id
  navigate,
  toast(message) {
    const item = h("p", { class: "toast" }, message);
    toasts.append(item);
    while (toasts.childElementCount > 3) toasts.firstElementChild.remove();
    setTimeout(() => item.remove(), 5000);
  },
};

let stopView = null;
let generation = 0;

async function show() {
  const route = parseRoute(location.hash);
  stopView?.();
  stopView = null;
  if (!route) {
    navigate(DEFAULT_ROUTE);
    return;
  }
  for (const link of document.querySelectorAll("nav.main-nav a")) {
    if (link.dataset.nav === NAV_OF[route.name]) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const mine = ++generation;
  main.setAttribute("aria-busy", "true");
  try {
    const stop = await VIEWS[route.name](ctx, route.params, route);
    if (mine === generation) stopView = stop ?? null;
    else stop?.();
  } catch (error) {
    if (mine !== generation) return;
    render(main, pageHeader("Could not load this page"), errorPanel(error));
  }
  session.post({ type: "signet:route", route: route.path });
}

async function loadWorkspace() {
  const workspace = await api.get("/v1/workspace");
  ctx.workspace = workspace;
  ctx.canWrite = workspace.session?.role === "admin";
  session.setExpiry(workspace.session?.expires_at);
  document.documentElement.dataset.role = workspace.session?.role ?? "viewer";
  replace(document.getElementById("ws-name"), workspace.name);
  replace(document.getElementById("ws-env"), workspace.environment);
  const role = document.getElementById("ws-role");
  role.hidden = ctx.canWrite;
  replace(role, "Read-only");
}

function waitingScreen() {
  const text = session.framed
    ? "Connecting to your application…"
    : "This page is part of your application's settings: open it from there to start a session.";
  render(main, h("div", { class: "panel empty" }, h("h1", { tabindex: "-1" }, "Webhooks"), h("p", { role: "status" }, text)));
}

function reportSize() {
  let queued = false;
  new ResizeObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      // The body's own height: the document's never shrinks below the frame's.
      session.post({ type: "signet:resize", height: Math.ceil(document.body.getBoundingClientRect().height) });
    });
  }).observe(document.body);
}

async function boot() {
  session.addEventListener("theme", (event) => applyTheme(event.detail));
  session.addEventListener("navigate", (event) => navigate(event.detail));
  session.addEventListener("refused", (event) => {
    console.warn(`signet embed: ignored a message from ${event.detail.origin}, which this session does not allow`);
  });
  session.addEventListener("expiring", () => {
    banner.hidden = false;
    replace(banner, "Your session is about to expire. Reload this page in your application to continue.");
  });
  session.addEventListener("token", async () => {
    banner.hidden = true;
    if (ctx.workspace) await loadWorkspace().catch(() => {});
  });
  const route = session.start();
  if (!route && !location.hash) history.replaceState(null, "", `${location.pathname}${location.search}#${DEFAULT_ROUTE}`);
  waitingScreen();
  reportSize();
  await session.token();
  try {
    await loadWorkspace();
  } catch (error) {
    render(main, pageHeader("Could not open the workspace"), errorPanel(error instanceof ApiError ? error : new Error(String(error))));
    return;
  }
  document.body.classList.add("ready");
  window.addEventListener("hashchange", show);
  await show();
}

document.getElementById("skip").addEventListener("click", () => main.focus());
boot();

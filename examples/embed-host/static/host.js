// The host side of Signet's embed protocol (see services/portal/embed/static/session.js):
// mint a session on our own server, load the iframe, hand over the token by postMessage,
// and mint a fresh one whenever the embed asks.

const frame = document.getElementById("signet-frame");
const roleSelect = document.getElementById("role");
const themeSelect = document.getElementById("theme");
const brandInput = document.getElementById("brand");
const params = new URLSearchParams(location.search);
const role = params.get("role") === "viewer" ? "viewer" : "admin";
roleSelect.value = role;
themeSelect.value = params.get("theme") ?? "light";

let portalOrigin = null;
let session = null;

// Our own server mints the session with the operator key (never sent to the browser).
async function mintSession() {
  const response = await fetch("/api/signet-session", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ role }),
  });
  if (!response.ok) throw new Error(`session: HTTP ${response.status}`);
  return response.json();
}

function theme() {
  return { mode: themeSelect.value, brand: brandInput.value, font: "system-ui, sans-serif" };
}

function sendToken() {
  // targetOrigin = the portal's: the token can only be delivered to Signet's frame.
  frame.contentWindow.postMessage(
    { type: "signet:token", token: session.token, expires_at: session.expires_at, theme: theme() },
    portalOrigin,
  );
}

window.addEventListener("message", async (event) => {
  if (event.origin !== portalOrigin || event.source !== frame.contentWindow) return;
  const message = event.data ?? {};
  switch (message.type) {
    case "signet:ready":
      sendToken();
      break;
    case "signet:token-request":
      session = await mintSession();
      sendToken();
      break;
    case "signet:resize":
      frame.style.height = `${Math.max(480, Number(message.height) || 0)}px`;
      break;
    default:
      break;
  }
});

for (const control of [themeSelect, brandInput]) {
  control.addEventListener("change", () => {
    frame.contentWindow.postMessage({ type: "signet:theme", theme: theme() }, portalOrigin);
  });
}
roleSelect.addEventListener("change", () => {
  const next = new URL(location.href);
  next.searchParams.set("role", roleSelect.value);
  location.assign(next);
});

const orderButton = document.getElementById("place-order");
orderButton.disabled = document.body.dataset.canOrder !== "true";
orderButton.addEventListener("click", async () => {
  const result = document.getElementById("order-result");
  const response = await fetch("/api/orders", { method: "POST" });
  const answer = await response.json().catch(() => ({}));
  result.textContent = response.ok ? `Emitted order.completed ${answer.id}` : `Failed: HTTP ${response.status}`;
});

session = await mintSession();
portalOrigin = new URL(session.embed_url).origin;
// A deep link such as #/events/evt_… on this page opens that screen of the embed.
const route = location.hash.startsWith("#/") ? location.hash : "";
// The theme also rides on the URL, so the embed paints in it before the token arrives.
const look = new URLSearchParams({ theme: themeSelect.value, brand: brandInput.value });
frame.src = `${session.embed_url}&${look}${route}`;

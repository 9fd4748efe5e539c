// Hash routes: #/destinations, #/destinations/new, #/destinations/<id>, #/deliveries?…,
// #/events/<event_id>, #/export, #/event-types. The alerter links to /embed#/events/<event_id>.

const ROUTES = [
  [/^\/destinations\/?$/, "destinations"],
  [/^\/destinations\/new$/, "new-destination"],
  [/^\/destinations\/([\w-]+)$/, "destination"],
  [/^\/deliveries\/?$/, "deliveries"],
  [/^\/events\/([\w-]+)$/, "event"],
  [/^\/export\/?$/, "export"],
  [/^\/event-types\/?$/, "event-types"],
];

export const DEFAULT_ROUTE = "/destinations";

/** {name, params, query} of a "#/path?query" hash, or null for an unknown path. */
export function parseRoute(hash) {
  const text = hash.replace(/^#/, "") || DEFAULT_ROUTE;
  const [path, search = ""] = text.split("?", 2);
  for (const [pattern, name] of ROUTES) {
    const match = pattern.exec(path);
    if (match) return { name, path, params: match.slice(1), query: new URLSearchParams(search) };
  }
  return null;
}

export function navigate(route) {
  const target = `#${route}`;
  if (location.hash === target) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = target;
}

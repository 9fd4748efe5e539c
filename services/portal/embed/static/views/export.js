// The signed, hash-chained export of the workspace's delivery log.

import { ApiError } from "../api.js";
import { h, replace } from "../dom.js";
import { pageHeader, render, section } from "./common.js";

export async function exportLog(ctx) {
  const result = h("div", { role: "status", "aria-live": "polite" });
  const button = h("button", { type: "button", class: "primary", onclick: async () => {
    button.disabled = true;
    replace(result, h("p", {}, "Preparing the export…"));
    try {
      const response = await ctx.api.download("/v1/workspace/log/export");
      const blob = await response.blob();
      const text = await blob.text();
      const lines = text.split("\n").filter(Boolean);
      const name = `signet-log-${ctx.workspace.id}-${new Date().toISOString().slice(0, 10)}.jsonl`;
      const href = URL.createObjectURL(new Blob([text], { type: "application/x-ndjson" }));
      const link = h("a", { href, download: name, class: "button secondary" }, `Save ${name}`);
      // A second, real click saves it: downloads from a frame need the user's gesture.
      replace(result, h("p", {}, `${lines.length} lines, ${blob.size.toLocaleString()} bytes, ending with the signed head.`), link);
      link.focus();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      replace(result, h("p", { class: "field-error" }, error.message));
    } finally {
      button.disabled = false;
    }
  } }, "Export signed log");
  render(ctx.main,
    pageHeader("Export the delivery log", { subtitle: "Prove what was delivered and what was not." }),
    section("Signed export",
      h("p", {}, "A JSON Lines file: every attempt in this workspace's log, each entry committing to the one before it (a hash chain), closed by a head signed with the platform's Ed25519 log key."),
      h("p", {}, "Verify it with ", h("code", {}, `signet verify-log FILE --portal-url ${location.origin}`),
        " — it checks every link and the signature, and names the first entry that does not match. The public key is at ",
        h("a", { href: "/v1/log-signing-key", target: "_blank", rel: "noopener" }, h("code", {}, "/v1/log-signing-key")), "."),
      button, result));
}

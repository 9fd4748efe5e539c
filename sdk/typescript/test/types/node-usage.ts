// Compiled by `npm run check` with Node's own types (@types/node): what a Node program
// passes in (req.headers, a Buffer, the global fetch and Headers) fits the declarations.

import { createServer } from "node:http";

import { SignatureError, SignetEventsClient, verify, type WebhookEvent } from "@signet/events";

export const client = new SignetEventsClient("pk_test_x", { fetch: globalThis.fetch });
export const faked = new SignetEventsClient("pk_test_x", {
  fetch: async (url: string) => new Response(JSON.stringify({ id: url }), { status: 202 }),
});

export const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    try {
      const event: WebhookEvent = verify(Buffer.concat(chunks), req.headers, ["whsec_x", "whpk_y"]);
      res.writeHead(200).end(event.id);
    } catch (error) {
      if (!(error instanceof SignatureError)) throw error;
      res.writeHead(400).end();
    }
  });
});

export function fromFetch(body: string, headers: Headers): string {
  return verify(body, headers, "whsec_x").type;
}

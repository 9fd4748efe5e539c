// A scripted ingest on 127.0.0.1 for the client's tests: answers in order, records requests.

import { createServer } from "node:http";

export async function scriptedIngest(...replies) {
  const requests = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      requests.push({ url: req.url, headers: req.headers, body: JSON.parse(Buffer.concat(chunks)) });
      const reply = replies.shift() ?? { status: 500, body: { title: "no reply scripted" } };
      if (reply.reset) return req.socket.destroy();
      const type = reply.status < 300 ? "application/json" : "application/problem+json";
      res.writeHead(reply.status, { "content-type": type, ...reply.headers });
      res.end(typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

export const accepted = (id = "evt_01JS3G8Q2W5RZ4Y7K9M2N6P0TV") => ({ status: 202, body: { id } });
export const unavailable = (headers = { "retry-after": "0" }) => ({
  status: 503,
  headers,
  body: { type: "https://signet.dev/problems/unavailable", title: "Service unavailable", status: 503 },
});

// types/*.d.ts are what openapi-typescript makes of docs/openapi/*.json today: regenerate
// them into a temporary folder and compare (fix with `make docs` or `npm run generate`).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const cli = join(root, "node_modules", "openapi-typescript", "bin", "cli.js");
const scratch = mkdtempSync(join(tmpdir(), "signet-types-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

for (const name of ["ingest", "portal"]) {
  test(`types/${name}.d.ts matches docs/openapi/${name}.json`, () => {
    const fresh = join(scratch, `${name}.d.ts`);
    const document = join(root, "..", "..", "docs", "openapi", `${name}.json`);
    execFileSync(process.execPath, [cli, document, "-o", fresh], { cwd: root, stdio: "pipe" });
    const committed = readFileSync(join(root, "types", `${name}.d.ts`), "utf8");
    assert.ok(
      readFileSync(fresh, "utf8") === committed,
      `types/${name}.d.ts is stale: run \`npm run --prefix sdk/typescript generate\` (or make docs)`,
    );
  });
}

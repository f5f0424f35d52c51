/**
 * Cost in fields: N fields on one datapoint, each added by its own update (one commit each),
 * then one query of everything; one child process per store and N so peak memory is its own.
 *   node bench/fields.mjs [N,N,...]   (default FIELDS or 1000,5000); stores: memory, duckdb (default file)
 * Before sharding (one events table with a column per field) 1,000 fields took 21 s and 6 GB on DuckDB.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const self = fileURLToPath(import.meta.url);
if (process.argv[2] === "--child") {
  const { Datasource } = await import("../dist/index.js");
  const [, , , n, store] = process.argv;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "quiver-ds-fields-"));
  const ds = await Datasource.getOrCreate({ name: "wide", path: dir, root: path.join(dir, ".quiver"), store: store === "duckdb" ? undefined : `memory:fields` });
  const t0 = performance.now();
  for (let i = 0; i < Number(n); i++) await ds.updateMetadata("a.jpg", { [`f${i}`]: i });
  const t1 = performance.now();
  const cols = (await ds.all()).table.numCols;
  const t2 = performance.now();
  await ds.close();
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify({ write: t1 - t0, query: t2 - t1, cols, rssMb: process.resourceUsage().maxRSS / 1024 }));
} else {
  const sizes = (process.argv[2] ?? process.env.FIELDS ?? "1000,5000")
    .split(",")
    .map(Number)
    .filter((x) => x > 0);
  console.log(`\n${"fields, one update each".padEnd(28)}${"store".padEnd(8)}${"writes".padStart(10)}${"per field".padStart(11)}${"query".padStart(9)}${"peak RSS".padStart(10)}`);
  for (const n of sizes) {
    for (const store of ["memory", "duckdb"]) {
      const r = spawnSync(process.execPath, [self, "--child", String(n), store], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(r.stderr);
      const m = JSON.parse(r.stdout.trim().split("\n").at(-1));
      console.log(
        `${String(n).padEnd(28)}${store.padEnd(8)}${`${(m.write / 1000).toFixed(2)} s`.padStart(10)}${`${(m.write / n).toFixed(1)} ms`.padStart(11)}${`${(m.query / 1000).toFixed(2)} s`.padStart(9)}${`${m.rssMb.toFixed(0)} MB`.padStart(10)}`,
      );
    }
  }
  console.log(
    `(load ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(" ")} on ${os.cpus().length} cores)`,
  );
}

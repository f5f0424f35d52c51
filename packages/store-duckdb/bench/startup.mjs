// A one-shot script in a new process: import, open a duckdb: store, log one row, close —
// next to the same with raw @duckdb/node-api (create table if missing, insert, close) and to a
// bare `node -e 0`, in one run; xetrack's figure from issue 16 (166–192 ms) for reference.
// `node bench/startup.mjs`. Also run by bench/run.mjs.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

export async function startupBench(rounds = 7) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "quiver-duckdb-start-"));
  // Written next to this file so that they resolve @quiver/* and @duckdb/node-api from this package.
  const ours = path.join(here, ".startup-ours.mjs");
  const raw = path.join(here, ".startup-raw.mjs");
  fs.writeFileSync(
    ours,
    `import { Tracker } from "@quiver/core";\nconst t = await Tracker.open("duckdb:" + process.argv[2]);\nawait t.log({ loss: 0.5, epoch: 1 });\nawait t.close();\n`,
  );
  fs.writeFileSync(
    raw,
    `import { DuckDBInstance } from "@duckdb/node-api";\nconst i = await DuckDBInstance.create(process.argv[2]);\nconst c = await i.connect();\nawait c.run('CREATE TABLE IF NOT EXISTS events (loss DOUBLE, epoch BIGINT, "timestamp" TIMESTAMP, track_id VARCHAR)');\nawait c.run("INSERT INTO events VALUES (0.5, 1, now()::TIMESTAMP, 'run')");\nc.closeSync();\ni.closeSync();\n`,
  );
  const time = (args) => {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
    if (r.status !== 0) throw new Error(`${args.join(" ")}: ${r.stderr}`);
    return performance.now() - t0;
  };
  const a = [];
  const b = [];
  const c = [];
  try {
    for (let i = 0; i < rounds; i++) {
      // Alternated, so both see the same load; each logs into its own file (a new one each time).
      a.push(time([ours, path.join(dir, `o${i}.db`)]));
      b.push(time([raw, path.join(dir, `r${i}.db`)]));
      c.push(time(["-e", "0"]));
    }
  } finally {
    fs.rmSync(ours, { force: true });
    fs.rmSync(raw, { force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { ours: median(a), raw: median(b), node: median(c) };
}

export async function main() {
  const r = await startupBench();
  console.log(`\n@quiver/store-duckdb startup: open + log one row + close in a new process (median of 7; target ≤ 250 ms)`);
  console.log(`Tracker.open/log/close (duckdb:)     ${r.ours.toFixed(0).padStart(5)} ms   ${r.ours <= 250 ? "ok" : "MISSED"}`);
  console.log(`raw @duckdb/node-api, same work      ${r.raw.toFixed(0).padStart(5)} ms   ratio ${(r.raw / r.ours).toFixed(2)}×`);
  console.log(`node -e 0                            ${r.node.toFixed(0).padStart(5)} ms`);
  console.log(`xetrack (Python, issue 16's figure)  166–192 ms`);
  return r.ours <= 250;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = (await main()) ? 0 : 1;

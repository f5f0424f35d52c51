/**
 * Exit conformance: a real child process logs with Tracker and Session, never calls close(), and
 * ends in each way a script ends — normally, `process.exit()`, an uncaught exception, an
 * unhandled rejection, SIGINT, SIGTERM, and SIGINT with a handler of the app's own. The parent
 * then reopens the store and counts every row.
 *
 * The child runs as an installed app would: a folder whose node_modules links @quiver/core and
 * the store's package, so the exit writer finds the store the way an app's code does.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Store } from "../store/contract.js";
import { Session } from "../series/session.js";
import { field } from "../query/query.js";
import { assetsTable, getAssetValue } from "../runs/assets.js";
import { assert, rowsOf, type TestApi } from "./harness.js";

export interface ExitTarget {
  /** Shown in test names. */
  name: string;
  /** Package name → its folder, linked into the child app's node_modules (the store's package). */
  packages: Record<string, string>;
  /** The store URI for a fresh location under `dir`. */
  uri(dir: string): string;
  /** Opens that URI in the test process, to count what the child left. */
  open(uri: string): Promise<Store>;
  /** Rows per front-end (default 5000). */
  rows?: number;
  timeout?: number;
}

type Ending = "normal" | "exit" | "exit-mid-write" | "exit-in-flush" | "throw" | "reject" | "SIGINT" | "SIGTERM" | "SIGINT-handled";
const ENDINGS: Ending[] = ["normal", "exit", "exit-mid-write", "exit-in-flush", "throw", "reject", "SIGINT", "SIGTERM", "SIGINT-handled"];

const CORE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

function script(frontEnd: "tracker" | "session", ending: Ending, uri: string, rows: number): string {
  const log =
    frontEnd === "tracker"
      ? `const t = await Tracker.open(${JSON.stringify(uri)}, { params: { model: "m" }, trackId: "run-1" });
// The last row holds an asset: the exit path writes it with the rows.
const binary = t.store.capabilities.kinds.includes("binary");
for (let i = 0; i < ${rows}; i++) await t.log(i === ${rows - 1} && binary ? { i, loss: 1 / (i + 1), weights: asset(new Uint8Array([1, 2, 3])) } : { i, loss: 1 / (i + 1) });`
      : `const s = await Session.open({ prefix: "exp/one", store: ${JSON.stringify(uri)} });
s.params.set({ lr: 0.1, opt: { name: "adam" } });
const track = s.track("train/loss");
for (let i = 0; i < ${rows}; i++) track.append({ i, loss: 1 / (i + 1) });
s.log("done", { level: "info" });
// The front-end's flush, for the "exit-in-flush" ending: a session's params and logs are written
// last in its flush, so they are started here themselves (they are in flight at the exit).
const t = { flush: () => Promise.all([s.params.flush(), s.logs.flush(), s.flush()]) };`;
  const end: Record<Ending, string> = {
    normal: "",
    exit: "process.exit(0);",
    // The logging pauses, so the buffer starts writing; the process exits while that write is in flight.
    "exit-mid-write": "setTimeout(() => process.exit(0), 8);",
    // A flush has begun (params, logs and points leave their buffers) when the process exits.
    "exit-in-flush": "t.flush().catch(() => {}); process.exit(0);",
    throw: `setTimeout(() => { throw new Error("boom in the training loop"); }, 5);`,
    reject: `Promise.reject(new Error("unhandled in the training loop"));`,
    SIGINT: `process.kill(process.pid, "SIGINT"); setTimeout(() => {}, 60000);`,
    SIGTERM: `process.kill(process.pid, "SIGTERM"); setTimeout(() => {}, 60000);`,
    "SIGINT-handled": `process.on("SIGINT", () => setTimeout(() => process.exit(7), 200)); process.kill(process.pid, "SIGINT"); setTimeout(() => {}, 60000);`,
  };
  return `import { Tracker, Session, asset } from "@quiver/core";\n${log}\n${end[ending]}\n`;
}

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

function run(file: string, cwd: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], { cwd, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stderr }));
  });
}

async function count(store: Store, table: string): Promise<number> {
  return (await store.schema(table)) ? store.count(table) : 0;
}

/** Registers one test per front-end and ending. */
export function exitTests(t: TestApi, target: ExitTarget): void {
  const rows = target.rows ?? 5000;
  t.describe(`${target.name}: nothing buffered is lost when a script ends without close()`, () => {
    for (const frontEnd of ["tracker", "session"] as const) {
      for (const ending of ENDINGS) {
        t.it(
          `${frontEnd}, ending by ${ending}`,
          async () => {
            const app = mkdtempSync(join(tmpdir(), "quiver-exit-app-"));
            try {
              mkdirSync(join(app, "node_modules", "@quiver"), { recursive: true });
              symlinkSync(CORE_DIR, join(app, "node_modules", "@quiver", "core"), "dir");
              for (const [name, dir] of Object.entries(target.packages)) if (name !== "@quiver/core") symlinkSync(dir, join(app, "node_modules", ...name.split("/")), "dir");
              writeFileSync(join(app, "package.json"), JSON.stringify({ type: "module", private: true }));
              const uri = target.uri(join(app, "data"));
              const file = join(app, "train.mjs");
              writeFileSync(file, script(frontEnd, ending, uri, rows));
              const r = await run(file, app);
              // The script ends as it would have without Quiver: signal deaths stay signal deaths.
              if (ending === "SIGINT" || ending === "SIGTERM") assert.equal(r.signal, ending, `expected death by ${ending}: ${r.stderr}`);
              else if (ending === "SIGINT-handled") assert.equal(r.code, 7, r.stderr);
              else if (ending === "throw" || ending === "reject") assert.equal(r.code, 1, r.stderr);
              else assert.equal(r.code, 0, r.stderr);
              assert.ok(!r.stderr.includes("could not be written"), r.stderr);
              const store = await target.open(uri);
              try {
                const table = frontEnd === "tracker" ? "events" : "exp/one/tracks/train/loss";
                assert.equal(await count(store, table), rows, `rows of ${table} after ${ending}`);
                // Each row exactly once: no loss hidden by a duplicate.
                const seen = (await rowsOf(store, table, { columns: ["i"] })).map((r) => Number(r.i)).sort((a, b) => a - b);
                assert.ok(
                  seen.every((v, k) => v === k),
                  `rows 0..${rows - 1} once each`,
                );
                if (frontEnd === "tracker" && store.capabilities.kinds.includes("binary")) {
                  const [last] = await rowsOf(store, table, { where: field("i").eq(rows - 1).node, columns: ["weights"] });
                  assert.deepEqual(await getAssetValue(store, assetsTable(table), last!.weights as string), new Uint8Array([1, 2, 3]), `the asset after ${ending}`);
                }
                if (frontEnd === "session") {
                  assert.equal(await count(store, "exp/one/logs"), 1, `log entries after ${ending}`);
                  const s = await Session.open({ prefix: "exp/one", store });
                  assert.deepEqual(await s.params.get(), { lr: 0.1, "opt.name": "adam" });
                  await s.close();
                }
              } finally {
                await store.close();
              }
            } finally {
              rmSync(app, { recursive: true, force: true });
            }
          },
          target.timeout ?? 60_000,
        );
      }
    }
  });
}

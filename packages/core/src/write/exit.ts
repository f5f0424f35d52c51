/**
 * Exit durability: what the front-ends buffered is written when the process ends, however it
 * ends short of SIGKILL.
 *
 * - Normal end (the event loop empties): `beforeExit` awaits every buffer's flush.
 * - SIGINT / SIGTERM / SIGHUP: the same async flush; then, unless the app has a handler of its
 *   own for that signal, the process dies of the signal as it would have without us.
 * - `process.exit()`, an uncaught exception or unhandled rejection: only synchronous code runs
 *   in `exit`, and no store driver can commit synchronously. So the buffered rows are taken as
 *   Arrow batches, each store lets go of its files and locks (`closeSync`), and a child process
 *   (`exit-writer.js`) opens the same locations and appends them, while this process waits. If
 *   that fails, the batches are left as Arrow IPC files and their folder is printed on stderr.
 *
 * Not covered (documented in the README): SIGKILL, an OOM kill or power loss lose what was
 * buffered and not yet flushed (at most `flushInterval`, 1 s by default, or `batchSize` rows);
 * a write in flight at the instant of `process.exit()` is settled by its store's receipt
 * (AppendReceipt): taken again unless committed, with its token where the store cannot know yet.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type RecordBatch, Table, tableToIPC } from "apache-arrow";
import type { AppendOptions, Store, StoreOpenOptions } from "../store/contract.js";
import { HELD_BY_PARENT } from "./exit-codes.js";

/** What a front-end hands over at exit: a batch for a table of a store. */
export interface ExitBatch {
  store: Store;
  /** Options the store was opened with (passed again to reopen it in the exit writer). */
  storeOptions?: StoreOpenOptions;
  table: string;
  batch: RecordBatch;
  layout?: AppendOptions["layout"];
  /** The token of an append in doubt (AppendReceipt.token): appended again with it. */
  token?: string;
}

/** A front-end with a buffer, as the exit hook sees it. */
export interface ExitParticipant {
  /** Items buffered and not yet written. */
  readonly pending: number;
  /** Writes what is buffered (normal end, signals). */
  flush(): Promise<void>;
  /**
   * Synchronously takes what is buffered as batches for the exit writer (or writes it itself,
   * when it can do so synchronously, and returns nothing). Called at most once, at exit.
   */
  takeSync(): ExitBatch[];
  /** Optional: lets go of files and locks synchronously (after takeSync, as the process ends). */
  release?(): void;
}

const live = new Set<ExitParticipant>();
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
let installed = false;
/** Participants whose flush failed at beforeExit: left to the exit writer, not retried in a loop. */
const gaveUp = new WeakSet<ExitParticipant>();
/** Stores that teeStore fans out to: the exit writer must write each of them. */
export const storeMembers = new WeakMap<Store, readonly Store[]>();

/** Registers a front-end to be flushed when the process ends; returns the unregister function. */
export function onProcessExit(p: ExitParticipant): () => void {
  install();
  live.add(p);
  return () => void live.delete(p);
}

function report(msg: string): void {
  try {
    process.stderr.write(`[quiver] ${msg}\n`);
  } catch {
    /* stderr closed: nothing more we can do */
  }
}

async function flushAll(skipGivenUp: boolean): Promise<void> {
  const todo = [...live].filter((p) => p.pending > 0 && !(skipGivenUp && gaveUp.has(p)));
  const results = await Promise.allSettled(todo.map((p) => p.flush()));
  results.forEach((r, i) => {
    if (r.status === "rejected") {
      gaveUp.add(todo[i]!);
      report(`could not flush at exit: ${(r.reason as Error)?.message ?? r.reason}`);
    }
  });
}

let flushing = false;
function onBeforeExit(): void {
  if (flushing || ![...live].some((p) => p.pending > 0 && !gaveUp.has(p))) return;
  flushing = true;
  // Scheduling this work keeps the loop alive; beforeExit fires again once it is done.
  void flushAll(true).finally(() => (flushing = false));
}

const signalled = new Set<string>();
function onSignal(sig: NodeJS.Signals): void {
  if (signalled.has(sig)) {
    // A second signal while flushing: stop waiting, hand the rest to the exit writer.
    process.exit(128 + (sig === "SIGINT" ? 2 : sig === "SIGTERM" ? 15 : 1));
  }
  signalled.add(sig);
  const own = process.listenerCount(sig) > 1; // the app handles it: flush, and let the app decide
  void (async () => {
    // Loops may keep logging while we flush; a few rounds catch what they add meanwhile.
    for (let round = 0; round < 5 && [...live].some((p) => p.pending > 0 && !gaveUp.has(p)); round++) await flushAll(true);
    signalled.delete(sig);
    if (own) return;
    // Dying of a signal runs no `exit` handlers: hand over what is left and close files and
    // locks now, so no lock file or half-open HDF5 file outlives the process.
    onExit();
    process.removeListener(sig, onSignal);
    // Handlers added since then decide; otherwise die of the signal as Node would.
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  })();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on("beforeExit", onBeforeExit);
  process.on("exit", onExit);
  for (const sig of SIGNALS) process.on(sig, onSignal);
}

/** Where the exit writer finds a store: its own URI, or each member of a tee. */
function targets(store: Store): Store[] {
  const members = storeMembers.get(store);
  return members ? members.flatMap(targets) : [store];
}

function jsonOptions(options: StoreOpenOptions | undefined): StoreOpenOptions | undefined {
  if (!options) return undefined;
  try {
    return JSON.parse(JSON.stringify(options, (_k, v: unknown) => (typeof v === "function" || typeof v === "bigint" ? undefined : v))) as StoreOpenOptions;
  } catch {
    return undefined;
  }
}

/** The exit writer's manifest: stores in the order met, each with its batches in order. */
export interface ExitManifest {
  stores: { uri: string; options?: StoreOpenOptions; items: { table: string; file: string; layout?: AppendOptions["layout"]; token?: string; rows: number }[] }[];
}

function onExit(): void {
  const batches: ExitBatch[] = [];
  const all = [...live];
  live.clear();
  for (const p of all) {
    try {
      batches.push(...p.takeSync());
    } catch (err) {
      report(`could not take buffered rows at exit: ${(err as Error)?.message ?? err}`);
    }
  }
  if (batches.length > 0) writeAtExit(batches);
  for (const p of all) {
    try {
      p.release?.();
    } catch {
      /* release must not throw; the OS closes what is left */
    }
  }
}

/** Hands `batches` to a child process that reopens their stores and appends them (sync). */
export function writeAtExit(batches: readonly ExitBatch[]): void {
  const byUri = new Map<string, ExitManifest["stores"][number]>();
  const release = new Set<Store>();
  let dir: string | undefined;
  let n = 0;
  let rows = 0;
  for (const b of batches) {
    if (b.batch.numRows === 0) continue;
    for (const store of targets(b.store)) {
      if (!store.capabilities.persistent) continue; // memory: nothing outlives the process anyway
      dir ??= mkdtempSync(join(tmpdir(), "quiver-exit-"));
      const file = join(dir, `${n++}.arrow`);
      writeFileSync(file, tableToIPC(new Table([b.batch]), "file"));
      let entry = byUri.get(store.uri);
      if (!entry) byUri.set(store.uri, (entry = { uri: store.uri, options: jsonOptions(b.storeOptions), items: [] }));
      entry.items.push({ table: b.table, file, layout: b.layout, token: b.token, rows: b.batch.numRows });
      release.add(store);
      rows += b.batch.numRows;
    }
  }
  if (!dir) return;
  for (const s of release) {
    try {
      s.closeSync?.();
    } catch {
      /* closeSync must not throw; if it does, the writer reports the lock it meets */
    }
  }
  const manifest: ExitManifest = { stores: [...byUri.values()] };
  const path = join(dir, "manifest.json");
  writeFileSync(path, JSON.stringify(manifest));
  const writer = fileURLToPath(new URL("./exit-writer.js", import.meta.url));
  const env = { ...process.env, QUIVER_APP_ENTRY: process.argv[1] ?? "", QUIVER_EXIT_PARENT: String(process.pid) };
  const r = spawnSync(process.execPath, [writer, path], { stdio: ["ignore", "inherit", "inherit"], env, timeout: 120_000 });
  if (r.status === 0) {
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  if (r.status === HELD_BY_PARENT) {
    // A store's lock is still ours (a native call outlived closeSync): the OS releases it when
    // this process ends, so a successor writes what is left once we are gone. The files are on
    // disk already; the successor removes them when everything is written.
    try {
      const child = spawn(process.execPath, [writer, path], { detached: true, stdio: ["ignore", "ignore", "inherit"], env: { ...env, QUIVER_EXIT_AFTER: String(process.pid) } });
      child.unref();
      report(
        `the rows buffered at exit for a store this process still holds are written by process ${child.pid} once this one has ended; should that fail, they stay as Arrow IPC files in ${dir} (manifest.json names each store and table)`,
      );
      return;
    } catch (err) {
      report(`could not start the exit writer's successor: ${(err as Error)?.message ?? err}`);
    }
  }
  const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit code ${r.status}`;
  report(`${rows} rows buffered at exit could not be written (${why}); they are kept as Arrow IPC files in ${dir} (manifest.json names each store and table)`);
}

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures");
export const PYTHON = fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

const made: string[] = [];
export function tmpRoot(tag = "t"): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `quiver-msgpack-${tag}-`));
  made.push(d);
  return d;
}
export function cleanup(): void {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

/** Runs Python code that prints one JSON document; returns it parsed. */
export function python(code: string): unknown {
  const out = execFileSync(PYTHON, ["-c", code], { encoding: "utf8" });
  return JSON.parse(out);
}

/**
 * Python: every record of a msgpack-lines file, read as the seed reads it (msgpack.Unpacker),
 * skipping the integer 10 each record's "\n" separator decodes to, as dreamlake's reader does.
 */
export function pythonObjects(file: string): unknown[] {
  return python(`
import json, msgpack, datetime
def conv(o):
    if isinstance(o, bytes): return {"bytes": list(o)}
    if isinstance(o, msgpack.Timestamp): return {"timestamp": o.to_unix()}
    if isinstance(o, dict): return {k: conv(v) for k, v in o.items()}
    if isinstance(o, list): return [conv(v) for v in o]
    if isinstance(o, float): return {"float": o}
    return o
print(json.dumps([conv(o) for o in msgpack.Unpacker(open(${JSON.stringify(file)}, 'rb'), raw=False) if o != 10]))
`) as unknown[];
}

export function run(script: string, args: string[]): ChildProcess {
  return spawn(process.execPath, [path.join(fixtures, script), ...args], { stdio: ["ignore", "pipe", "pipe"] });
}

export function waitFor(child: ChildProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = "";
    let err = "";
    child.stdout!.on("data", (d) => {
      buf += d;
      if (buf.includes(line)) resolve();
    });
    child.stderr!.on("data", (d) => (err += d));
    child.on("exit", (code) => (buf.includes(line) ? resolve() : reject(new Error(`child exited ${code} before "${line}": ${err}`))));
  });
}

export function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    child.on("exit", (code) => resolve(code));
  });
}

/** Every file under a folder (relative paths), for "nothing written outside the root". */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else out.push(r);
    }
  };
  if (fs.existsSync(dir)) walk(dir, "");
  return out.sort();
}

/** Python: how many objects a msgpack file holds and how many rows they make (columnar maps count their length). */
export function pythonSummary(file: string): { objects: number; rows: number } {
  return python(`
import json, msgpack
objects = rows = 0
for o in msgpack.Unpacker(open(${JSON.stringify(file)}, 'rb'), raw=False):
    if o == 10: continue  # the newline after each record
    objects += 1
    v = o.get("_ts")
    rows += len(v) if isinstance(v, list) else 1
print(json.dumps({"objects": objects, "rows": rows}))
`) as { objects: number; rows: number };
}

/** The PID of a process that has exited (for stale lock files). */
export async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await exited(child);
  return child.pid!;
}

/** Writes the lock file a Quiver writer killed while appending to `dataFile` at `offset` leaves behind. */
export function staleWriterLock(lockFile: string, pid: number, dataFile: string, offset: number): void {
  const ino = fs.statSync(dataFile, { bigint: true }).ino;
  fs.writeFileSync(lockFile, `${pid}\n${os.hostname()}\n${`w ${ino} ${offset}`.padEnd(47)}\n`);
}

/** Every file under a folder with a hash of its bytes, to prove that reading changed nothing. */
export function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(
    listTree(dir).map((f) => [
      f,
      createHash("sha256")
        .update(fs.readFileSync(path.join(dir, f)))
        .digest("hex"),
    ]),
  );
}

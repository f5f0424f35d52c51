import { type ChildProcess, execFileSync, spawn } from "node:child_process";
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

/** Python: every object of a msgpack file, exactly as the seed reads it. */
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
print(json.dumps([conv(o) for o in msgpack.Unpacker(open(${JSON.stringify(file)}, 'rb'), raw=False)]))
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
    objects += 1
    v = o.get("_ts")
    rows += len(v) if isinstance(v, list) else 1
print(json.dumps({"objects": objects, "rows": rows}))
`) as { objects: number; rows: number };
}

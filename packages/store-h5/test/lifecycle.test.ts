/**
 * How files begin and end: every way a process ends (real child processes, files read with h5py),
 * closeSync() handing the file to another process, a new file never left dead, the message for a
 * dead file left by older versions, and readOnly opens that never write.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isQuiverError, openStore, rowsToBatch } from "@quiver/core";
import { H5Logger } from "../dist/index.js";
import { fixtures, py, run, tmpDir, tool } from "./helpers.js";

const dir = tmpDir("life");
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const node = process.execPath;
const MODES = ["normal", "exit", "throw", "sigint", "sigterm"] as const;
const N = 5000;

/** Runs exit-paths.mjs for `kind` ending in `mode`; resolves with how it ended. */
async function endChild(file: string, kind: string, mode: (typeof MODES)[number]) {
  const w = run(node, [path.join(fixtures, "exit-paths.mjs"), file, kind, mode], {
    onLine: (l) => {
      if (l === "waiting") w.child.kill(mode === "sigint" ? "SIGINT" : "SIGTERM");
    },
  });
  const res = await w.done;
  const expected = mode === "sigint" ? { signal: "SIGINT" } : mode === "sigterm" ? { signal: "SIGTERM" } : { code: mode === "throw" ? 1 : 0 };
  if ("signal" in expected) expect(res.signal, res.err).toBe(expected.signal);
  else expect(res.code, res.err).toBe(expected.code);
  return res;
}

const hash = (p: string) => createHash("sha256").update(fs.readFileSync(p)).digest("hex");

describe("every way a process ends", () => {
  for (const mode of MODES) {
    it(`H5Logger: ${N} buffered values are written when the process ends by ${mode}`, async () => {
      const p = path.join(dir, `logger-${mode}.h5`);
      await endChild(p, "logger", mode);
      const out = py(
        "import h5py,sys,numpy as np\nf=h5py.File(sys.argv[1],'r')\nv=f['v'][:]\ni=f['img'][:]\nprint(len(v), bool((v==np.arange(len(v))).all()), i.shape, bool((i[:,1,1]==np.arange(len(i))).all()))",
        p,
      );
      expect(out.trim()).toBe(`${N} True (${N}, 2, 2) True`);
      expect(fs.existsSync(`${p}.lock`)).toBe(false);
    }, 30_000);

    it(`Tracker over h5: ${N} buffered rows are written when the process ends by ${mode}`, async () => {
      const p = path.join(dir, `tracker-${mode}.h5`);
      await endChild(p, "tracker", mode);
      const out = py(
        "import h5py,sys,json,numpy as np\ng=h5py.File(sys.argv[1],'r')['events']\nm=json.loads(g.attrs['quiver_table'])\ni=g['i'][:]\nprint(m['rows'], len(i), bool((np.sort(i)==np.arange(len(i))).all()))",
        p,
      );
      expect(out.trim()).toBe(`${N} ${N} True`);
    }, 60_000);

    it(`a new h5: store never written is a valid HDF5 file when the process ends by ${mode}`, async () => {
      const p = path.join(dir, `new-${mode}.h5`);
      await endChild(p, "store", mode);
      expect(fs.statSync(p).size).toBeGreaterThan(48);
      expect(tool("h5dump", "-H", p)).toContain('GROUP "/"');
      expect(py("import h5py,sys\nprint(list(h5py.File(sys.argv[1],'r').keys()))", p).trim()).toBe("[]");
      expect(fs.readdirSync(dir).filter((f) => f.startsWith(`new-${mode}.h5.`) && !f.endsWith(".lock"))).toEqual([]); // no temp file left
      const store = await openStore(`h5:${p}`); // the lock of the dead process is taken over
      await store.append("t", rowsToBatch([{ a: 1 }]));
      await store.close();
    }, 30_000);
  }
});

describe("H5Logger next to core's exit hook", () => {
  for (const mode of ["sigint", "sigterm", "exit", "throw"] as const) {
    it(`a Tracker and an H5Logger in one process both keep everything when it ends by ${mode}`, async () => {
      const p = path.join(dir, `mixed-${mode}.h5`);
      await endChild(p, "mixed", mode);
      expect(py("import h5py,sys\nprint(len(h5py.File(sys.argv[1],'r')['v']))", p).trim()).toBe(String(N));
      expect(py("import h5py,sys,json\nprint(json.loads(h5py.File(sys.argv[1],'r')['events'].attrs['quiver_table'])['rows'])", p.replace(/\.h5$/, ".tracker.h5")).trim()).toBe(
        String(N),
      );
      expect(fs.existsSync(`${p}.lock`)).toBe(false);
    }, 60_000);
  }

  it("an app with its own signal handler decides: the logger stays usable in it", async () => {
    const p = path.join(dir, "apphandler.h5");
    const w = run(node, [path.join(fixtures, "exit-paths.mjs"), p, "apphandler", "sigint"], {
      onLine: (l) => {
        if (l === "waiting") w.child.kill("SIGINT");
      },
    });
    const res = await w.done;
    expect(res.code, res.err).toBe(3);
    expect(py("import h5py,sys\nprint(len(h5py.File(sys.argv[1],'r')['v']))", p).trim()).toBe(String(N + 10));
  }, 30_000);
});

describe("closeSync", () => {
  it("lets another process open the file right after; idempotent", async () => {
    const p = path.join(dir, "release.h5");
    let released!: () => void;
    const isReleased = new Promise<void>((r) => (released = r));
    const w = run(node, [path.join(fixtures, "exit-paths.mjs"), p, "release", "none"], {
      onLine: (l) => {
        if (l === "released") released();
      },
    });
    await isReleased;
    // The child is alive, its store closed synchronously: the lock is free and the file complete.
    expect(fs.existsSync(`${p}.lock`)).toBe(false);
    expect(py("import h5py,sys\nprint(len(h5py.File(sys.argv[1],'r')['t/i']))", p).trim()).toBe("10");
    const store = await openStore(`h5:${p}`);
    await store.append("t", rowsToBatch([{ i: 10 }]));
    expect(await store.count("t")).toBe(11);
    await store.close();
    w.child.kill("SIGKILL");
    await w.done;
  }, 30_000);

  it("never throws and closes the store (CLOSED afterwards)", async () => {
    const store = await openStore(`h5:${path.join(dir, "cs.h5")}`);
    await store.append("t", rowsToBatch([{ i: 1 }]));
    store.closeSync!();
    store.closeSync!();
    const err = await store.count("t").catch((e: unknown) => e);
    expect(isQuiverError(err, "CLOSED")).toBe(true);
  });
});

describe("a file left dead by an older version (ended before its first flush)", () => {
  it("is diagnosed exactly, with what works, by every open; nothing touches it", async () => {
    const p = path.join(dir, "dead.h5");
    const res = await run(node, [path.join(fixtures, "dead-file.mjs"), p]).done;
    expect(res.code, res.err).toBe(0);
    expect(fs.statSync(p).size).toBe(48);
    const before = hash(p);
    for (const open of [() => openStore(`h5:${p}`), () => openStore(`h5:${p}`, { readOnly: true }), () => H5Logger.open(p), () => H5Logger.read(p)]) {
      const err = await open().catch((e: unknown) => e);
      expect(isQuiverError(err, "IO"), String(err)).toBe(true);
      const msg = (err as Error).message;
      expect(msg).toContain(p);
      expect(msg).toContain("holds no data");
      expect(msg).toContain("h5clear cannot repair it; delete it and open again");
      expect(msg).not.toMatch(/run .*h5clear|`h5clear/);
    }
    expect(hash(p)).toBe(before);
    expect(fs.existsSync(`${p}.lock`)).toBe(false);
    fs.rmSync(p);
    const store = await openStore(`h5:${p}`); // what the message says works
    await store.append("t", rowsToBatch([{ a: 1 }]));
    await store.close();
  }, 30_000);

  it("a non-HDF5 or empty file is named as such", async () => {
    const junk = path.join(dir, "junk.h5");
    fs.writeFileSync(junk, "not hdf5 at all, just text");
    const err = await openStore(`h5:${junk}`).catch((e: unknown) => e);
    expect(isQuiverError(err, "IO")).toBe(true);
    expect((err as Error).message).toMatch(/is not an HDF5 file/);
    const empty = path.join(dir, "empty.h5");
    fs.writeFileSync(empty, "");
    const err2 = await openStore(`h5:${empty}`, { readOnly: true }).catch((e: unknown) => e);
    expect((err2 as Error).message).toMatch(/is empty \(0 bytes\)/);
    expect(fs.statSync(empty).size).toBe(0);
  });
});

describe("readOnly: true", () => {
  it("is NOT_FOUND for a missing file and creates nothing", async () => {
    const p = path.join(dir, "ro-missing", "x.h5");
    const err = await openStore(`h5:${p}`, { readOnly: true }).catch((e: unknown) => e);
    expect(isQuiverError(err, "NOT_FOUND"), String(err)).toBe(true);
    expect(fs.existsSync(path.dirname(p))).toBe(false);
  });

  it("reads without locking or writing, even while a writer in another process holds the file, and refuses writes with UNSUPPORTED", async () => {
    const p = path.join(dir, "ro.h5");
    const w = await openStore(`h5:${p}`);
    await w.append("t", rowsToBatch([{ i: 1 }, { i: 2 }]));
    await w.close();
    const before = hash(p);
    const mtime = fs.statSync(p).mtimeMs;
    const a = await openStore(`h5:${p}`, { readOnly: true });
    const b = await openStore(`h5:${p}`, { readOnly: true });
    expect(fs.existsSync(`${p}.lock`)).toBe(false);
    expect(await a.count("t")).toBe(2);
    expect(await b.tables()).toEqual(["t"]);
    for (const write of [() => a.append("t", rowsToBatch([{ i: 3 }])), () => a.update("t", undefined, { i: 0 }), () => a.delete("t", undefined), () => a.drop("t")]) {
      const err = await write().catch((e: unknown) => e);
      expect(isQuiverError(err, "UNSUPPORTED"), String(err)).toBe(true);
      expect((err as Error).message).toContain("readOnly");
    }
    await a.flush();
    a.closeSync!();
    await b.close();
    expect(hash(p)).toBe(before);
    expect(fs.statSync(p).mtimeMs).toBe(mtime);
  });
});

/**
 * Faults on a real disk: a small tmpfs that fills up, and a tmpfs remounted read-only. What was
 * acknowledged must stay readable by h5dump and h5py, the fault must be QuiverError("IO") naming
 * the file, and the retry once the fault is gone must write every row exactly once.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { isQuiverError, openStore, type QuiverError, rowsToBatch } from "@quiver/core";
import { H5Logger } from "../dist/index.js";
import { fixtures, py, run, tmpDir, tool } from "./helpers.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Mounts a tmpfs of `size`; undefined (and why) when mount is refused here. */
function tmpfs(size: string): { dir: string } | { why: string } {
  const dir = tmpDir("tmpfs");
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { encoding: "utf8" });
  if (r.status !== 0) return { why: `mount -t tmpfs refused: ${(r.stderr || r.error?.message || "").trim()}` };
  return { dir };
}
function umount(dir: string): void {
  // A failed test may leave a file open there: detach lazily rather than leave the mount behind.
  if (spawnSync("umount", [dir]).status !== 0) spawnSync("umount", ["-l", dir]);
  fs.rmSync(dir, { recursive: true, force: true });
}
function remount(dir: string, mode: "ro" | "rw"): void {
  const r = spawnSync("mount", ["-o", `remount,${mode}`, dir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`remount ${mode} failed: ${r.stderr}`);
}
/** Fills the disk of `dir` until `leave` bytes are free; returns the filler to delete. */
function fill(dir: string, leave: number): string {
  const filler = path.join(dir, "filler");
  const st = fs.statfsSync(dir);
  const free = st.bavail * st.bsize;
  fs.writeFileSync(filler, Buffer.alloc(Math.max(0, free - leave)));
  return filler;
}

function expectIO(err: unknown, file: string, code: string): QuiverError {
  expect(isQuiverError(err, "IO"), String(err)).toBe(true);
  const e = err as QuiverError;
  expect(e.message).toContain(file);
  expect((e.cause as NodeJS.ErrnoException)?.code).toBe(code);
  return e;
}

const rows = (start: number, n: number) => Array.from({ length: n }, (_, k) => ({ i: start + k, s: `row ${start + k}`, x: start + k + 0.5 }));

/** h5py reads table `t` and checks it holds rows 0…n-1 exactly, each once. */
function pyTable(file: string, n: number): string {
  return py(
    [
      "import h5py,sys,json,numpy as np",
      "g=h5py.File(sys.argv[1],'r')['t']; n=int(sys.argv[2])",
      "meta=json.loads(g.attrs['quiver_table']); i=g['i'][:len(g['i'])]",
      "assert meta['rows']==n and len(i)==n, (meta['rows'], len(i), n)",
      "assert (i==np.arange(n)).all(), 'i differs'",
      "b=g['s'][:].tobytes(); o=[0]+[int(x) for x in g['s.offsets'][:]]",
      "assert all(b[o[k]:o[k+1]].decode()==f'row {k}' for k in range(n)), 's differs'",
      "assert (g['x'][:]==np.arange(n)+0.5).all(), 'x differs'",
      "print('ok', n)",
    ].join("\n"),
    file,
    String(n),
  ).trim();
}

/** h5py reads logger dataset `v` and checks it holds 0…n-1 exactly. */
function pyStream(file: string, n: number): string {
  return py(
    "import h5py,sys,numpy as np\nv=h5py.File(sys.argv[1],'r')['v'][:]\nn=int(sys.argv[2])\nassert len(v)==n,(len(v),n)\nassert (v==np.arange(n)).all(),'values differ'\nprint('ok',n)",
    file,
    String(n),
  ).trim();
}

const full = tmpfs("1m");
const ro = tmpfs("4m");
afterAll(() => {
  for (const m of [full, ro]) if ("dir" in m) umount(m.dir);
});

describe.skipIf("why" in full)(`a full disk${"why" in full ? ` (skipped: ${full.why})` : ""}`, () => {
  // A fresh 1 MiB tmpfs per test: one test's files and fillers never fill the next one's disk.
  let dir = "";
  let filler = "";
  const opened: { close(): Promise<void> }[] = [];
  beforeEach(() => {
    const m = tmpfs("1m");
    if ("why" in m) throw new Error(m.why);
    dir = m.dir;
  });
  afterEach(async () => {
    fs.rmSync(filler, { force: true });
    for (const o of opened.splice(0)) await o.close().catch(() => undefined);
    umount(dir);
  });

  it("h5 store: append rejects with IO, acknowledged rows stay exact for h5dump/h5py, the retry writes each row once", async () => {
    const p = path.join(dir, "store.h5");
    const store = await openStore(`h5:${p}`);
    opened.push(store);
    await store.append("t", rowsToBatch(rows(0, 200)));
    filler = fill(dir, 100 * 1024);
    let acked = 200;
    let err: unknown;
    for (let k = 0; k < 500 && !err; k++) {
      try {
        await store.append("t", rowsToBatch(rows(acked, 200)));
        acked += 200;
      } catch (e) {
        err = e;
      }
    }
    expect(acked).toBeGreaterThan(200);
    const e = expectIO(err, p, "ENOSPC");
    expect(e.message).toMatch(/disk is full.*free space/);
    // The store stays usable and the file is exactly what was acknowledged, for us and for other processes.
    expect(await store.count("t")).toBe(acked);
    expect(tool("h5dump", "-H", p)).toContain('GROUP "t"');
    expect(pyTable(p, acked)).toBe(`ok ${acked}`);
    // update/delete rewrite in place: refused whole, nothing changes.
    const upd = await store.update("t", undefined, { s: "x".repeat(64) }).catch((x: unknown) => x);
    expectIO(upd, p, "ENOSPC");
    expect(pyTable(p, acked)).toBe(`ok ${acked}`);
    // The fault is gone: the same batch again, then more.
    fs.rmSync(filler);
    await store.append("t", rowsToBatch(rows(acked, 200)));
    acked += 200;
    await store.append("t", rowsToBatch(rows(acked, 200)));
    acked += 200;
    await store.close();
    expect(pyTable(p, acked)).toBe(`ok ${acked}`);
    expect(tool("h5dump", "-d", "/t/i", "-s", String(acked - 1), "-c", "1", p).replace(/\s+/g, " ")).toContain(`(${acked - 1}): ${acked - 1}`);
  }, 60_000);

  it("H5Logger: background writes report to onError and never throw; flush() rejects with IO; the retry writes every value once", async () => {
    const p = path.join(dir, "logger.h5");
    const errors: QuiverError[] = [];
    const l = await H5Logger.open(p, { replaceIfExists: true, flushEvery: 1000, flushInterval: 20, onError: (e) => errors.push(e) });
    opened.push(l);
    let i = 0;
    while (i < 1000) l.log("v", i++);
    await l.flush(); // acknowledged: must survive what follows
    filler = fill(dir, 24 * 1024);
    while (errors.length === 0 && i < 400_000) {
      l.log("v", i++); // never throws while below maxBufferBytes
      if (i % 1000 === 0) await sleep(1);
    }
    expect(errors.length).toBeGreaterThan(0);
    expectIO(errors[0], p, "ENOSPC");
    for (let k = 0; k < 5000; k++) l.log("v", i++);
    await sleep(300); // the idle timer retries, fails, reports: the process lives on
    const err = await l.flush().catch((e: unknown) => e);
    expectIO(err, p, "ENOSPC");
    const committed = i - l.pending;
    expect(l.pending).toBeGreaterThan(5000);
    expect(pyStream(p, committed)).toBe(`ok ${committed}`);
    fs.rmSync(filler);
    await l.flush();
    expect(l.pending).toBe(0);
    expect(pyStream(p, i)).toBe(`ok ${i}`);
    await l.close();
    expect(pyStream(p, i)).toBe(`ok ${i}`);
  }, 60_000);

  it("H5Logger: past maxBufferBytes log() throws IO without taking the value; nothing taken is lost", async () => {
    const p = path.join(dir, "capped.h5");
    const l = await H5Logger.open(p, { replaceIfExists: true, flushEvery: 256, flushInterval: 0, maxBufferBytes: 64 * 1024, onError: () => undefined });
    opened.push(l);
    filler = fill(dir, 8 * 1024);
    let taken = 0;
    let thrown: unknown;
    for (let k = 0; k < 1_000_000; k++) {
      try {
        l.log("v", k);
        taken++;
      } catch (e) {
        thrown = e;
        break;
      }
    }
    const e = expectIO(thrown, p, "ENOSPC");
    expect(e.message).toContain("maxBufferBytes");
    expect(taken * 8).toBeLessThanOrEqual(64 * 1024);
    fs.rmSync(filler);
    l.log("v", taken++); // taken again once the disk has room
    await l.close();
    expect(pyStream(p, taken)).toBe(`ok ${taken}`);
  }, 60_000);

  it("H5Logger with concurrentReaders: a rollback restores the SWMR file, which reopens and keeps SWMR", async () => {
    const p = path.join(dir, "swmr.h5");
    const l = await H5Logger.open(p, { replaceIfExists: true, concurrentReaders: true, datasets: { v: { shape: [], dtype: "float64", chunkRows: 256 } }, flushInterval: 0 });
    opened.push(l);
    for (let k = 0; k < 100; k++) l.log("v", k);
    await l.flush();
    filler = fill(dir, 4 * 1024);
    for (let k = 100; k < 20_100; k++) l.log("v", k);
    expectIO(await l.flush().catch((x: unknown) => x), p, "ENOSPC");
    const swmrRead = "import h5py,sys\nf=h5py.File(sys.argv[1],'r',libver='latest',swmr=True)\nprint(len(f['v']))";
    expect(py(swmrRead, p).trim()).toBe("100");
    fs.rmSync(filler);
    await l.flush();
    expect(py(swmrRead, p).trim()).toBe("20100");
    expect(() => l.log("new", 1)).toThrow(/SWMR/); // still in SWMR mode after the reopen
    await l.close();
    expect(pyStream(p, 20_100)).toBe("ok 20100");
  }, 60_000);

  it("the background timer of a child on a full disk never kills it; it warns once per error and writes everything at exit", async () => {
    const p = path.join(dir, "child.h5");
    fs.rmSync(p, { force: true });
    filler = fill(dir, 64 * 1024);
    const w = run(process.execPath, [path.join(fixtures, "full-disk-logger.mjs"), p, "60000"], {
      onLine: (line) => {
        if (line.startsWith("failing")) {
          fs.rmSync(filler);
          fs.writeFileSync(`${p}.freed`, "");
        }
      },
    });
    const res = await w.done;
    expect(res.code, res.err).toBe(0);
    expect(res.out).toMatch(/^failing \d+/m);
    const warnings = res.err.split("\n").filter((x) => x.startsWith("[quiver] H5Logger"));
    expect(warnings.length, res.err).toBeGreaterThanOrEqual(1);
    expect(warnings.length, res.err).toBeLessThanOrEqual(3);
    expect(res.err).not.toMatch(/HDF5-DIAG/);
    expect(pyStream(p, 60_000)).toBe("ok 60000");
  }, 60_000);
});

/** chattr +i makes a file read-only for root too, also for descriptors already open (ext4, not tmpfs). */
function immutable(file: string, on: boolean): boolean {
  return spawnSync("chattr", [on ? "+i" : "-i", file]).status === 0;
}
const ext4 = tmpDir("ro");
const canChattr = (() => {
  const probe = path.join(ext4, "probe");
  fs.writeFileSync(probe, "");
  const ok = immutable(probe, true) && immutable(probe, false);
  fs.rmSync(probe);
  return ok;
})();
afterAll(() => fs.rmSync(ext4, { recursive: true, force: true }));

describe.skipIf(!canChattr)(`a file made read-only while open${canChattr ? "" : " (skipped: chattr +i is refused on this file system)"}`, () => {
  it("h5 store: append rejects with IO (EPERM), acknowledged rows stay exact, and once writable the same append writes each row once", async () => {
    const p = path.join(ext4, "store.h5");
    const store = await openStore(`h5:${p}`);
    await store.append("t", rowsToBatch(rows(0, 300)));
    expect(immutable(p, true)).toBe(true);
    try {
      const e = expectIO(await store.append("t", rowsToBatch(rows(300, 300))).catch((x: unknown) => x), p, "EPERM");
      expect(e.message).toMatch(/permission denied.*make the file writable/);
      expect(pyTable(p, 300)).toBe("ok 300");
      expect(tool("h5dump", "-H", p)).toContain('GROUP "t"');
      expect(await store.count("t").catch((x: unknown) => x)).toSatisfy((r: unknown) => r === 300 || isQuiverError(r, "IO"));
    } finally {
      immutable(p, false);
    }
    await store.append("t", rowsToBatch(rows(300, 300)));
    await store.close();
    expect(pyTable(p, 600)).toBe("ok 600");
  }, 60_000);

  it("H5Logger: the timer reports, flush() and close() reject with IO (EPERM) and keep the values; once writable, every value is written once", async () => {
    const p = path.join(ext4, "logger.h5");
    const errors: QuiverError[] = [];
    const l = await H5Logger.open(p, { replaceIfExists: true, flushInterval: 20, onError: (e) => errors.push(e) });
    for (let k = 0; k < 1000; k++) l.log("v", k);
    await l.flush();
    expect(immutable(p, true)).toBe(true);
    try {
      for (let k = 1000; k < 3000; k++) l.log("v", k);
      await sleep(100);
      expect(errors.length).toBeGreaterThan(0);
      expectIO(errors[0], p, "EPERM");
      expectIO(await l.flush().catch((e: unknown) => e), p, "EPERM");
      l.log("w", 7); // a new name while the file cannot be written: taken, written later
      expect(l.keys()).toEqual(["v", "w"]);
      expectIO(await l.close().catch((e: unknown) => e), p, "EPERM"); // stays open: close can be retried
      expect(pyStream(p, 1000)).toBe("ok 1000");
    } finally {
      immutable(p, false);
    }
    for (let k = 3000; k < 3500; k++) l.log("v", k);
    await l.close();
    expect(pyStream(p, 3500)).toBe("ok 3500");
    expect(py("import h5py,sys\nprint(list(h5py.File(sys.argv[1],'r')['w'][:]))", p).trim()).toBe("[7.0]");
  }, 60_000);
});

describe.skipIf("why" in ro)(`a read-only disk${"why" in ro ? ` (skipped: ${ro.why})` : ""}`, () => {
  const dir = "dir" in ro ? ro.dir : "";
  afterAll(() => {
    if (dir) spawnSync("mount", ["-o", "remount,rw", dir]);
  });

  it("opening to write fails with IO naming the file and creates nothing; readOnly reads; writable again, each row is written once", async () => {
    const p = path.join(dir, "store.h5");
    const lp = path.join(dir, "logger.h5");
    const store = await openStore(`h5:${p}`);
    await store.append("t", rowsToBatch(rows(0, 300)));
    await store.close();
    const l = await H5Logger.open(lp);
    for (let k = 0; k < 1000; k++) l.log("v", k);
    await l.close();
    // (Linux refuses to remount read-only while a file is open for writing: see the chattr tests for that case.)
    remount(dir, "ro");
    try {
      for (const open of [() => openStore(`h5:${p}`), () => H5Logger.open(lp), () => openStore(`h5:${path.join(dir, "new.h5")}`), () => H5Logger.open(path.join(dir, "new2.h5"))]) {
        const err = await open().catch((e: unknown) => e);
        expect(isQuiverError(err, "IO"), String(err)).toBe(true);
        expect((err as Error).message).toMatch(/read-only/);
        expect((err as Error).message).toContain(dir);
      }
      const reader = await openStore(`h5:${p}`, { readOnly: true });
      expect(await reader.count("t")).toBe(300);
      await reader.close();
      const r = await H5Logger.read(lp);
      expect(r.get("v").length).toBe(1000);
      r.close();
      expect(pyTable(p, 300)).toBe("ok 300");
    } finally {
      remount(dir, "rw");
    }
    expect(fs.readdirSync(dir).sort()).toEqual(["logger.h5", "store.h5"]);
    const again = await openStore(`h5:${p}`);
    await again.append("t", rowsToBatch(rows(300, 300)));
    await again.close();
    expect(pyTable(p, 600)).toBe("ok 600");
  }, 60_000);
});

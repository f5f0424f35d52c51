// h5py's bools (`|b1`, an HDF5 enum) read and appended; h5logger's SWMR options 1 (enableConcurrentReaders
// on a logger opened without concurrentReaders) and 3 (nDatasets). Files are written and read by h5py,
// h5dump and h5repack; the scripts that must keep stderr clean run in child processes.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it, vi } from "vitest";
import { isQuiverError } from "@quiver/core";
import { H5Logger } from "../dist/index.js";
import { py, python, tmpDir, tool } from "./helpers.js";

// Every test runs Python or Node children (h5py, h5dump, h5repack): seconds each on a loaded machine.
vi.setConfig({ testTimeout: 30_000 });
const dir = tmpDir("swmr-options");
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string) => path.join(dir, name);
const dist = pathToFileURL(path.join(import.meta.dirname, "..", "dist", "index.js")).href;

async function code(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (e) {
    if (isQuiverError(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  throw new Error("expected a QuiverError");
}

/** Runs an ES module body in a fresh Node process with H5Logger imported; returns its stdout and stderr. */
function node(body: string, ...argv: string[]): { out: string; err: string; status: number | null } {
  const script = file(`script-${Math.random().toString(36).slice(2)}.mjs`);
  fs.writeFileSync(script, `import { H5Logger } from ${JSON.stringify(dist)};\nconst argv = process.argv.slice(2);\n${body}`);
  const r = spawnSync(process.execPath, [script, ...argv], { encoding: "utf8" });
  return { out: r.stdout, err: r.stderr, status: r.status };
}

/** Every dataset of a file as h5py sees it: dtype, shape, maxshape, chunks, attributes and values. */
const H5PY_DUMP = `import h5py, sys, json
f = h5py.File(sys.argv[1], 'r', libver='latest', swmr=len(sys.argv) > 2)
out = {}
def visit(name, o):
    if isinstance(o, h5py.Dataset):
        out[name] = [o.dtype.str, o.shape, o.maxshape, o.chunks, {k: str(v) for k, v in o.attrs.items()}, o[()].tolist()]
f.visititems(visit)
print(json.dumps(out, default=str))`;
const dump = (p: string, swmr = false) => JSON.parse(py(H5PY_DUMP, p, ...(swmr ? ["swmr"] : []))) as Record<string, unknown[]>;
/** The superblock version (byte 8 after the signature at 0): 3 is the 1.10 format SWMR needs. */
const superblock = (p: string) => fs.readFileSync(p)[8];

describe("h5py's bools (|b1, an HDF5 enum)", () => {
  it("reads them as booleans and appends booleans; h5py and h5dump still see the enum", async () => {
    const p = file("bools.h5");
    py(
      `import h5py, numpy as np, sys
f = h5py.File(sys.argv[1], 'w')
f.create_dataset('done', data=np.array([True, False, True]), maxshape=(None,), chunks=(4,))
f.create_dataset('mask', data=np.array([[[True, False], [False, True]]]), maxshape=(None, 2, 2))
f.create_dataset('loss', data=np.array([0.5, 0.25]), maxshape=(None,))`,
      p,
    );
    const before = dump(p);
    const r0 = await H5Logger.read(p);
    expect(r0.get("done").dtype).toBe("bool");
    expect(r0.get("done").toArray()).toEqual([true, false, true]);
    expect(r0.get("mask").slice(0)[0]).toEqual({ data: new Uint8Array([1, 0, 0, 1]), shape: [2, 2] });
    r0.close();

    const logger = await H5Logger.open(p, { flushEvery: 2 });
    for (const v of [false, true, true, false, true]) logger.log("done", v); // blocks of 2 cross the 4-row chunks
    logger.log("mask", [
      [false, false],
      [true, true],
    ]);
    expect(await code(() => logger.log("done", 1))).toMatch(/^SHAPE_MISMATCH: "done" holds bool values/);
    expect(await code(() => logger.log("mask", [true, false]))).toMatch(/^SHAPE_MISMATCH/);
    await logger.close();

    const after = dump(p);
    expect(after.done).toEqual(["|b1", [8], [null], [4], {}, [true, false, true, false, true, true, false, true]]);
    expect(after.mask![0]).toBe("|b1");
    expect(after.mask![5]).toEqual([
      [
        [true, false],
        [false, true],
      ],
      [
        [false, false],
        [true, true],
      ],
    ]);
    expect(after.loss).toEqual(before.loss); // untouched
    const h5dump = tool("h5dump", "-d", "/done", p).replace(/\s+/g, " ");
    expect(h5dump).toContain('H5T_ENUM { H5T_STD_I8LE; "FALSE" 0; "TRUE" 1; }');
    expect(h5dump).toContain("(0): TRUE, FALSE, TRUE, FALSE, TRUE, TRUE, FALSE, TRUE");

    const r = await H5Logger.read(p);
    expect(r.get("done").slice(-3)).toEqual([true, false, true]);
    expect(r.get("done").hdf5Type).toBe("bool (h5py enum)");
    r.close();
  });

  it("says what a dataset holds when it is something H5Logger does not read", async () => {
    const p = file("other-types.h5");
    py(
      `import h5py, numpy as np, sys
f = h5py.File(sys.argv[1], 'w')
f.create_dataset('names', data=np.array([b'ab', b'cd']))
f.create_dataset('z', data=np.array([1 + 2j]))
f.create_dataset('ok', data=np.arange(3.0), maxshape=(None,))`,
      p,
    );
    const r = await H5Logger.read(p);
    expect(r.get("names").readable).toBe(false);
    expect(r.get("z").hdf5Type).toBe("compound {r, i}");
    expect(r.get("ok").readable).toBe(true);
    expect(await code(() => r.get("names").dtype)).toMatch(
      /^UNSUPPORTED: "names" in .* holds string \(2 bytes\) values, which H5Logger does not read; read it with h5py or h5dump/,
    );
    r.close();
    const logger = await H5Logger.open(p);
    expect(await code(() => logger.log("names", 1))).toMatch(/^SHAPE_MISMATCH: "names" .* cannot append to \(string \(2 bytes\)\)/);
    await logger.close();
  });
});

describe("enableConcurrentReaders() on a logger opened without concurrentReaders (h5logger's option 1)", () => {
  it("converts the file to the SWMR format keeping every value, dtype, attribute and chunking", () => {
    const p = file("option1.h5");
    const r = node(
      `const logger = await H5Logger.open(argv[0], { replaceIfExists: true });
for (let i = 0; i < 70000; i++) logger.log("loss", i / 4);   // more than a chunk (32768 rows)
logger.log("step", 7n).log("done", true).log("train/img", new Uint8Array([1, 2, 255]));
await logger.flush();                                           // in the file, in the old format
logger.log("loss", -1).log("late", new Float32Array([0.5, 1.5])); // buffered, and a name not yet in the file
logger.enableConcurrentReaders();
logger.enableConcurrentReaders();                               // only the first call has effect
for (let i = 0; i < 3; i++) logger.log("loss", 100 + i);
await logger.flush();
await logger.close();`,
      p,
    );
    // Readers in other processes while it writes: concurrency.test.ts (mode "enable"); here, what the file holds.
    expect(r.err).toBe("");
    expect(r.status).toBe(0);
    expect(superblock(p)).toBe(3);
    const d = dump(p);
    expect((d.loss![5] as number[]).length).toBe(70004);
    expect((d.loss![5] as number[]).slice(69998)).toEqual([69998 / 4, 69999 / 4, -1, 100, 101, 102]);
    expect(d.loss!.slice(0, 4)).toEqual(["<f8", [70004], [null], [32768]]);
    expect(d.step).toEqual(["<i8", [1], [null], [32768], { quiver_kind: "bigint" }, [7]]);
    expect(d.done).toEqual(["|u1", [1], [null], [65536], { quiver_kind: "bool" }, [1]]);
    expect(d["train/img"]).toEqual(["|u1", [1, 3], [null, 3], [65536, 3], {}, [[1, 2, 255]]]);
    expect(d.late![5]).toEqual([[0.5, 1.5]]);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith("option1.h5."))).toEqual([]); // no temporary copy left
  });

  it("concurrentReaders on a file written without it converts it the same way, with and without declared datasets", () => {
    const p = file("reopened.h5");
    const r = node(
      `let l = await H5Logger.open(argv[0], { replaceIfExists: true });
l.log("a", 1); await l.close();
l = await H5Logger.open(argv[0], { concurrentReaders: true });
l.log("a", 2); await l.close();
l = await H5Logger.open(argv[0], { concurrentReaders: true, datasets: { a: { shape: [], dtype: "float64" } } });
l.log("a", 3); await l.close();`,
      p,
    );
    expect(r.err).toBe("");
    expect(r.status).toBe(0);
    expect(superblock(p)).toBe(3);
    expect(dump(p).a![5]).toEqual([1, 2, 3]);
  });

  it("h5py swmr=True reads a converted file while the logger still writes it", async () => {
    const p = file("option1-live.h5");
    const logger = await H5Logger.open(p, { replaceIfExists: true });
    logger.log("a", 1).log("b", 2);
    await logger.flush();
    logger.enableConcurrentReaders();
    logger.log("a", 3);
    await logger.flush();
    expect(py("import h5py,sys\nf=h5py.File(sys.argv[1],'r',libver='latest',swmr=True)\nprint(f['a'][:].tolist(), f['b'][:].tolist())", p).trim()).toBe("[1.0, 3.0] [2.0]");
    expect(await code(() => logger.log("c", 1))).toMatch(/^UNSUPPORTED: "c" is new but .* is already in SWMR mode/);
    await logger.close();
    expect(tool("h5dump", "-d", "/a", p).replace(/\s+/g, " ")).toContain("(0): 1, 3");
  });

  it("fails UNSUPPORTED with the way out when the file holds what a copy cannot keep; the file is untouched, stderr clean", () => {
    const p = file("option1-foreign.h5");
    py(
      "import h5py,numpy as np,sys\nf=h5py.File(sys.argv[1],'w')\nf.create_dataset('names',data=np.array([b'ab']))\nf.create_dataset('x',data=np.arange(2.0),maxshape=(None,))",
      p,
    );
    const r = node(
      `const logger = await H5Logger.open(argv[0]);
try { logger.enableConcurrentReaders(); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
logger.log("x", 2);            // the logger goes on
await logger.close();`,
      p,
    );
    expect(r.err).toBe("");
    const e = JSON.parse(r.out) as { code: string; message: string };
    expect(e.code).toBe("UNSUPPORTED");
    expect(e.message).toContain('"names" holds string (2 bytes) values');
    expect(e.message).toContain("{ concurrentReaders: true }");
    expect(e.message).toContain(`h5repack --low=2 --high=2 ${p} new.h5`);
    const d = dump(p);
    expect(d.x![5]).toEqual([0, 1, 2]);
    expect(d.names).toEqual(["|S2", [1], [1], null, {}, ["b'ab'"]]);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith("option1-foreign.h5."))).toEqual([]);
    // ...and the way out works: h5repack's 1.10-format copy is reopened for SWMR, not copied again.
    const q = file("option1-repacked.h5");
    execFileSync("h5repack", ["--low=2", "--high=2", p, q]);
    const r2 = node(
      `const logger = await H5Logger.open(argv[0]); logger.enableConcurrentReaders(); logger.log("x", 3); await logger.flush(); console.log("ok"); await logger.close();`,
      q,
    );
    expect(r2.err).toBe("");
    expect(r2.out.trim()).toBe("ok");
    expect(dump(q).x![5]).toEqual([0, 1, 2, 3]);
    expect(py("import h5py,sys\nf=h5py.File(sys.argv[1],'r')\nprint(f['names'][0])", q).trim()).toBe("b'ab'");
  });
});

describe("nDatasets (h5logger's option 3)", () => {
  it("starts SWMR once that many datasets exist, and refuses a further name with UNSUPPORTED", async () => {
    const p = file("option3.h5");
    const logger = await H5Logger.open(p, { replaceIfExists: true, nDatasets: 2 });
    logger.log("number", 1);
    expect(superblock(p)).toBe(3); // the SWMR format from the start
    logger.log("even_number", 20); // the second name: written at once, SWMR on
    const live = "import h5py,sys\nf=h5py.File(sys.argv[1],'r',libver='latest',swmr=True)\nprint(f['number'][:].tolist(), f['even_number'][:].tolist())";
    expect(py(live, p).trim()).toBe("[1.0] [20.0]");
    const err = await code(() => logger.log("third", 3));
    expect(err).toMatch(/^UNSUPPORTED: "third" would be dataset 3 of .*, opened with nDatasets: 2/);
    expect(err).toContain("log it under one of even_number, number, or open the logger with a larger nDatasets");
    logger.log("number", 2);
    await logger.flush();
    expect(py(live, p).trim()).toBe("[1.0, 2.0] [20.0]");
    await logger.close();
    expect(Object.keys(dump(p)).sort()).toEqual(["even_number", "number"]);
  });

  it("counts the datasets already in the file, and checks its value", async () => {
    const p = file("option3-append.h5");
    const first = await H5Logger.open(p, { replaceIfExists: true, nDatasets: 2 });
    first.log("a", 1).log("b", 2);
    await first.close();
    const again = await H5Logger.open(p, { nDatasets: 2 }); // both exist: SWMR at open
    expect(await code(() => again.log("c", 3))).toMatch(/^UNSUPPORTED: "c" would be dataset 3/);
    again.log("a", 4);
    await again.flush();
    expect(py("import h5py,sys\nf=h5py.File(sys.argv[1],'r',libver='latest',swmr=True)\nprint(f['a'][:].tolist())", p).trim()).toBe("[1.0, 4.0]");
    await again.close();
    for (const bad of [0, 1.5, -1]) {
      expect(await code(() => H5Logger.open(file("bad.h5"), { nDatasets: bad }))).toMatch(/^INVALID_VALUE: nDatasets must be a positive integer/);
    }
    expect(fs.existsSync(file("bad.h5"))).toBe(false);
    expect(python).toBeTruthy();
  });
});

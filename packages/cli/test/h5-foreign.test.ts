/** `quiver h5 ls|show` on a file h5py wrote: bools (`|b1`), strings and compounds next to floats. */
import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorOf, jsonLines, quiver, tempDir } from "./helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const FILE = join(tmp.dir, "from_h5py.h5");

/** A python3 that imports h5py (a pyenv shim may hide Debian's python3-h5py). */
const python = [process.env.QUIVER_PYTHON, "python3", "/usr/bin/python3"].find((p) => p && spawnSync(p, ["-c", "import h5py"], { stdio: "ignore" }).status === 0);

beforeAll(() => {
  if (!python) throw new Error("no python3 with h5py: install Debian's python3-h5py (or set QUIVER_PYTHON)");
  execFileSync(python, [
    "-c",
    `import h5py, numpy as np, sys
f = h5py.File(sys.argv[1], 'w')
f.create_dataset('done', data=np.array([True, False, True]), maxshape=(None,))
f.create_dataset('loss', data=np.array([0.5, 0.25]), maxshape=(None,))
f.create_dataset('names', data=np.array([b'cat', b'dog']))
f.create_dataset('meta/z', data=np.array([1 + 2j]))`,
    FILE,
  ]);
});

describe("h5 on a file h5py wrote", () => {
  it("ls lists every dataset, marking those H5Logger does not read instead of aborting", () => {
    const r = quiver(["h5", "ls", FILE, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    expect(jsonLines(r.stdout)).toEqual([
      { name: "done", dtype: "bool", shape: [3], length: 3 },
      { name: "loss", dtype: "float64", shape: [2], length: 2 },
      { name: "meta/z", dtype: null, shape: [1], length: 1, note: "compound {r, i}: not read by H5Logger" },
      { name: "names", dtype: null, shape: [2], length: 2, note: "string (3 bytes): not read by H5Logger" },
    ]);
    const text = quiver(["h5", "ls", FILE]);
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^name\s+dtype\s+shape\s+length\s+note$/);
    expect(lines.find((l) => l.startsWith("done"))).toMatch(/^done\s+bool\s+\(3,\)\s+3\s*$/);
    expect(lines.find((l) => l.startsWith("names"))).toMatch(/^names\s+\(2,\)\s+2\s+string \(3 bytes\): not read by H5Logger$/);
    expect(lines.at(-1)).toBe(`2 of 4 datasets are not fully shown (see note); h5dump -d /NAME ${FILE} shows them`);
  });

  it("show reads h5py's bools as booleans, and refuses a string dataset with a coded error", () => {
    expect(jsonLines(quiver(["h5", "show", FILE, "done", "--json"]).stdout).slice(0, 3)).toEqual([
      { index: 0, value: true },
      { index: 1, value: false },
      { index: 2, value: true },
    ]);
    const e = errorOf(quiver(["h5", "show", FILE, "names"]));
    expect(e.code).toBe("UNSUPPORTED");
    expect(e.message).toContain("holds string (3 bytes) values, which H5Logger does not read; read it with h5py or h5dump");
  });
});

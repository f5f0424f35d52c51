import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isQuiverError } from "@quiver/core";
import { H5Logger } from "../dist/index.js";
import { py, tmpDir, tool } from "./helpers.js";

const dir = tmpDir("logger");
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string) => path.join(dir, name);

async function code(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (e) {
    if (isQuiverError(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  throw new Error("expected a QuiverError");
}

describe("H5Logger writing", () => {
  it("runs the API example; h5ls, h5dump and h5py read the file", async () => {
    const p = file("logging_data.h5");
    const logger = await H5Logger.open(p, { replaceIfExists: true });
    for (let i = 0; i < 10; i++) logger.log("number", i % 2);
    for (let i = 0; i < 10; i++) logger.log("epoch", BigInt(i));
    logger.log("image", { data: new Float32Array(64 * 64).fill(0.5), shape: [64, 64] });
    await logger.close();

    const data = await H5Logger.read(p);
    expect(data.keys()).toEqual(["epoch", "image", "number"]);
    expect(data.get("number").shape).toEqual([10]);
    expect(data.get("number").dtype).toBe("float64");
    expect(data.get("epoch").dtype).toBe("int64");
    expect(data.get("epoch").slice(8)).toEqual([8n, 9n]);
    expect(data.get("number").slice(0, 10)).toEqual([0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
    expect(data.get("image").shape).toEqual([1, 64, 64]);
    data.close();

    const ls = tool("h5ls", p);
    expect(ls).toMatch(/image\s+Dataset \{1\/Inf, 64, 64\}/);
    expect(ls).toMatch(/number\s+Dataset \{10\/Inf\}/);
    const dump = tool("h5dump", "-d", "/epoch", p);
    expect(dump).toContain("H5T_STD_I64LE");
    expect(dump.replace(/\s+/g, " ")).toContain("(0): 0, 1, 2, 3, 4, 5, 6, 7, 8, 9");
    expect(tool("h5dump", "-d", "/number", p)).toContain("H5T_IEEE_F64LE");
    const out = py(
      "import h5py,sys\nf=h5py.File(sys.argv[1],'r')\nd=f['number']\nprint(d.dtype.str, d.shape, d.maxshape, [int(x) for x in d[:]], f['image'].dtype.str, f['image'].shape, f['image'][0,3,5])",
      p,
    );
    expect(out.trim()).toBe("<f8 (10,) (None,) [0, 1, 0, 1, 0, 1, 0, 1, 0, 1] <f4 (1, 64, 64) 0.5");
  });

  it("streams 64×64 float32 images that h5py and h5dump read back exactly", async () => {
    const p = file("images.h5");
    const logger = await H5Logger.open(p, { replaceIfExists: true, flushEvery: 16 });
    const img = new Float32Array(64 * 64);
    for (let k = 0; k < 40; k++) {
      for (let j = 0; j < img.length; j++) img[j] = k * 10000 + j;
      logger.log("camera/rgb", { data: img, shape: [64, 64] });
      logger.log("camera/t", k * 0.25);
    }
    await logger.close();
    const out = py(
      "import h5py,sys,numpy as np\nf=h5py.File(sys.argv[1],'r')\nd=f['camera/rgb']\nexp=np.arange(40)[:,None,None]*10000+np.arange(4096).reshape(64,64)\nprint(d.shape, d.dtype.str, d.chunks is not None, bool((d[:]==exp.astype(np.float32)).all()), list(f['camera/t'][:3]))",
      p,
    );
    expect(out.trim()).toBe("(40, 64, 64) <f4 True True [0.0, 0.25, 0.5]");
    const dump = tool("h5dump", "-d", "/camera/rgb", "-s", "39,1,0", "-c", "1,1,3", p);
    expect(dump.replace(/\s+/g, " ")).toContain("(39,1,0): 390064, 390065, 390066");
    expect(tool("h5ls", "-r", p)).toMatch(/\/camera\s+Group/);

    const r = await H5Logger.read(p);
    const rgb = r.get("camera/rgb");
    expect(rgb.shape).toEqual([40, 64, 64]);
    expect(rgb.dtype).toBe("float32");
    const [last] = rgb.slice(39, 40) as { data: Float32Array; shape: number[] }[];
    expect(last!.shape).toEqual([64, 64]);
    expect(last!.data[4095]).toBe(394095);
    r.close();
  });

  it("logs booleans, bigints, typed arrays, nested arrays, declared datasets and logMany", async () => {
    const p = file("kinds");
    const logger = await H5Logger.open(p, {
      replaceIfExists: true,
      datasets: { "pose/xyz": { shape: [3], dtype: "float32" }, count: { shape: [], dtype: "<i4" }, id: { shape: [], dtype: "bigint" } },
    });
    expect(logger.path).toBe(file("kinds.h5"));
    for (let i = 0; i < 5; i++) {
      logger.logMany({
        flag: i % 2 === 0,
        big: 2n ** 60n + BigInt(i),
        vec: new Int16Array([i, -i]),
        grid: [
          [i, 1],
          [2, 3],
        ],
        "pose/xyz": [i, i + 0.5, 2],
        count: i,
        id: BigInt(i) << 40n,
      });
    }
    expect(logger.keys()).toEqual(["big", "count", "flag", "grid", "id", "pose/xyz", "vec"]);
    await logger.close();
    const r = await H5Logger.read(p);
    expect(r.get("flag").dtype).toBe("bool");
    expect(r.get("flag").toArray()).toEqual([true, false, true, false, true]);
    expect(r.get("big").slice(4, 5)).toEqual([2n ** 60n + 4n]);
    expect(r.get("vec").dtype).toBe("int16");
    expect(Array.from(r.get("vec").slice(3, 4)[0] as Int16Array)).toEqual([3, -3]);
    expect(r.get("grid").shape).toEqual([5, 2, 2]);
    expect(r.get("pose/xyz").dtype).toBe("float32");
    expect(Array.from(r.get("pose/xyz").slice(2, 3)[0] as Float32Array)).toEqual([2, 2.5, 2]);
    expect(r.get("count").dtype).toBe("int32");
    expect(r.get("count").slice(-2)).toEqual([3, 4]);
    expect(r.get("id").dtype).toBe("int64");
    expect(r.get("id").slice(4)).toEqual([4n << 40n]);
    r.close();
    const out = py(
      "import h5py,sys\nf=h5py.File(sys.argv[1],'r')\nprint(f['count'].dtype.str, f['pose/xyz'].shape, f['big'][4], f['flag'].attrs['quiver_kind'])",
      file("kinds.h5"),
    );
    expect(out.trim()).toBe(`<i4 (5, 3) ${2n ** 60n + 4n} bool`);
  });

  it("appends to an existing file unless replaceIfExists", async () => {
    const p = file("append.h5");
    let l = await H5Logger.open(p, { replaceIfExists: true });
    l.log("x", 1.5).log("x", 2.5);
    await l.close();
    l = await H5Logger.open(p);
    l.log("x", 3.5);
    expect(await code(() => l.log("x", [1, 2]))).toMatch(/SHAPE_MISMATCH.*\[\].*\[2\]/);
    await l.close();
    let r = await H5Logger.read(p);
    expect(r.get("x").toArray()).toEqual([1.5, 2.5, 3.5]);
    r.close();
    l = await H5Logger.open(p, { replaceIfExists: true });
    l.log("y", 1);
    await l.close();
    r = await H5Logger.read(p);
    expect(r.keys()).toEqual(["y"]);
    r.close();
  });

  it("rejects bad input with the documented codes and keeps what was logged", async () => {
    expect(await code(() => H5Logger.open(file("bad.txt")))).toMatch(/^INVALID_PATH: .*\.txt/);
    const p = file("errors.h5");
    const l = await H5Logger.open(p, { replaceIfExists: true });
    l.log("img", { data: new Float32Array(6), shape: [2, 3] });
    const msg = await code(() => l.log("img", { data: new Float32Array(6), shape: [3, 2] }));
    expect(msg).toMatch(/^SHAPE_MISMATCH: /);
    expect(msg).toContain("[2, 3]");
    expect(msg).toContain("[3, 2]");
    expect(await code(() => l.log("img", { data: new Float64Array(6), shape: [2, 3] }))).toMatch(/SHAPE_MISMATCH.*float32.*float64/);
    expect(await code(() => l.log("img", { data: new Float32Array(5), shape: [2, 3] }))).toMatch(/^SHAPE_MISMATCH/);
    l.log("n", 1);
    l.log("i", new Int32Array([1, 2]));
    expect(await code(() => l.log("i", [0.5, 1]))).toMatch(/^SHAPE_MISMATCH: "i" holds int32/);
    expect(await code(() => l.log("n", true))).toMatch(/^SHAPE_MISMATCH/);
    expect(await code(() => l.log("../up", 1))).toMatch(/^INVALID_NAME/);
    expect(await code(() => l.log("a/../../b", 1))).toMatch(/^INVALID_NAME/);
    expect(await code(() => l.log("nul\u0000x", 1))).toMatch(/^INVALID_NAME/);
    expect(await code(() => l.log("s", "text" as never))).toMatch(/^INVALID_VALUE/);
    expect(await code(() => l.log("n/sub", 1))).toMatch(/^INVALID_NAME: .*"n"/);
    l.log("g/leaf", 1);
    expect(await code(() => l.log("g", 1))).toMatch(/^INVALID_NAME: "g" is a group/);
    expect(await code(() => l.log("ragged", [[1, 2], [3]]))).toMatch(/^SHAPE_MISMATCH/);
    await l.close();
    expect(await code(() => l.log("n", 2))).toMatch(/^CLOSED/);
    const r = await H5Logger.read(p);
    expect(r.keys()).toEqual(["g/leaf", "i", "img", "n"]);
    expect(r.get("n").toArray()).toEqual([1]);
    expect(r.get("img").length).toBe(1);
    expect(await code(() => r.get("missing"))).toMatch(/^NOT_FOUND/);
    r.close();
    expect(await code(() => H5Logger.read(file("nope.h5")))).toMatch(/^NOT_FOUND/);
  });

  it("writes blocks every flushEvery rows, so a reader sees them before close", async () => {
    const p = file("blocks.h5");
    const l = await H5Logger.open(p, { replaceIfExists: true, flushEvery: 100, flushInterval: 0 });
    for (let i = 0; i < 250; i++) l.log("v", i + 0.5);
    // The open writer holds the file; h5py (another process) reads what the blocks wrote.
    const seen = py("import h5py,sys\nf=h5py.File(sys.argv[1],'r')\nprint(f['v'].shape[0], f['v'][199])", p).trim();
    expect(seen).toBe("200 199.5");
    await l.flush();
    expect(py("import h5py,sys\nprint(h5py.File(sys.argv[1],'r')['v'].shape[0])", p).trim()).toBe("250");
    await l.close();
  });
});

// Benchmarks of @quiver/store-h5 against raw h5wasm and h5logger's own way (h5py), in one run.
// node bench/run.mjs   (needs a built dist/, Debian's python3-h5py for the h5py row)
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import h5wasm from "h5wasm/node";
import { measure, printComparisons } from "../../core/dist/bench.js"; // the workspace's bench helpers (not a public export)
import { H5Logger } from "../dist/index.js";

await h5wasm.ready;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "quiver-h5-bench-"));
const file = (n) => path.join(dir, n);
const rm = (p) => fs.rmSync(p, { force: true });

const N = 1_000_000;
const values = Float64Array.from({ length: N }, (_, i) => Math.sin(i) * 100);

// ours: 1M scalar log() calls, then close (everything on disk: close() fsyncs by default)
const scalars = (options) =>
  measure(
    N,
    async () => {
      const l = await H5Logger.open(file("ours.h5"), { replaceIfExists: true, ...options });
      for (let i = 0; i < N; i++) l.log("loss", values[i]);
      await l.close();
    },
    { repeat: 3 },
  );
const oursScalar = await scalars({});
// the same without the fsync at close (in the file and page cache, like the baselines' close)
const oursScalarNoSync = await scalars({ fsync: false });

function rawDataset(p, shape, chunks, dtype) {
  rm(p);
  const f = new h5wasm.File(p, "w");
  const d = f.create_dataset({ name: "loss", data: new Float64Array(0), shape: [0, ...shape], maxshape: [null, ...shape], chunks, dtype });
  return { f, d };
}

// raw h5wasm, one resize + write per value (h5logger's pattern), on a few thousand values
const PER = 3000;
const rawPerValue = await measure(
  PER,
  () => {
    const { f, d } = rawDataset(file("raw1.h5"), [], [8192], "<d");
    for (let i = 0; i < PER; i++) {
      d.resize([i + 1]);
      d.write_slice([[i, i + 1]], values.subarray(i, i + 1));
    }
    f.close();
  },
  { repeat: 2 },
);

// raw h5wasm, the same 1M values in 1000-value blocks
const rawBlocks = await measure(
  N,
  () => {
    const { f, d } = rawDataset(file("raw2.h5"), [], [8192], "<d");
    for (let i = 0; i < N; i += 1000) {
      d.resize([i + 1000]);
      d.write_slice([[i, i + 1000]], values.subarray(i, i + 1000));
    }
    f.close();
  },
  { repeat: 3 },
);

// h5logger's own way: Python h5py, resize by one, write, flush per value (child process timing itself)
const PYN = 3000;
const pyCode = `
import h5py, numpy as np, sys, time
v = np.sin(np.arange(${PYN})) * 100
best = 0
for rep in range(3):
    f = h5py.File(sys.argv[1], "w")
    d = f.create_dataset("loss", shape=(0,), maxshape=(None,), chunks=(8192,), dtype="<f8")
    t = time.perf_counter()
    for i in range(${PYN}):
        d.resize((i + 1,))
        d[i] = v[i]
        f.flush()
    best = max(best, ${PYN} / (time.perf_counter() - t))
    f.close()
print(best)
`;
let pyRate = NaN;
for (const py of [process.env.QUIVER_PYTHON, "python3", "/usr/bin/python3"]) {
  if (!py) continue;
  const r = spawnSync(py, ["-c", pyCode, file("py.h5")], { encoding: "utf8" });
  if (r.status === 0) {
    pyRate = Number(r.stdout.trim());
    break;
  }
}

// 64×64 float32 images
const IMG = 1000;
const MB = (IMG * 64 * 64 * 4) / 2 ** 20;
const imgs = Array.from({ length: 16 }, (_, k) => Float32Array.from({ length: 4096 }, (_, j) => k + j / 4096));
const images = (options) =>
  measure(
    MB,
    async () => {
      const l = await H5Logger.open(file("img.h5"), { replaceIfExists: true, ...options });
      for (let k = 0; k < IMG; k++) l.log("image", { data: imgs[k % 16], shape: [64, 64] });
      await l.close();
    },
    { repeat: 3 },
  );
const oursImg = await images({});
const oursImgNoSync = await images({ fsync: false });
const rawImg = await measure(
  MB,
  () => {
    const { f, d } = rawDataset(file("rawimg.h5"), [64, 64], [16, 64, 64], "<f");
    for (let k = 0; k < IMG; k++) {
      d.resize([k + 1, 64, 64]);
      d.write_slice(
        [
          [k, k + 1],
          [0, 64],
          [0, 64],
        ],
        imgs[k % 16],
      );
    }
    f.close();
  },
  { repeat: 3 },
);

const ok = printComparisons("@quiver/store-h5", [
  { case: "log() 1M scalars", unit: "values/s", ours: oursScalar, against: "h5wasm resize+write per value", theirs: rawPerValue, target: 100 },
  { case: "log() 1M scalars", unit: "values/s", ours: oursScalar, against: "h5wasm 1000-value blocks", theirs: rawBlocks, target: 0.5 },
  { case: "log() 1M scalars", unit: "values/s", ours: oursScalar, against: "h5py resize+write+flush per value", theirs: pyRate, target: 10 },
  { case: "log() 1M scalars, fsync: false", unit: "values/s", ours: oursScalarNoSync, against: "h5wasm 1000-value blocks", theirs: rawBlocks, target: 0.5 },
  { case: "log() 1000 64×64 f32 images", unit: "MB/s", ours: oursImg, against: "h5wasm resize+write per image", theirs: rawImg, target: 0.8 },
  { case: "log() 1000 images, fsync: false", unit: "MB/s", ours: oursImgNoSync, against: "h5wasm resize+write per image", theirs: rawImg, target: 0.8 },
]);
fs.rmSync(dir, { recursive: true, force: true });
process.exitCode = ok ? 0 : 1;

import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isQuiverError, openStore } from "@quiver/core";
import { H5Logger } from "../dist/index.js";
import { fixtures, py, python, run, tmpDir, tool } from "./helpers.js";

const dir = tmpDir("conc");
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const node = process.execPath;

interface Watch {
  lengths: number[];
  bad: number;
  final: number;
}

describe("H5Logger across processes", () => {
  it("SIGKILL loses at most the unflushed values and leaves a file h5dump opens", async () => {
    const p = path.join(dir, "killed.h5");
    let flushed = 0;
    const w = run(node, [path.join(fixtures, "kill-writer.mjs"), p, "100"], {
      onLine: (l) => {
        const m = /^flushed (\d+)/.exec(l);
        if (m) flushed = Number(m[1]);
        if (flushed >= 1500) w.child.kill("SIGKILL");
      },
    });
    const res = await w.done;
    expect(res.signal).toBe("SIGKILL");
    expect(tool("h5ls", p)).toMatch(/step\s+Dataset/);
    expect(tool("h5dump", "-H", p)).toContain('DATASET "frame"');
    const out = py(
      "import h5py,sys,numpy as np\nf=h5py.File(sys.argv[1],'r')\ns=f['step'][:]\nfr=f['frame']\nn=min(len(s),fr.shape[0])\nprint(len(s), fr.shape[0], bool((s==np.arange(len(s))).all()), bool((fr[n-1]==n-1).all()))",
      p,
    );
    const [steps, frames, stepsOk, lastFrameOk] = out.trim().split(" ");
    expect(Number(steps)).toBeGreaterThanOrEqual(flushed);
    expect(Number(frames)).toBeGreaterThanOrEqual(flushed);
    expect(stepsOk).toBe("True");
    expect(lastFrameOk).toBe("True");
    // our reader opens it too, and a new writer takes over the dead writer's lock and appends
    const r = await H5Logger.read(p);
    expect(r.get("step").length).toBe(Number(steps));
    r.close();
    expect(fs.existsSync(`${p}.lock`)).toBe(true);
    const again = await H5Logger.open(p);
    again.log("step", Number(steps));
    await again.close();
    expect(fs.existsSync(`${p}.lock`)).toBe(false);
    expect(py("import h5py,sys\nprint(int(h5py.File(sys.argv[1],'r')['step'][-1]))", p).trim()).toBe(steps);
  }, 60_000);

  it("writes buffered values at process exit and on SIGTERM", async () => {
    for (const mode of ["exit", "sigterm"]) {
      const p = path.join(dir, `exit-${mode}.h5`);
      let waiting!: () => void;
      const isWaiting = new Promise<void>((r) => (waiting = r));
      const w = run(node, [path.join(fixtures, "exit-writer.mjs"), p, mode], {
        onLine: (l) => {
          if (l === "waiting") waiting();
        },
      });
      if (mode === "sigterm") {
        await isWaiting;
        // a second writer in another process is refused while the first one lives
        const err = await H5Logger.open(p).catch((e: unknown) => e);
        expect(isQuiverError(err, "LOCKED"), String(err)).toBe(true);
        const err2 = await openStore(`h5:${p}`).catch((e: unknown) => e);
        expect(isQuiverError(err2, "LOCKED"), String(err2)).toBe(true);
        w.child.kill("SIGTERM");
      }
      const res = await w.done;
      expect(mode === "exit" ? res.code : res.signal, res.err).toBe(mode === "exit" ? 0 : "SIGTERM");
      const r = await H5Logger.read(p);
      expect(r.get("v").toArray()).toEqual(Array.from({ length: 25 }, (_, i) => i));
      r.close();
    }
  }, 30_000);

  // The lock before the kit's let two of them win in about 1 round in 5 (both removed the stale lock).
  it("a dead writer's lock is taken over by exactly one of 6 processes racing for it, every round", async () => {
    const p = path.join(dir, "race.h5");
    const dead = (await run(node, ["-e", "console.log(process.pid)"]).done).out.trim();
    fs.writeFileSync(`${p}.lock`, `${dead}\n`); // a SIGKILLed writer's lock (the old format: its PID only)
    for (let round = 0; round < 8; round++) {
      const go = path.join(dir, `race-go-${round}`);
      let ready = 0;
      let started!: () => void;
      const allReady = new Promise<void>((r) => (started = r));
      const kids = Array.from({ length: 6 }, (_, k) =>
        run(node, [path.join(fixtures, "take-over.mjs"), p, go, k % 2 ? "logger" : "store"], {
          onLine: (l) => {
            if (l === "ready" && ++ready === 6) started();
          },
        }),
      );
      await allReady;
      fs.writeFileSync(go, String(Date.now() + 300));
      // Losers exit; the winner holds the file until it is SIGKILLed, leaving a stale lock for the next round.
      const outcome = await Promise.all(
        kids.map(
          (k) =>
            new Promise<string>((r) => {
              k.child.stdout.on("data", (d: Buffer) => {
                const m = /\b(got|locked)\b/.exec(String(d));
                if (m) r(m[1]!);
              });
              void k.done.then((res) => r(`exit ${res.code}: ${res.err}`));
            }),
        ),
      );
      expect(outcome.sort(), `round ${round}`).toEqual(["got", "locked", "locked", "locked", "locked", "locked"]);
      for (const k of kids) k.child.kill("SIGKILL");
      await Promise.all(kids.map((k) => k.done));
    }
    expect(fs.existsSync(`${p}.lock`)).toBe(true); // the last winner was killed too: its lock is taken over here
    const store = await openStore(`h5:${p}`);
    await store.close();
    expect(fs.existsSync(`${p}.lock`)).toBe(false);
    expect(
      fs
        .readdirSync(dir)
        .filter((f) => f.startsWith("race.h5."))
        .sort(),
    ).toEqual([]); // no .break or temp files left
  }, 120_000);

  // declared: concurrentReaders + datasets (h5logger's option 2); enable: a logger opened without
  // concurrentReaders whose first values are in the file, then enableConcurrentReaders() (option 1,
  // which converts the file to the SWMR format); count: nDatasets: 2 (option 3).
  it.each(["declared", "enable", "count"])(
    "h5py (swmr=True) and H5Logger.read in other processes see the data grow, correct across many chunks (%s)",
    async (mode) => {
      const p = path.join(dir, `swmr-${mode}.h5`);
      // 1200 values in blocks of 20 every 40 ms: ~2.4 s, 19 chunks of 64 rows (declared).
      const writer = run(node, [path.join(fixtures, "swmr-writer.mjs"), p, "1200", "20", "40", mode]);
      await new Promise<void>((res, rej) => {
        writer.child.stdout.once("data", () => res());
        writer.child.once("exit", () => rej(new Error("writer exited early")));
      });
      let opened = 0;
      const onLine = (l: string) => {
        if (l === "open" && ++opened === 2) fs.writeFileSync(`${p}.go`, "");
      };
      const nodeReader = run(node, [path.join(fixtures, "node-reader.mjs"), p, "1200", "30000"], { onLine });
      const pyReader = run(python, [path.join(fixtures, "h5py-reader.py"), p, "1200", "30"], { onLine });
      const [w, nr, pr] = await Promise.all([writer.done, nodeReader.done, pyReader.done]);
      expect(w.code, w.err).toBe(0);
      expect(w.err).toBe(""); // no HDF5 error stack, no warning
      expect(nr.code, nr.err).toBe(0);
      expect(pr.code, pr.err).toBe(0);
      for (const out of [nr.out, pr.out]) {
        const watch = JSON.parse(out.trim().split("\n").pop()!) as Watch;
        expect(watch.bad).toBe(-1);
        expect(watch.final).toBe(1200);
        const growing = [...new Set(watch.lengths.filter((n) => n > 0 && n < 1200))];
        expect(growing.length, `lengths seen: ${watch.lengths.join(",")}`).toBeGreaterThanOrEqual(3);
        expect(Math.max(...growing)).toBeGreaterThan(3 * 64);
      }
    },
    60_000,
  );

  it("h5wasm's own Dataset.refresh() returns chunk 0's values past the first chunk (why our reader reopens)", async () => {
    // If this starts failing, h5wasm fixed refresh_dataset's leaked H5Dopen2 handle (see README).
    const p = path.join(dir, "refresh.h5");
    const logger = await H5Logger.open(p, { replaceIfExists: true, concurrentReaders: true, datasets: { loss: { shape: [], dtype: "float64", chunkRows: 64 } } });
    for (let i = 0; i < 300; i++) logger.log("loss", i);
    await logger.flush();
    const raw = await run(node, [path.join(fixtures, "h5wasm-refresh.mjs"), p]).done;
    await logger.close();
    expect(JSON.parse(raw.out)).toEqual({ length: 300, bad: 64 });
    const r = await H5Logger.read(p);
    r.refresh();
    r.refresh();
    expect(r.get("loss").toArray()).toEqual(Array.from({ length: 300 }, (_, i) => i));
    r.close();
  }, 30_000);

  it("slice reads only the slice: a 64 MB dataset is never loaded whole", async () => {
    const p = path.join(dir, "big.h5");
    const logger = await H5Logger.open(p, { replaceIfExists: true });
    const img = new Float32Array(64 * 64);
    for (let k = 0; k < 4096; k++) {
      img.fill(k);
      logger.log("frames", { data: img, shape: [64, 64] });
    }
    await logger.close();
    expect(fs.statSync(p).size).toBeGreaterThan(64 * 2 ** 20);
    const res = await run(node, [path.join(fixtures, "slice-memory.mjs"), p, "4000"]).done;
    const m = JSON.parse(res.out) as { shape: number[]; total: number[]; first: number; last: number; grew: number };
    expect(m.shape).toEqual([10, 64, 64]);
    expect(m.total).toEqual([4096, 64, 64]);
    expect([m.first, m.last]).toEqual([4000, 4009]);
    expect(m.grew).toBeLessThan(16 * 2 ** 20);
  }, 60_000);
});

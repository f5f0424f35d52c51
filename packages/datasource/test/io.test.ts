/**
 * Numbers beyond 2^53, read-only opens, the cross-process lock's stale-lock race, I/O errors, and
 * what an update acknowledged just before process.exit() leaves on disk.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Datasource } from "../dist/index.js";
import { withLock } from "../dist/storage.js";
import { STORES, expectCode, tempDir, writeFiles } from "./helpers.js";

const DIST = fileURLToPath(new URL("../dist/index.js", import.meta.url));

describe.each(STORES)("numbers beyond 2^53 on %s", (_l, storeFor) => {
  it("a CSV of 1e19, 2^64, 1.23e100 and 9007199254740993 comes back as floats, never wrapped; an int field takes 2^53+1 exactly", async () => {
    const dir = tempDir();
    const root = path.join(dir, ".quiver");
    const ds = await Datasource.getOrCreate({ name: "n", path: dir, root, store: storeFor(root) });
    try {
      writeFiles(dir, {
        "big.csv": "path,a,b,c,d,e\nx.jpg,1e19,18446744073709551616,1.23e100,9007199254740993,10000000000000000000\ny.jpg,1,2,3,4,5\n",
        "ints.csv": "path,i\nz.jpg,9007199254740993\n",
        "toobig.csv": "path,i\nz.jpg,9223372036854775808\n",
      });
      await ds.uploadMetadata(path.join(dir, "big.csv"));
      expect(await ds.fields()).toEqual(["a", "b", "c", "d", "e"].map((name) => ({ name, type: "float" })));
      const x = (await ds.all()).rows.find((r) => r.path === "x.jpg")!;
      expect(x).toEqual({ path: "x.jpg", a: 1e19, b: 2 ** 64, c: 1.23e100, d: 9007199254740992, e: 1e19 });
      // The same numbers logged from JS: floats as well (an int64 would wrap 1e19 to −8446744073709551616).
      await ds.updateMetadata("w.jpg", { f1: 1e19, f2: 2 ** 64, f3: 1.23e100, f4: -(2 ** 60) });
      expect((await ds.fields()).slice(5)).toEqual(["f1", "f2", "f3", "f4"].map((name) => ({ name, type: "float" })));
      expect((await ds.all()).rows.find((r) => r.path === "w.jpg")).toMatchObject({ f1: 1e19, f2: 2 ** 64, f3: 1.23e100, f4: -(2 ** 60) });
      // An int field keeps an unsafe integer exactly (as a bigint), and refuses what int64 cannot hold.
      await ds.updateMetadata("z.jpg", { i: 5 });
      await ds.uploadMetadata(path.join(dir, "ints.csv"));
      expect((await ds.where(ds.field("i").gt(5)).all()).rows).toEqual([expect.objectContaining({ path: "z.jpg", i: 9007199254740993n })]);
      await expectCode(ds.uploadMetadata(path.join(dir, "toobig.csv")), "SCHEMA_MISMATCH", /row 1.*"i" is int/);
      await expectCode(ds.updateMetadata("z.jpg", { i: 2n ** 63n }), "INVALID_VALUE", /int64/);
      await expectCode(ds.updateMetadata("z.jpg", { i: 1e19 }), "SCHEMA_MISMATCH", /"i" is int but got float/);
    } finally {
      await ds.close();
    }
  });
});

describe("read-only opens", () => {
  it("get/list/Dataset.get of a missing root create nothing; readOnly refuses writes and never materialises", async () => {
    const dir = tempDir();
    const root = path.join(dir, "missing");
    await expectCode(Datasource.get({ name: "x", root }), "NOT_FOUND", /no datasources there/);
    await expectCode(Datasource.get({ name: "x", root, readOnly: true }), "NOT_FOUND");
    expect(await Datasource.list({ root })).toEqual([]);
    expect(fs.existsSync(root)).toBe(false);
    const real = path.join(dir, ".quiver");
    const ds = await Datasource.getOrCreate({ name: "x", path: dir, root: real });
    await ds.updateMetadata("a.jpg", { n: 1 });
    await ds.updateMetadata("a.jpg", { n: 2 }); // an update: DuckDB would materialise `current` on the next query
    await ds.close();
    const files = fs.readdirSync(real, { recursive: true }).sort();
    const db = fs.readFileSync(path.join(real, "datasources.db"));
    const ro = await Datasource.get({ name: "x", root: real, readOnly: true });
    try {
      expect((await ro.all()).rows).toEqual([{ path: "a.jpg", n: 2 }]);
      expect((await ro.where(ro.field("n").eq(2)).all()).length).toBe(1);
      await expectCode(ro.updateMetadata("a.jpg", { n: 3 }), "UNSUPPORTED", /readOnly/);
      await expectCode(ro.scan(), "UNSUPPORTED");
      await expectCode(ro.saveDataset("s"), "UNSUPPORTED");
    } finally {
      await ro.close();
    }
    expect(fs.readdirSync(real, { recursive: true }).sort()).toEqual(files);
    expect(fs.readFileSync(path.join(real, "datasources.db")).equals(db)).toBe(true);
  });
});

describe("the cross-process lock", () => {
  it("a stale lock re-taken by another process meanwhile is left alone, not deleted", async () => {
    const dir = tempDir();
    const file = path.join(dir, "locks", "x.lock");
    fs.mkdirSync(path.dirname(file));
    // A dead owner's lock…
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout;
    fs.writeFileSync(file, dead);
    // …broken by us, while another process breaks it first and takes it (simulated by
    // swapping in a live process's lock just as we read the stale one).
    const live = spawn(process.execPath, ["-e", "setTimeout(() => {}, 10000)"]);
    try {
      const realRead = fs.readFileSync;
      let swapped = false;
      // @ts-expect-error test hook: the first read of the lock sees the stale PID, then it is re-taken
      fs.readFileSync = (p: fs.PathOrFileDescriptor, o?: unknown) => {
        const out = (realRead as (p: fs.PathOrFileDescriptor, o?: unknown) => string)(p, o);
        if (!swapped && p === file) {
          swapped = true;
          fs.writeFileSync(file, String(live.pid));
        }
        return out;
      };
      syncBuiltinESMExports(); // core's store-kit lock imports readFileSync by name
      let entered = false;
      const taking = withLock(file, async () => void (entered = true), 300).catch((e: Error) => e);
      await new Promise((r) => setTimeout(r, 150));
      fs.readFileSync = realRead;
      syncBuiltinESMExports();
      // The live process's lock is still there, and we are still waiting for it.
      expect(fs.readFileSync(file, "utf8")).toBe(String(live.pid));
      expect(entered).toBe(false);
      expect(((await taking) as Error & { code?: string }).code).toBe("LOCKED");
    } finally {
      live.kill();
    }
    // A stale lock nobody re-took is broken and taken.
    fs.writeFileSync(file, dead);
    expect(await withLock(file, async () => "in", 5000)).toBe("in");
    expect(fs.existsSync(file)).toBe(false);
  });

  it("an unwritten (empty) lock is not broken at once; a leftover with our own PID is", async () => {
    const dir = tempDir();
    const file = path.join(dir, "x.lock");
    fs.writeFileSync(file, "");
    await expectCode(
      withLock(file, async () => 1, 200),
      "LOCKED",
    );
    fs.utimesSync(file, new Date(Date.now() - 5000), new Date(Date.now() - 5000));
    expect(await withLock(file, async () => 2, 2000)).toBe(2);
    fs.writeFileSync(file, String(process.pid)); // a previous process with our PID (a container restart)
    expect(await withLock(file, async () => 3, 2000)).toBe(3);
  });

  it("a lock folder that cannot be created is IO naming it", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "locks"), "a file where the folder should be");
    const e = await expectCode(
      withLock(path.join(dir, "locks", "x.lock"), async () => 1),
      "IO",
    );
    expect(e.message).toContain(path.join(dir, "locks"));
  });
});

describe("I/O errors", () => {
  it("a root that cannot be created, a blob folder that cannot be written, an unreadable CSV: IO naming the file", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "file"), "x");
    const e = await expectCode(Datasource.getOrCreate({ name: "x", path: dir, root: path.join(dir, "file", "root") }), "IO");
    expect(e.message).toContain(path.join(dir, "file", "root"));
    const root = path.join(dir, ".quiver");
    const ds = await Datasource.getOrCreate({ name: "x", path: dir, root, store: `memory:io-${process.pid}` });
    try {
      fs.writeFileSync(path.join(root, "blobs"), "a file where the folder should be");
      const b = await expectCode(ds.updateMetadata("a.jpg", { pic: new Uint8Array([1]), n: 1 }), "IO");
      expect(b.message).toContain(path.join(root, "blobs"));
      expect(await ds.fields()).toEqual([]);
      await expectCode(ds.uploadMetadata(path.join(dir, "nope.csv")), "NOT_FOUND", /nope\.csv/);
      fs.mkdirSync(path.join(dir, "dir.csv"));
      const c = await expectCode(ds.uploadMetadata(path.join(dir, "dir.csv")), "IO");
      expect(c.message).toContain("dir.csv");
    } finally {
      await ds.close();
    }
  });
});

describe("process exit", () => {
  it.each(STORES.filter(([l]) => l !== "memory"))("an update acknowledged right before process.exit() is on disk (%s)", async (_l, storeFor) => {
    const dir = tempDir();
    const root = path.join(dir, ".quiver");
    const store = storeFor(root);
    const script = `
      const { Datasource } = await import(${JSON.stringify(DIST)});
      const ds = await Datasource.getOrCreate({ name: "x", path: ${JSON.stringify(dir)}, root: ${JSON.stringify(root)}, store: ${JSON.stringify(store)} });
      await ds.updateMetadata("a.jpg", { n: 1, s: "x", pic: new Uint8Array([1, 2]) });
      await ds.metadataContext((ctx) => { for (let i = 0; i < 500; i++) ctx.updateMetadata("b" + i + ".jpg", { n: i }); });
      process.exit(0);`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const ds = await Datasource.get({ name: "x", root, store });
    try {
      const rows = (await ds.all()).rows;
      expect(rows).toHaveLength(501);
      expect(rows.find((x) => x.path === "a.jpg")).toMatchObject({ n: 1, s: "x" });
      expect(fs.existsSync(path.join(root, "locks", `${ds.id}.lock`))).toBe(false);
    } finally {
      await ds.close();
    }
  });
});

describe("SIGKILL mid-commit", () => {
  it.each(STORES.filter(([l]) => l !== "memory"))(
    "every commit is seen whole or not at all, and writing goes on (%s)",
    async (_l, storeFor) => {
      const dir = tempDir();
      const root = path.join(dir, ".quiver");
      const store = storeFor(root);
      // 70 fields first: each commit below writes two events tables (k in the first, w in the second).
      const seed = await Datasource.getOrCreate({ name: "k", path: dir, root, store });
      const wide: Record<string, unknown> = { k: -1 };
      for (let i = 0; i < 70; i++) wide[`w${i}`] = -1;
      await seed.updateMetadata("seed.jpg", wide);
      await seed.close();
      const script = `
      const { Datasource } = await import(${JSON.stringify(DIST)});
      const ds = await Datasource.getOrCreate({ name: "k", path: ${JSON.stringify(dir)}, root: ${JSON.stringify(root)}, store: ${JSON.stringify(store)} });
      const paths = Array.from({ length: 300 }, (_, i) => "p" + i + ".jpg");
      for (let k = 0; ; k++) { await ds.updateMetadata(paths, { k, w69: k }); process.stdout.write("."); }`;
      let commits = 0;
      for (let round = 0; round < 6; round++) {
        const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
        let dots = 0;
        // Killed mid-loop: once it has committed (its start-up alone can take seconds on a loaded machine), a bit later.
        const started = new Promise((r) => child.stdout.once("data", r));
        child.stdout.on("data", (b: Buffer) => (dots += b.length));
        await Promise.race([started, new Promise((r) => setTimeout(r, 60_000))]);
        await new Promise((r) => setTimeout(r, 100 + round * 150));
        child.kill("SIGKILL");
        await new Promise((r) => child.on("exit", r));
        commits += dots;
        const ds = await Datasource.get({ name: "k", root, store });
        try {
          const rows = (await ds.where(ds.field("k").ge(0)).all()).rows;
          // A torn commit would leave some paths with the new k (or w69) and others without.
          const ks = new Set(rows.map((r) => r.k));
          expect(ks.size, `round ${round}: k values ${[...ks].join(",")}`).toBeLessThanOrEqual(1);
          for (const r of rows) expect(r.w69, `round ${round}`).toBe(r.k);
          if (rows.length) expect(rows).toHaveLength(300);
          // Every acknowledged commit is there (it may have committed one more before dying).
          if (dots) expect(Number([...ks][0]) + 1).toBeGreaterThanOrEqual(dots);
        } finally {
          await ds.close();
        }
      }
      expect(commits).toBeGreaterThan(0);
      // Writing goes on over whatever the kills left; the log stays contiguous.
      const ds = await Datasource.get({ name: "k", root, store });
      try {
        await ds.updateMetadata("p0.jpg", { k: 1000 });
        expect((await ds.where(ds.field("k").eq(1000)).all()).length).toBe(1);
        const seqs: number[] = [];
        for await (const b of ds.store.scan(`datasource/${ds.id}/events`, { columns: ["_seq"] })) for (let i = 0; i < b.numRows; i++) seqs.push(Number(b.getChild("_seq")!.get(i)));
        seqs.sort((a, b) => a - b);
        expect(seqs).toEqual(seqs.map((_, i) => i));
      } finally {
        await ds.close();
      }
    },
    120_000,
  );
});

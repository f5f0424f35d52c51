/**
 * The hot state (src/hot.ts): the current metadata kept in memory and maintained from the log.
 * Every answer must equal the SQL engine's over the same history (QUIVER_DS_HOT=0 turns the
 * hot state off for a datasource opened while it is set), including after commits made by
 * another Datasource of the same root and by another process, and after refused writes.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Float64, Int64, Table, TimestampMicrosecond, Utf8, makeVector } from "apache-arrow";
import { afterAll, expect, it } from "vitest";
import { type QueryLike, buildData, field, queryFields, rowsToBatch, toNode } from "@quiver/core";
import { ones } from "../dist/columns.js";
import { Datasource } from "../dist/index.js";
import { expectCode, tempDir } from "./helpers.js";

const opened: Datasource[] = [];
afterAll(async () => {
  for (const d of opened) await d.close();
});

function rng(seed: number): () => number {
  return () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
}

async function sqlOnly(dir: string, name: string): Promise<Datasource> {
  process.env.QUIVER_DS_HOT = "0";
  try {
    return await Datasource.getOrCreate({ name, path: dir, root: path.join(dir, `sql-${name}`) });
  } finally {
    delete process.env.QUIVER_DS_HOT;
  }
}

const QUERIES: [string, QueryLike | undefined][] = [
  ["all", undefined],
  [
    "seed",
    field("n")
      .gt(3)
      .or(field("n").eq(0).and(field("flag").eq(true))),
  ],
  ["ne", field("n").ne(2)],
  ["ge/le", field("n").ge(2).and(field("n").le(5))],
  ["fraction", field("n").lt(2.5)],
  ["float", field("x").gt(0.5)],
  ["float eq -0", field("x").eq(0)],
  ["big", field("big").gt(2 ** 53)],
  ["bigint", field("big").eq(2n ** 53n + 1n)],
  ["string", field("s").ge("b")],
  ["unicode", field("s").gt("\u{e000}")],
  ["contains", field("s").contains("é")],
  ["starts", field("path").startsWith("p/1")],
  ["ends", field("s").endsWith("z")],
  ["in", field("s").in(["a", "c", "nope"])],
  ["in empty", field("n").in([])],
  ["null", field("s").isNull()],
  ["not null", field("x").isNotNull()],
  ["not", field("n").gt(3).not()],
  ["date", field("when").ge(new Date(1_700_000_000_000))],
  ["blob", field("mask").isNotNull()],
];

it("answers every query like the SQL engine after every step of a random history (uploads, updates, clears, deletes, new fields)", async () => {
  const dir = tempDir();
  const hot = await Datasource.getOrCreate({ name: "h", path: dir, root: path.join(dir, "hot") });
  const sql = await sqlOnly(dir, "h");
  opened.push(hot, sql);
  const r = rng(7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  // Paths whose UTF-8 order differs from UTF-16 order (U+E000 sorts before U+1F600 in UTF-16 only).
  const paths = [...Array.from({ length: 12 }, (_, i) => `p/${i}.jpg`), "p/\u{e000}.jpg", "p/\u{1f600}.jpg", "q/é.jpg", "a/z.jpg"];
  const strings = ["a", "b", "c", "é", "zz", "\u{e000}", "\u{1f600}", ""];
  for (let step = 0; step < 20; step++) {
    const kind = step < 2 ? "upload" : pick(["update", "update", "update", "clear", "delete", "upload", "arrow"]);
    const targets = [...new Set(Array.from({ length: 1 + Math.floor(r() * 4) }, () => pick(paths)))];
    const v: Record<string, unknown> = {};
    if (r() < 0.7) v.n = Math.floor(r() * 8) - 1;
    if (r() < 0.4) v.x = pick([0.25, 0.75, -0, Number.NaN, 1e300, -1.5]);
    if (r() < 0.5) v.s = pick(strings);
    if (r() < 0.4) v.flag = r() < 0.5;
    if (r() < 0.2) v.big = pick([2n ** 53n + 1n, 2n ** 62n, -(2n ** 60n)]);
    if (r() < 0.2) v.when = new Date(1_699_999_000_000 + Math.floor(r() * 2_000_000));
    if (r() < 0.1) v.mask = new Uint8Array([step, 1, 2]);
    if (r() < 0.1) v.n = null;
    // unsorted, with a repeated path (the later row wins) and new paths
    const rows = [...targets, targets[0]!, `new/${step}.jpg`].map((p, i) => ({ path: p, n: (step + i) % 7, s: pick(strings), flag: i % 2 === 0 })).reverse();
    for (const ds of [hot, sql]) {
      if (kind === "update" && Object.keys(v).length) await ds.updateMetadata(targets, v);
      else if (kind === "clear") await ds.deleteMetadata(targets, ["n", "s"]);
      else if (kind === "delete") await ds.deleteDatapoints(targets);
      else if (kind === "upload") await ds.uploadMetadata(rows);
      else if (kind === "arrow") {
        const ps = [...targets].sort();
        await ds.uploadMetadata(
          new Table({
            path: makeVector(buildData(new Utf8(), ps)),
            x: makeVector(
              buildData(
                new Float64(),
                ps.map((_, i) => (i % 2 ? null : step / 10)),
              ),
            ),
          }),
        );
      }
    }
    const known = new Set(["path", ...(await hot.fields()).map((f) => f.name)]);
    expect([...known].slice(1)).toEqual((await sql.fields()).map((f) => f.name));
    for (const [name, q] of QUERIES) {
      if (q && ![...queryFields(toNode(q))].every((f) => known.has(f))) continue; // a field not there yet
      const [a, b] = q ? [hot.where(q), sql.where(q)] : [hot, sql];
      expect((await a.all()).rows, `${name} at step ${step} (${kind})`).toEqual((await b.all()).rows);
      if (step % 3 === 0) for (const k of [0, 2]) expect((await a.head(k)).rows, `${name} head(${k}) at step ${step}`).toEqual((await b.head(k)).rows);
    }
    expect((await hot.select("s", "n").all()).rows).toEqual((await sql.select("s", "n").all()).rows);
    // ordered by other keys (nulls last, NaN above every number, ties in path order), with limits
    for (const [f, dir] of [
      ["n", "desc"],
      ["s", "asc"],
      ["x", "asc"],
      ["x", "desc"],
      ["flag", "desc"],
      ["big", "asc"],
      ["when", "desc"],
    ] as const) {
      if (!known.has(f)) continue;
      const [a, b] = [hot.orderBy(f, dir), sql.orderBy(f, dir)];
      expect((await a.all()).rows, `orderBy ${f} ${dir} at step ${step}`).toEqual((await b.all()).rows);
      expect((await a.orderBy("path", "desc").head(3)).rows).toEqual((await b.orderBy("path", "desc").head(3)).rows);
    }
    expect((await hot.limit(2).all()).rows).toEqual((await sql.limit(2).all()).rows);
  }
  // every answer above came from the hot state: the SQL engine never materialised `current`
  expect((await hot.store.tables()).filter((t) => t.startsWith(`datasource/${hot.id}/current`))).toEqual([]);
  // asOf runs in SQL (the events up to then) and agrees too
  const t = new Date();
  await hot.updateMetadata("p/1.jpg", { n: 99 });
  await sql.updateMetadata("p/1.jpg", { n: 99 });
  expect((await hot.asOf(t).all()).rows).toEqual((await sql.asOf(t).all()).rows);
  expect((await hot.asOf(t).where(field("n").eq(99)).all()).length).toBe(0);
  expect((await hot.where(field("n").eq(99)).all()).paths).toEqual(["p/1.jpg"]);
}, 300_000);

it("follows commits of another Datasource of the same root incrementally, and of another process", async () => {
  const dir = tempDir();
  const root = path.join(dir, ".quiver");
  const a = await Datasource.getOrCreate({ name: "imgs", path: dir, root });
  opened.push(a);
  await a.uploadMetadata(Array.from({ length: 2000 }, (_, i) => ({ path: `img/${String(i).padStart(5, "0")}.jpg`, n: i % 10 })));
  const b = await Datasource.get({ name: "imgs", root });
  opened.push(b);
  const q = field("n").eq(3);
  expect((await b.where(q).all()).length).toBe(200); // b loads its state once
  await a.updateMetadata("img/00003.jpg", { n: 4, tag: "moved" }); // a new field, from a
  await a.deleteDatapoints("img/00013.jpg");
  await a.uploadMetadata([{ path: "img/zz.jpg", n: 3 }]);
  const seen = await b.where(q).all();
  expect(seen.length).toBe(199);
  expect(seen.paths).toContain("img/zz.jpg");
  expect(seen.paths).not.toContain("img/00003.jpg");
  expect((await b.where(field("tag").eq("moved")).all()).paths).toEqual(["img/00003.jpg"]);

  // another process writes while both are open here
  const script = `
    const { Datasource } = await import(${JSON.stringify(new URL("../dist/index.js", import.meta.url).href)});
    const ds = await Datasource.get({ name: "imgs", root: ${JSON.stringify(root)} });
    await ds.updateMetadata(["img/00023.jpg", "img/00033.jpg"], { n: 7 });
    await ds.deleteMetadata("img/00043.jpg", "n");
    await ds.close();`;
  // (not spawnSync: this process must keep serving the shared DuckDB file's hand-over)
  const child = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, ["--input-type=module", "-e", script], { cwd: fileURLToPath(new URL("..", import.meta.url)) });
    let stderr = "";
    p.stderr.on("data", (d) => (stderr += d));
    p.on("close", (status) => resolve({ status, stderr }));
  });
  expect(child.stderr).toBe("");
  expect(child.status).toBe(0);
  for (const ds of [a, b]) {
    const got = await ds.where(q).all();
    expect(got.length).toBe(196);
    // its only field cleared: no longer a datapoint
    expect((await ds.where(field("path").eq("img/00043.jpg")).all()).rows).toEqual([]);
    expect((await ds.where(field("n").eq(7)).all()).paths.filter((p) => p.endsWith("23.jpg") || p.endsWith("33.jpg"))).toContain("img/00023.jpg");
  }
});

it("a refused or failed write leaves the answers as they were", async () => {
  const dir = tempDir();
  const ds = await Datasource.getOrCreate({ name: "x", path: dir, root: path.join(dir, ".quiver") });
  opened.push(ds);
  await ds.uploadMetadata([
    { path: "a.jpg", n: 1, s: "x" },
    { path: "b.jpg", n: 2, s: "y" },
  ]);
  const before = (await ds.all()).rows;
  await expectCode(ds.updateMetadata("a.jpg", { n: "one" }), "SCHEMA_MISMATCH");
  await expectCode(ds.uploadMetadata([{ path: "c.jpg", n: 1.5 }]), "SCHEMA_MISMATCH");
  await expect(
    ds.metadataContext((ctx) => {
      ctx.updateMetadata("a.jpg", { n: 5 });
      throw new Error("changed my mind");
    }),
  ).rejects.toThrow("changed my mind");
  expect((await ds.all()).rows).toEqual(before);
  expect((await ds.where(field("n").eq(5)).all()).length).toBe(0);
});

it("head(n) of a large datasource reads about n rows, and an update of some datapoints does not rebuild the state", async () => {
  const dir = tempDir();
  const ds = await Datasource.getOrCreate({ name: "big", path: dir, root: path.join(dir, ".quiver") });
  opened.push(ds);
  const N = 200_000;
  await ds.uploadMetadata(Array.from({ length: N }, (_, i) => ({ path: `f/${String(i).padStart(7, "0")}`, n: i % 10 })));
  const q = field("n").eq(7);
  const all = await ds.where(q).all();
  expect(all.length).toBe(N / 10);
  expect((await ds.where(q).head(5)).paths).toEqual(all.paths.slice(0, 5));
  // 10k datapoints change: the next answer reflects them (and nothing went through a rebuild
  // of `current`: the SQL engine's materialised table was never created)
  await ds.uploadMetadata(Array.from({ length: 10_000 }, (_, i) => ({ path: `f/${String(i * 3).padStart(7, "0")}`, n: 7 })));
  const after = await ds.where(q).all();
  const expected = new Set(all.paths);
  for (let i = 0; i < 10_000; i++) {
    const p = `f/${String(i * 3).padStart(7, "0")}`;
    expected.add(p);
  }
  expect(after.length).toBe(expected.size);
  const tables = await ds.store.tables();
  expect(tables.filter((t) => t.startsWith(`datasource/${ds.id}/current`))).toEqual([]);
});

it.each([["whole"], ["sliced"]])("a first Arrow upload (%s) is held by reference, never written into: later writes copy, and every answer stays the SQL engine's", async (kind) => {
  const dir = tempDir();
  const hot = await Datasource.getOrCreate({ name: "ref", path: dir, root: path.join(dir, "hot") });
  const sql = await sqlOnly(dir, "ref");
  opened.push(hot, sql);
  const n = 40;
  const from = kind === "sliced" ? 0 : 1;
  const full = new Table({
    path: makeVector(
      buildData(
        new Utf8(),
        Array.from({ length: n + 1 - from }, (_, i) => `p/${String(i + from).padStart(3, "0")}.jpg`),
      ),
    ),
    n: makeVector(
      buildData(
        new Int64(),
        Array.from({ length: n + 1 - from }, (_, j) => ((j + from) % 2 ? 2n ** 53n + BigInt(j + from) : j + from)),
      ),
    ),
    x: makeVector(
      buildData(
        new Float64(),
        Array.from({ length: n + 1 - from }, (_, i) => (i + from) / 4),
      ),
    ),
    s: makeVector(
      buildData(
        new Utf8(),
        Array.from({ length: n + 1 - from }, (_, i) => `é${i + from}`),
      ),
    ),
    when: makeVector(
      buildData(
        new TimestampMicrosecond("UTC"),
        Array.from({ length: n + 1 - from }, (_, i) => new Date(1.7e12 + i + from)),
      ),
    ),
  });
  // sliced: every column has offset 1 (its value buffers already sliced, its strings' offsets not starting at 0)
  const table = kind === "sliced" ? full.slice(1) : full;
  const buffers = (t: Table): Uint8Array[] =>
    t.schema.fields.flatMap((_, i) => {
      const d = t.getChildAt(i)!.data[0]!;
      return [d.values, d.valueOffsets].filter((b): b is Uint8Array => b !== undefined).map((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice());
    });
  const before = buffers(table);
  const same = async (step: string): Promise<void> => {
    for (const q of [undefined, field("n").gt(10), field("s").ge("é2"), field("x").lt(3), field("when").ge(new Date(1.7e12 + 20))]) {
      const [a, b] = q ? [hot.where(q), sql.where(q)] : [hot, sql];
      expect((await a.all()).rows, step).toEqual((await b.all()).rows);
    }
    expect(buffers(table), `the uploaded table after ${step}`).toEqual(before);
    // the shared all-ones validity the columns started from is untouched too
    expect(
      ones(n).every((b) => b === 1),
      `ones() after ${step}`,
    ).toBe(true);
  };
  for (const ds of [hot, sql]) await ds.uploadMetadata(table);
  // every row as the table has it (a sliced table's rows were shifted by one before)
  const rows = Array.from({ length: n }, (_, j) => {
    const i = j + 1;
    return { path: `p/${String(i).padStart(3, "0")}.jpg`, n: i % 2 ? 2n ** 53n + BigInt(i) : i, x: i / 4, s: `é${i}`, when: new Date(1.7e12 + i) };
  });
  for (const ds of [hot, sql]) expect((await ds.all()).rows).toEqual(rows);
  await same("upload");
  const writes: [string, (ds: Datasource) => Promise<unknown>][] = [
    ["clear", (ds) => ds.deleteMetadata("p/005.jpg", ["n", "x", "s", "when"])],
    ["update", (ds) => ds.updateMetadata(["p/003.jpg", "p/004.jpg"], { n: -1, x: -0, s: "z", when: new Date(1) })],
    ["delete", (ds) => ds.deleteDatapoints("p/006.jpg")],
    [
      "new paths",
      (ds) =>
        ds.uploadMetadata([
          { path: "a.jpg", n: 1 },
          { path: "p/999.jpg", s: "q", x: 1.5 },
        ]),
    ],
    ["new field", (ds) => ds.updateMetadata("p/007.jpg", { tag: "t" })],
  ];
  for (const [step, write] of writes) {
    for (const ds of [hot, sql]) await write(ds);
    await same(step);
  }
});

it("a sliced Arrow table with nulls and bools (validity and bool bits at an offset, values already sliced) uploads exactly as the same rows unsliced — hot state, segments and the SQL engine", async () => {
  const dir = tempDir();
  const N = 3000;
  const all = Array.from({ length: N }, (_, i) => ({
    path: `q/${String(i).padStart(5, "0")}.jpg`,
    n: i % 4 === 1 ? null : i % 2 ? -3 * i : i,
    x: i % 7 === 3 ? null : i / 8,
    ok: i % 3 === 0 ? null : i % 2 === 0,
    label: i % 5 === 2 ? null : `l${i % 11}`,
    when: i % 6 === 4 ? null : new Date(1.7e12 + i),
  }));
  const [from, to] = [13, 2611]; // not on a byte boundary of the bits
  const schema = rowsToBatch(all).schema;
  const sliced = new Table(rowsToBatch(all)).slice(from, to);
  const whole = new Table(rowsToBatch(all.slice(from, to), { schema }));
  process.env.QUIVER_DS_SEGMENT_ROWS = "500"; // several segments per upload
  try {
    const answers: unknown[] = [];
    for (const [k, t] of [
      ["sliced", sliced],
      ["whole", whole],
    ] as const) {
      for (const ds of [await Datasource.getOrCreate({ name: k, path: dir, root: path.join(dir, `hot-${k}`) }), await sqlOnly(dir, k)]) {
        opened.push(ds);
        await ds.uploadMetadata(t);
        answers.push((await ds.all()).rows, (await ds.where(field("ok").eq(true)).all()).rows);
      }
    }
    expect(answers[0]).toHaveLength(to - from);
    // [all rows, ok = true] of: sliced hot, sliced SQL, whole hot, whole SQL
    answers.forEach((a, k) => expect(a, `answer ${k}`).toEqual(answers[k % 2]));
  } finally {
    delete process.env.QUIVER_DS_SEGMENT_ROWS;
  }
});

/**
 * The timeline, array and gallery routes over real files: a msgpack session, an H5Logger file
 * (also while another process logs to it with SWMR), a datasource of PNG files with a symlink
 * pointing outside. Files are served only from inside the datasource's folder, and nothing
 * under any of them is written.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync, statSync, symlinkSync } from "node:fs";
import { request } from "node:http";
import { join, relative } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodePng, startServer, StreamM4, type UiServer } from "../dist/index.js";
import { decimate } from "../dist/shared/decimate.js";
import { tempDir } from "./helpers.js";
import { makeDatasource, makeH5, makeSession, T0 } from "./view-fixtures.js";

const tmp = tempDir();
const root = join(tmp.dir, ".quiver");
const folder = join(tmp.dir, "pets");
const h5 = join(tmp.dir, "arrays.h5");
let srv: UiServer;
let before: Date;
let spike: number;

// biome-ignore lint/suspicious/noExplicitAny: the routes' JSON, of many shapes, read by the assertions
type Json = any;

function get(path: string, method = "GET", body?: unknown): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer; json: () => Json }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: srv.port, path, method, headers: body ? { "content-type": "application/json" } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const b = Buffer.concat(chunks);
        resolve({ status: res.statusCode!, headers: res.headers, body: b, json: () => JSON.parse(b.toString("utf8")) });
      });
    });
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** Every file under a folder with its size and mtime (what "never writes" is checked against). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!f.isFile()) continue;
    const p = join(f.parentPath, f.name);
    const st = statSync(p);
    out[relative(dir, p)] = `${st.size}:${st.mtimeMs}`;
  }
  return out;
}

beforeAll(async () => {
  const session = await makeSession(join(tmp.dir, "tracks"), 20_000);
  ({ spike } = await makeH5(h5, 12, 50_000));
  ({ before } = await makeDatasource(root, folder, 300, join(tmp.dir, "secret.txt")));
  srv = await startServer({ store: session.uri, port: 0, h5, datasources: root });
}, 120_000);

afterAll(async () => {
  await srv?.close();
  tmp.cleanup();
});

describe("tracks timeline API", () => {
  it("lists sessions, tracks with their fields and time extent, and the logs table", async () => {
    expect((await get("/api/sources")).json()).toMatchObject({ runs: false, tracks: true, h5: [h5], datasources: root });
    const sessions = (await get("/api/tracks/sessions")).json();
    expect(sessions.map((s: { prefix: string }) => s.prefix)).toEqual(["robot/demo"]);
    const [pose, cam] = [sessions[0].tracks.find((t: { name: string }) => t.name === "robot/pose"), sessions[0].tracks.find((t: { name: string }) => t.name === "camera/left")];
    expect(pose).toMatchObject({ rows: 20_000, t0: T0, t1: T0 + 199.99, table: "robot/demo/tracks/robot/pose" });
    expect(pose.fields).toEqual([
      { name: "position", kind: "list", size: 3 },
      { name: "speed", kind: "number" },
    ]);
    expect(cam.rows).toBe(2000);
    expect(sessions[0].logs).toMatchObject({ table: "robot/demo/logs", rows: 50 });
  });

  it("decimates a window: one line per list element, the spike kept, equal to decimating every point", async () => {
    const w = (await get("/api/tracks/window", "POST", { table: "robot/demo/tracks/robot/pose", fields: ["speed", "position"], t0: T0, t1: T0 + 199.99, width: 300 })).json();
    expect(w.n).toBe(20_000);
    expect(w.series.map((s: { key: string }) => s.key)).toEqual(["speed", "position[0]", "position[1]", "position[2]"]);
    const speed = w.series[0];
    expect(speed.x.length).toBeLessThanOrEqual(1200);
    const xs = Array.from({ length: 20_000 }, (_, i) => T0 + i / 100);
    const ys = xs.map((_, i) => (i === Math.floor(20_000 / 3) ? 99 : 1 + Math.sin(i / 50) / 2));
    const ref = decimate(xs, ys, T0, T0 + 199.99, 300);
    expect(speed.y).toEqual(ref.y);
    expect(speed.x).toEqual(ref.x);
    expect(Math.max(...speed.y)).toBe(99);
    // A narrow window reads only its points.
    const narrow = (await get("/api/tracks/window", "POST", { table: "robot/demo/tracks/robot/pose", fields: ["speed"], t0: T0 + 10, t1: T0 + 10.5, width: 300 })).json();
    expect(narrow.n).toBe(51);
  });

  it("gives the points around the cursor and the logs of a window", async () => {
    const a = (await get(`/api/tracks/around?table=${encodeURIComponent("robot/demo/tracks/robot/pose")}&t=${T0 + 1.005}&k=3`)).json();
    expect(a.before).toBe(3);
    expect(a.points.map((p: { _ts: number }) => Math.round((p._ts - T0) * 100))).toEqual([98, 99, 100, 101, 102, 103]);
    expect(a.points[2].position).toHaveLength(3);
    const logs = (await get(`/api/tracks/logs?table=${encodeURIComponent("robot/demo/logs")}&t0=${T0}&t1=${T0 + 50}`)).json();
    expect(logs.entries.length).toBe(13);
    expect(logs.entries[7]).toMatchObject({ level: "error", message: "motor stall 7" });
    expect((await get("/api/tracks/logs?table=robot/demo/tracks/robot/pose")).status).toBe(400);
  });
});

describe("the timeline's reads", () => {
  it("cost the window: every read of a track is a bounded readByTime, never a scan of the track", async () => {
    const { openStore } = await import("@quiver/core");
    const real = await openStore(srv.data.store.uri, { readOnly: true });
    const calls: { fn: string; table: string; range?: Record<string, unknown>; rows: number }[] = [];
    const counting = new Proxy(real, {
      get(target, key, recv) {
        const v = Reflect.get(target, key, recv);
        if (key !== "readByTime" && key !== "scan") return typeof v === "function" ? v.bind(target) : v;
        return (table: string, range: Record<string, unknown>) => {
          const call = { fn: String(key), table, range, rows: 0 };
          calls.push(call);
          const it = (v as (t: string, r: unknown) => AsyncIterable<{ numRows: number }>).call(target, table, range);
          return (async function* () {
            for await (const b of it) {
              call.rows += b.numRows;
              yield b;
            }
          })();
        };
      },
    });
    const s2 = await startServer({ store: counting, port: 0 });
    const save = srv;
    srv = s2;
    try {
      const table = "robot/demo/tracks/robot/pose";
      const w = (await get("/api/tracks/window", "POST", { table, fields: ["speed", "position"], t0: T0 + 50, t1: T0 + 60, width: 200 })).json();
      expect(w.n).toBe(1001);
      await get(`/api/tracks/around?table=${encodeURIComponent(table)}&t=${T0 + 55}&k=5`);
      await get("/api/tracks/sessions");
      const track = calls.filter((c) => c.table === table);
      expect(track.length).toBeGreaterThan(0);
      expect(calls.filter((c) => c.fn === "scan")).toEqual([]);
      for (const c of track) expect(c.range!.limit !== undefined || (c.range!.start !== undefined && c.range!.end !== undefined), JSON.stringify(c)).toBe(true);
      // Rows that left the store for this track: the window, the 10 points around the cursor, and the one-row extents.
      expect(track.reduce((a, c) => a + c.rows, 0)).toBeLessThanOrEqual(1001 + 10 + 2);
    } finally {
      srv = save;
      await s2.close();
      await real.close();
    }
  });
});

describe("the same timeline on other stores", () => {
  it("a DuckDB session answers exactly as the msgpack one (windows pushed down as SQL)", async () => {
    await import("@quiver/store-duckdb");
    const duck = await makeSession("", 20_000, undefined, `duckdb:${join(tmp.dir, "tracks.db")}`);
    const other = await startServer({ store: duck.uri, port: 0 });
    try {
      const ask = async (s: UiServer, path: string, body?: unknown) => {
        const save = srv;
        srv = s;
        try {
          return (await get(path, body ? "POST" : "GET", body)).json();
        } finally {
          srv = save;
        }
      };
      const table = "robot/demo/tracks/robot/pose";
      const win = { table, fields: ["speed", "position"], t0: T0 + 3, t1: T0 + 150, width: 400 };
      const strip = (w: Json) => ({ ...w, ms: 0 });
      expect(strip(await ask(other, "/api/tracks/window", win))).toEqual(strip(await ask(srv, "/api/tracks/window", win)));
      const around = `/api/tracks/around?table=${encodeURIComponent(table)}&t=${T0 + 77.777}&k=4`;
      expect(await ask(other, around)).toEqual(await ask(srv, around));
      const sessions = await ask(other, "/api/tracks/sessions");
      expect(sessions).toEqual(await ask(srv, "/api/tracks/sessions"));
    } finally {
      await other.close();
    }
  });

  it("an h5: store shows its own file in the array viewer, beside its tracks", async () => {
    await import("@quiver/store-h5");
    const file = join(tmp.dir, "session.h5");
    await makeSession("", 500, undefined, `h5:${file}`);
    const hs = await startServer({ store: `h5:${file}`, port: 0 });
    try {
      const save = srv;
      srv = hs;
      try {
        const src = (await get("/api/sources")).json();
        expect(src).toMatchObject({ tracks: true, h5: [file] });
        const tree = (await get("/api/h5/tree?file=0")).json();
        expect(tree.entries.map((e: { path: string }) => e.path)).toContain("/robot/demo/tracks/robot/pose/speed");
        const l = (await get(`/api/h5/line?file=0&name=${encodeURIComponent("/robot/demo/tracks/robot/pose/speed")}&width=100`)).json();
        expect(l.length).toBe(500);
        expect((await get("/api/tracks/sessions")).json()[0].tracks.find((t: { name: string }) => t.name === "robot/pose").rows).toBe(500);
      } finally {
        srv = save;
      }
    } finally {
      await hs.close();
    }
  });
});

describe("array viewer API", () => {
  it("lists groups and datasets with shape and dtype, as h5ls -r", async () => {
    const tree = (await get("/api/h5/tree?file=0")).json();
    expect(tree.entries).toEqual([
      { path: "/image", kind: "dataset", shape: [12, 64, 64], dtype: "float32", view: "image" },
      { path: "/loss", kind: "dataset", shape: [50_000], dtype: "float64", view: "line" },
      { path: "/rgb", kind: "dataset", shape: [12, 32, 32, 3], dtype: "uint8", view: "rgb" },
      { path: "/train", kind: "group" },
      { path: "/train/acc", kind: "dataset", shape: [12], dtype: "float64", view: "line" },
    ]);
  });

  it("decimates a 1-D dataset chunk by chunk (the spike kept) and reads ranges", async () => {
    const l = (await get("/api/h5/line?file=0&name=/loss&width=500")).json();
    expect(l).toMatchObject({ length: 50_000, i0: 0, i1: 50_000 });
    const s = l.series[0];
    expect(s.n).toBe(50_000);
    expect(s.x.length).toBeLessThanOrEqual(2000);
    expect(s.x[s.y.indexOf(42)]).toBe(spike);
    const z = (await get(`/api/h5/line?file=0&name=/loss&i0=${spike - 100}&i1=${spike + 100}&width=500`)).json();
    expect(z.series[0].n).toBe(200);
    expect(z.series[0].x[0]).toBe(spike - 100);
  });

  it("streaming M4 equals the reference decimation", () => {
    const xs = Array.from({ length: 10_007 }, (_, i) => i);
    const ys = xs.map((i) => Math.sin(i / 37) * (i % 997 === 3 ? 20 : 1));
    const m = new StreamM4(0, 10_006, 123);
    for (let i = 0; i < xs.length; i++) m.add(xs[i]!, ys[i]!);
    const ref = decimate(xs, ys, 0, 10_006, 123);
    expect(m.points().x).toEqual(ref.x);
    expect(m.points().y).toEqual(ref.y);
  });

  it("serves one frame: float32 values with min/max, or the RGB bytes", async () => {
    const f = await get("/api/h5/frame?file=0&name=/image&i=3");
    const meta = JSON.parse(String(f.headers["x-quiver-frame"]));
    expect(meta).toMatchObject({ length: 12, shape: [3, 64, 64], dtype: "float32", min: 30 });
    expect(meta.max).toBeCloseTo(30 + 63 / 64, 5);
    expect(f.body.length).toBe(64 * 64 * 4);
    const rgb = await get("/api/h5/frame?file=0&name=/rgb&i=2");
    expect(rgb.body.length).toBe(32 * 32 * 3);
    expect([...rgb.body.subarray(0, 3)]).toEqual([255, 24, 0]);
    expect((await get("/api/h5/frame?file=0&name=/loss&i=0")).status).toBe(400);
    expect((await get("/api/h5/frame?file=3&name=/image")).status).toBe(404);
  });

  it("sees rows a SWMR writer in another process flushes, without restarting", async () => {
    const file = join(tmp.dir, "live.h5");
    const child: ChildProcess = spawn(process.execPath, [join(import.meta.dirname, "fixtures/h5-writer.mjs"), file], { stdio: ["pipe", "pipe", "inherit"] });
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const live = await startServer({ store: srv.data.store, port: 0, h5: file });
    try {
      const lens: number[] = [];
      for (let k = 0; k < 3; k++) {
        const n = Number((await lines.next()).value);
        const tree = await new Promise<{ entries: { path: string; shape: number[] }[] }>((resolve, reject) => {
          request({ host: "127.0.0.1", port: live.port, path: "/api/h5/tree?file=0" }, (res) => {
            const c: Buffer[] = [];
            res.on("data", (d) => c.push(d));
            res.on("end", () => resolve(JSON.parse(Buffer.concat(c).toString())));
          })
            .on("error", reject)
            .end();
        });
        lens.push(tree.entries.find((e: { path: string }) => e.path === "/frames")!.shape[0]!);
        expect(lens[k]).toBe(n);
        child.stdin!.write("more\n");
      }
      expect(lens[2]! > lens[0]!).toBe(true);
    } finally {
      child.stdin!.end("quit\n");
      await new Promise((r) => child.once("exit", r));
      await live.close();
    }
  });
});

describe("gallery API", () => {
  it("lists datasources with fields and versions, and saved datasets", async () => {
    const l = (await get("/api/ds/list")).json();
    expect(l.sources.map((s: { name: string }) => s.name)).toEqual(["pets"]);
    expect(l.sources[0].fields.map((f: { name: string }) => f.name)).toEqual(expect.arrayContaining(["size", "mtime", "label", "split", "score", "note"]));
    expect(l.datasets).toEqual([{ name: "cats", source: "pets" }]);
  });

  it("pages a query's result, counts facet values, honours asOf and saved datasets", async () => {
    const p = (await get("/api/ds/page", "POST", { source: "pets", offset: 0, limit: 50 })).json();
    expect(p.total).toBe(303); // 300 images, two text files, the symlink
    expect(p.items).toHaveLength(50);
    expect(p.items.find((i: { path: string }) => i.path === "images/000001.png")).toMatchObject({ kind: "image", meta: { label: "dog", split: "train" } });
    const q = (await get("/api/ds/page", "POST", { source: "pets", filter: "label = 'cat' and split = 'test'", offset: 0, limit: 500 })).json();
    expect(q.total).toBe(9); // i % 3 == 0 and i % 10 == 0, minus 0 (now a tiger)
    const facets = (await get("/api/ds/facets", "POST", { source: "pets" })).json();
    const label = facets.find((f: { field: string }) => f.field === "label");
    expect(label.values).toEqual([
      { value: "bird", count: 100 },
      { value: "dog", count: 100 },
      { value: "cat", count: 99 },
      { value: "tiger", count: 1 },
    ]);
    expect(label.missing).toBe(3);
    const old = (await get("/api/ds/page", "POST", { source: "pets", filter: "label = 'tiger'", asOf: before.toISOString(), offset: 0, limit: 10 })).json();
    expect(old.total).toBe(0);
    const cats = (await get("/api/ds/page", "POST", { source: "pets", dataset: "cats", offset: 0, limit: 500 })).json();
    expect(cats.total).toBe(99);
    const bad = await get("/api/ds/page", "POST", { source: "pets", filter: "label >", offset: 0, limit: 1 });
    expect(bad.status).toBe(400);
    expect(bad.json().code).toBe("INVALID_QUERY");
  });

  it("makes thumbnails on the server (a JPEG no larger than asked) and answers again from the cache", async () => {
    const t = await get("/api/ds/thumb?source=pets&path=images/000002.png&size=24");
    expect(t.status).toBe(200);
    expect(t.headers["content-type"]).toBe("image/jpeg");
    expect([...t.body.subarray(0, 2)]).toEqual([0xff, 0xd8]);
    const etag = String(t.headers.etag);
    expect(etag).toMatch(/^"[0-9a-f]{64}:24"$/);
    // Same content under another name: the same cached thumbnail.
    const u = await get("/api/ds/thumb?source=pets&path=images/000005.png&size=24");
    expect(u.headers.etag).toBe(etag);
    expect(decodePng(readFileSync(join(folder, "images/000002.png")))).toMatchObject({ width: 48, height: 32 });
    expect((await get("/api/ds/thumb?source=pets&path=docs/readme.txt")).status).toBe(400);
  });

  it("serves files only from inside the datasource's folder", async () => {
    const ok = await get("/api/ds/file?source=pets&path=docs/readme.txt");
    expect(ok.status).toBe(200);
    expect(ok.body.toString()).toBe("hello");
    symlinkSync(join(folder, "docs"), join(folder, "inner-link"));
    expect((await get("/api/ds/file?source=pets&path=inner-link/readme.txt")).status).toBe(200); // a link that stays inside
    for (const p of [
      "../secret.txt",
      "images/../../secret.txt",
      "/etc/passwd",
      encodeURIComponent(join(tmp.dir, "secret.txt")),
      "escape.png",
      "images%5C..%5C..%5Csecret.txt",
      "docs/%00readme.txt",
    ]) {
      const r = await get(`/api/ds/file?source=pets&path=${p}`);
      expect(r.status, p).toBe(403);
      expect(r.json().code).toBe("INVALID_PATH");
      expect(r.body.toString()).not.toContain("secret outside");
      expect((await get(`/api/ds/thumb?source=pets&path=${p}`)).status).toBe(403);
    }
    expect((await get("/api/ds/file?source=pets&path=nope.png")).status).toBe(404);
  });

  it("previews blobs by hash and refuses anything else", async () => {
    const p = (await get("/api/ds/page", "POST", { source: "pets", filter: "path = 'docs/readme.txt'", offset: 0, limit: 1 })).json();
    const hash = p.items[0].meta.note;
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect([...(await get(`/api/ds/blob?hash=${hash}`)).body]).toEqual([1, 2, 3]);
    expect((await get("/api/ds/blob?hash=../../etc/passwd")).status).toBe(400);
  });

  it("wrote nothing under the datasource root or folder", async () => {
    const a = { root: snapshot(root), folder: snapshot(folder) };
    await get("/api/ds/page", "POST", { source: "pets", filter: "score > 0.5", offset: 100, limit: 100 });
    await get("/api/ds/facets", "POST", { source: "pets", filter: "score > 0.5" });
    await get("/api/ds/thumb?source=pets&path=images/000010.png&size=64");
    expect({ root: snapshot(root), folder: snapshot(folder) }).toEqual(a);
  });
});

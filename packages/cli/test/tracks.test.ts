/** `quiver tracks` against Session tracks in a real msgpack folder (and a duckdb file). */
import "@quiver/store-duckdb";
import "@quiver/store-msgpack";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Session } from "@quiver/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorOf, inproc, jsonLines, ok, okIn, quiver, tempDir } from "./helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const ROOT = join(tmp.dir, ".quiver");
const T0 = 1_714_564_800; // 2024-05-01T12:00:00Z

beforeAll(async () => {
  const session = await Session.open({ prefix: "robot/run-1", root: ROOT });
  await session.track("robot/pose").appendBatch(Array.from({ length: 50 }, (_, i) => ({ _ts: T0 + i * 0.1, x: i, y: i * i, label: i % 2 ? "odd" : "even" })));
  session
    .track("battery")
    .append({ _ts: T0, percent: 99 })
    .append({ _ts: T0 + 60, percent: 98 });
  await session.close();
  const other = await Session.open({ prefix: "robot/run-2", root: ROOT });
  await other.track("robot/pose").appendBatch([{ _ts: T0, x: 1, y: 2 }]);
  await other.close();
  const duck = await Session.open({ prefix: "lab/exp", store: `duckdb:${join(tmp.dir, "tracks.db")}` });
  await duck.track("temp").appendBatch([
    { _ts: T0, c: 20.5 },
    { _ts: T0 + 1, c: 21 },
  ]);
  await duck.close();
});

describe("tracks", () => {
  it("ls lists sessions, then the tracks of one", async () => {
    expect(jsonLines(ok(["tracks", "ls", ROOT, "--json"]))).toEqual([
      { session: "robot/run-1", tracks: 2 },
      { session: "robot/run-2", tracks: 1 },
    ]);
    const tracks = jsonLines(ok(["tracks", "ls", ROOT, "robot/run-1", "--json"]));
    expect(tracks).toEqual([
      { track: "battery", points: 2, first: "2024-05-01T12:00:00.000Z", last: "2024-05-01T12:01:00.000Z", fields: ["percent"] },
      { track: "robot/pose", points: 50, first: "2024-05-01T12:00:00.000Z", last: "2024-05-01T12:00:04.900Z", fields: ["x", "y", "label"] },
    ]);
    expect(ok(["tracks", "ls", `duckdb:${join(tmp.dir, "tracks.db")}`, "lab/exp"])).toMatch(/^temp\s+2\s+2024-05-01 12:00:00\.000/m);
    expect(await okIn(["tracks", "ls", join(tmp.dir, "tracks.db")])).toMatch(/^lab\/exp\s+1$/m); // a bare .db path
  });

  it("read prints points by time, with start/end/limit/reverse", async () => {
    const all = jsonLines(ok(["tracks", "read", ROOT, "robot/run-1", "robot/pose", "--json", "--limit", "1000"]));
    expect(all).toHaveLength(51);
    expect(all.pop()).toEqual({ summary: { shown: 50, total: 50, more: false } });
    expect(all[3]).toEqual({ index: 3, _ts: T0 + 0.3, x: 3, y: 9, label: "odd" });
    const win = jsonLines(await okIn(["tracks", "read", ROOT, "robot/run-1", "robot/pose", "--json", "--start", String(T0 + 1), "--end", "2024-05-01T12:00:02Z"]));
    expect(win.map((p) => p.index)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19, undefined]);
    const rev = jsonLines(await okIn(["tracks", "read", ROOT, "robot/run-1", "robot/pose", "--json", "--reverse", "--limit", "2"]));
    expect(rev).toEqual([expect.objectContaining({ index: 49 }), expect.objectContaining({ index: 48 }), { summary: { shown: 2, total: 50, more: true } }]);
    const byIndex = jsonLines(await okIn(["tracks", "read", ROOT, "robot/run-1", "robot/pose", "--json", "--index", "48"]));
    expect(byIndex.map((p) => p.x)).toEqual([48, 49, undefined]);
    const people = ok(["tracks", "read", ROOT, "robot/run-1", "robot/pose", "--limit", "2"]).trimEnd().split("\n");
    expect(people[0]).toMatch(/^index\s+time \(UTC\)\s+x\s+y\s+label$/);
    expect(people[2]).toMatch(/^\s*0\s+2024-05-01 12:00:00\.000\s+0\s+0\s+even$/);
    expect(people[4]).toBe("2 of 50 points (more: raise --limit or narrow --start/--end)");
  });

  it("plot draws a track against time, in the terminal and as SVG", () => {
    const out = ok(["tracks", "plot", ROOT, "robot/run-1", "robot/pose", "y", "--width", "50", "--height", "8"]);
    expect(out).toMatch(/[\u2801-\u28ff]/);
    expect(out).toMatch(/12:00:0\d/); // time tick labels
    expect(out).toContain("━━ y");
    const svg = join(tmp.dir, "pose.svg");
    expect(ok(["tracks", "plot", ROOT, "robot/run-1", "robot/pose", "--x", "x", "--out", svg])).toContain("(1 line, 50 points)");
    expect(readFileSync(svg, "utf8").match(/<polyline /g)).toHaveLength(1);
  });

  it("names what exists when a session or track is missing", async () => {
    const s = quiver(["tracks", "read", ROOT, "robot/run-9", "robot/pose"]);
    expect(errorOf(s)).toEqual({ code: "NOT_FOUND", message: expect.stringContaining("sessions: robot/run-1, robot/run-2") });
    const t = await inproc(["tracks", "read", ROOT, "robot/run-1", "robot/speed"]);
    expect(errorOf(t)).toEqual({ code: "NOT_FOUND", message: expect.stringContaining("tracks: battery, robot/pose") });
    const root = await inproc(["tracks", "ls", join(tmp.dir, "nowhere")]);
    expect(errorOf(root).code).toBe("NOT_FOUND");
    const ts = await inproc(["tracks", "read", ROOT, "robot/run-1", "robot/pose", "--start", "yesterday-ish"]);
    expect(errorOf(ts).code).toBe("INVALID_VALUE");
    const usage = quiver(["tracks", "read", ROOT]);
    expect(usage.code).toBe(2);
    const outside = await inproc(["tracks", "read", ROOT, "../..", "x"]);
    expect(outside.code).toBe(1);
    expect(["INVALID_NAME", "NOT_FOUND"]).toContain(errorOf(outside).code);
  });
});

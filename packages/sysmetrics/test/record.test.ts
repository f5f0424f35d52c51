import fs from "node:fs";
import { Session } from "@quiver/core";
import { describe, expect, it } from "vitest";
import { recordTo, SystemSampler } from "../dist/index.js";
import { busy, ONE_CORE } from "./helpers.js";

const hasProc = fs.existsSync("/proc/net/dev");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("recordTo", () => {
  it("streams readings into a Session track until stopped, including while the main thread is blocked", async () => {
    const session = await Session.open({ prefix: "exp/sys", store: "memory:" });
    const track = session.track("system");
    const t0 = Date.now() / 1000;
    const rec = recordTo(track, { interval: 50 });
    await sleep(300);
    const blockStart = Date.now() / 1000;
    busy(600); // no timer of ours can run here; the worker keeps reading
    const blockEnd = Date.now() / 1000;
    await sleep(200);
    const n = await rec.stop();
    const t1 = Date.now() / 1000;
    expect(n).toBe(rec.points);
    expect(n).toBeGreaterThanOrEqual(14); // ~1.1 s at 20 Hz (22); a cold worker and a loaded machine cost a few
    expect(n).toBeLessThanOrEqual(24);
    expect(rec.dropped).toBe(0);

    const { data, total } = await track.read({ limit: 1000 });
    expect(total).toBe(n);
    const ts = data.map((p) => p.data._ts);
    for (let i = 1; i < ts.length; i++) expect(ts[i]!).toBeGreaterThan(ts[i - 1]!);
    expect(ts[0]!).toBeGreaterThanOrEqual(t0);
    expect(ts.at(-1)!).toBeLessThanOrEqual(t1);
    // readings stamped inside the blocked stretch, with the load visible in them
    const during = data.filter((p) => p.data._ts > blockStart + 0.05 && p.data._ts <= blockEnd);
    expect(during.length).toBeGreaterThanOrEqual(8);
    const meanCpu = during.reduce((a, p) => a + (p.data.cpu as number), 0) / during.length;
    expect(meanCpu).toBeGreaterThan(ONE_CORE * 0.85);
    for (const p of data) {
      for (const f of ["memory_percent", "p_memory_percent", "disk_percent"]) expect(typeof p.data[f]).toBe("number");
      if (hasProc) expect(p.data.bytes_sent).toBeGreaterThanOrEqual(0);
    }
    // windowed read by time works on the recorded points
    const w = await track.readByTime({ startTime: blockStart, endTime: blockEnd });
    expect(w.total).toBe(data.filter((p) => p.data._ts >= blockStart && p.data._ts < blockEnd).length);

    // after stop nothing more arrives
    await sleep(200);
    expect((await track.read()).total).toBe(n);
    expect(await rec.stop()).toBe(n); // idempotent
    await session.close();
  });

  it("sampler.recordTo uses the sampler's fields; network: false leaves the network fields out", async () => {
    const session = await Session.open({ prefix: "exp/sys2", store: "memory:" });
    const s = new SystemSampler({ interval: 40, network: false });
    {
      await using rec = s.recordTo(session.track("a"));
      for (let i = 0; i < 300 && rec.points < 5; i++) await sleep(10);
      expect(rec.points).toBeGreaterThanOrEqual(5); // drained on the timer, not only at stop
    }
    const { data } = await session.track("a").read();
    expect(data.length).toBeGreaterThanOrEqual(4);
    for (const p of data) {
      expect(p.data).not.toHaveProperty("bytes_sent");
      expect(Object.keys(p.data).sort()).toEqual(["_ts", "cpu", "disk_percent", "memory_percent", "p_memory_percent"]);
    }
    await session.close();
  });

  it("a track that stops accepting points ends the recording; stop() reports why", async () => {
    const session = await Session.open({ prefix: "exp/sys3", store: "memory:" });
    const rec = recordTo(session.track("a"), { interval: 20 });
    for (let i = 0; i < 300 && rec.points < 2; i++) await sleep(10);
    await session.close();
    await sleep(200); // the drain timer meets a closed session: no uncaught error
    await expect(rec.stop()).rejects.toMatchObject({ code: "CLOSED" });
  });

  it("rejects what is not a track", () => {
    expect(() => recordTo({} as never)).toThrow(expect.objectContaining({ code: "INVALID_VALUE" }));
    expect(() => recordTo({ append() {} }, { interval: 0 })).toThrow(expect.objectContaining({ code: "INVALID_VALUE" }));
  });
});

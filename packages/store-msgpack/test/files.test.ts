// Recovery sees the data file only through a Readable (and the lock holder's Writable): here it
// runs over bytes in memory, so what it reads, keeps and cuts is visible byte for byte.
import fs from "node:fs";
import { Packr } from "msgpackr";
import { afterAll, describe, expect, it } from "vitest";
import { isQuiverError } from "@quiver/core";
import { memoryFile } from "../dist/files.js";
import { recover } from "../dist/recover.js";
import { newState } from "../dist/state.js";
import { cleanup, listTree, tmpRoot } from "./helpers.js";

afterAll(cleanup);

const packr = new Packr({ useRecords: false });
const rec = (o: Record<string, unknown>) => packr.pack(o);
const NL = Buffer.from([0x0a]);

function setup(bytes: Buffer) {
  const root = tmpRoot("mem");
  const st = newState(root, "t");
  st.dataIno = 7n;
  st.dataSize = bytes.length;
  const warnings: string[] = [];
  const ctx = { root, blockRows: 2, durable: false, readOnly: false, dreamlake: false, lockTimeout: 1000, cache: new Map(), warn: (m: string) => warnings.push(m) };
  return { root, st, ctx, warnings };
}

describe("recovery over a Readable in memory", () => {
  // Records with and without the msgpack-lines newline, then half a record.
  const whole = Buffer.concat([rec({ _ts: 1, i: 1 }), NL, rec({ _ts: 2, i: 2 }), rec({ _ts: 3, i: 3 }), NL]);
  const torn = rec({ _ts: 4, i: 4 }).subarray(0, 5);
  const bytes = Buffer.concat([whole, torn]);

  it("a reader indexes the complete records, skips the torn one and writes nothing anywhere", () => {
    const { root, st, ctx } = setup(bytes);
    const file = memoryFile(bytes);
    recover(ctx, st, file);
    expect(st.rows).toBe(3);
    expect(st.end).toBe(whole.length);
    expect(st.entries.map((e) => [e.offset, e.rows, e.minTs, e.maxTs])).toEqual([
      [0, 2, 1, 2],
      [st.entries[1]!.offset, 1, 3, 3],
    ]);
    expect(st.schema!.fields.map((f) => f.name).sort()).toEqual(["_ts", "i"]);
    expect(file.bytes().equals(bytes)).toBe(true);
    expect(listTree(root)).toEqual([]);
  });

  it("a writer without a dead writer's intent refuses to cut bytes it cannot prove are its own", () => {
    const { st, ctx } = setup(bytes);
    const file = memoryFile(bytes);
    let err: unknown;
    try {
      recover(ctx, st, file, file);
    } catch (e) {
      err = e;
    }
    expect(isQuiverError(err, "IO")).toBe(true);
    expect((err as Error).message).toContain(`truncate -s ${whole.length}`);
    expect(file.bytes().equals(bytes)).toBe(true);
  });

  it("a writer holding a dead writer's intent for exactly those bytes cuts them and persists the index", () => {
    const { st, ctx, warnings } = setup(bytes);
    fs.mkdirSync(st.dir, { recursive: true });
    st.inherited = { ino: 7n, offset: whole.length - rec({ _ts: 3, i: 3 }).length - 1 };
    const file = memoryFile(bytes);
    recover(ctx, st, file, file);
    expect(file.bytes().equals(whole)).toBe(true);
    expect(st.rows).toBe(3);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/torn/);
    expect(fs.existsSync(st.indexPath) && fs.existsSync(st.schemaPath)).toBe(true);
  });

  it("an intent naming another data file proves nothing", () => {
    const { st, ctx } = setup(bytes);
    st.inherited = { ino: 8n, offset: 0 };
    const file = memoryFile(bytes);
    expect(() => recover(ctx, st, file, file)).toThrow(expect.objectContaining({ code: "IO" }));
    expect(file.bytes().equals(bytes)).toBe(true);
  });
});

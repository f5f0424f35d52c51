// The bench's datapoints, shared by run.mjs and upload.mjs: N paths × 6 metadata fields
// (episode, has_baby_yoda, score, label, frame, taken) as JS columns and as one Arrow table.
import { Bool, Float64, Int64, Table, TimestampMicrosecond, Utf8, makeVector } from "apache-arrow";
import { buildData } from "@quiver/core";

export function benchData(N) {
  const cols = {
    path: Array.from({ length: N }, (_, i) => `images/${String(i).padStart(7, "0")}.jpg`),
    episode: Array.from({ length: N }, (_, i) => i % 10),
    has_baby_yoda: Array.from({ length: N }, (_, i) => i % 3 === 0),
    score: Array.from({ length: N }, (_, i) => i / 7),
    label: Array.from({ length: N }, (_, i) => `c${i % 50}`),
    frame: Array.from({ length: N }, (_, i) => i),
    taken: Array.from({ length: N }, (_, i) => new Date(1.6e12 + i * 1000)),
  };
  const types = {
    path: new Utf8(),
    episode: new Int64(),
    has_baby_yoda: new Bool(),
    score: new Float64(),
    label: new Utf8(),
    frame: new Int64(),
    taken: new TimestampMicrosecond("UTC"),
  };
  const table = new Table(Object.fromEntries(Object.keys(cols).map((k) => [k, makeVector(buildData(types[k], cols[k]))])));
  return { cols, table };
}

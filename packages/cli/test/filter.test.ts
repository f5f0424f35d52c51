import { evaluate, rowsToBatch } from "@quiver/core";
import { describe, expect, it } from "vitest";
import { FilterSyntaxError, parseFilter } from "../dist/index.js";

const rows = [
  { path: "images/001.jpg", episode: 1, has_baby_yoda: false, label: "cat", score: 0.5 },
  { path: "images/005.jpg", episode: 5, has_baby_yoda: true, label: "dog", score: null },
  { path: "images/006.png", episode: 6, has_baby_yoda: true, label: "cat", score: 0.9 },
  { path: "images/007.jpg", episode: 7, has_baby_yoda: false, label: "bird", score: 0.1 },
  { path: "images/000.jpg", episode: 0, has_baby_yoda: true, label: "dog", score: 0.7 },
];

/** Paths of the rows a filter keeps, by core's own evaluator. */
function keep(filter: string): string[] {
  const mask = evaluate(parseFilter(filter).node, rowsToBatch(rows));
  return rows.filter((_, i) => mask[i] === 1).map((r) => r.path.slice(7, 10));
}

function errorAt(filter: string): { column: number; message: string } {
  try {
    parseFilter(filter);
  } catch (err) {
    expect(err).toBeInstanceOf(FilterSyntaxError);
    const e = err as FilterSyntaxError;
    expect(e.code).toBe("INVALID_QUERY");
    return { column: e.column, message: e.message };
  }
  throw new Error(`${filter} parsed`);
}

describe("filter language", () => {
  it("parses the issue's example into core's Query", () => {
    expect(parseFilter("episode > 5 and has_baby_yoda = true").node).toEqual({
      op: "and",
      args: [
        { op: "gt", field: "episode", value: 5 },
        { op: "eq", field: "has_baby_yoda", value: true },
      ],
    });
  });

  it("supports every comparison", () => {
    expect(keep("episode = 5")).toEqual(["005"]);
    expect(keep("episode == 5")).toEqual(["005"]);
    expect(keep("episode != 5")).toEqual(["001", "006", "007", "000"]);
    expect(keep("episode <> 5")).toEqual(["001", "006", "007", "000"]);
    expect(keep("episode > 5")).toEqual(["006", "007"]);
    expect(keep("episode >= 6")).toEqual(["006", "007"]);
    expect(keep("episode < 1")).toEqual(["000"]);
    expect(keep("episode <= 1")).toEqual(["001", "000"]);
    expect(keep("score >= 0.7")).toEqual(["006", "000"]);
    expect(keep("label contains 'og'")).toEqual(["005", "000"]);
    expect(keep('path startswith "images/00" and path endswith ".png"')).toEqual(["006"]);
    expect(keep("label in ('cat', \"bird\")")).toEqual(["001", "006", "007"]);
    expect(keep("episode not in (0, 1, 5)")).toEqual(["006", "007"]);
    expect(keep("score is null")).toEqual(["005"]);
    expect(keep("score is not null and score < 0.6")).toEqual(["001", "007"]);
    expect(keep("episode > -1 and score > -0.5e1")).toEqual(["001", "006", "007", "000"]);
  });

  it("gives not > and > or, and honours parentheses", () => {
    // The API.md example: episode > 5 OR (episode = 0 AND has_baby_yoda)
    expect(keep("episode > 5 or episode = 0 and has_baby_yoda = true")).toEqual(["006", "007", "000"]);
    expect(keep("(episode > 5 or episode = 0) and has_baby_yoda = true")).toEqual(["006", "000"]);
    expect(keep("not has_baby_yoda = true and not (label = 'bird')")).toEqual(["001"]);
    expect(keep("NOT (episode < 5 OR label = 'dog') AND Score Is Not Null".replace("Score", "score"))).toEqual(["006", "007"]);
  });

  it("reads quoted strings, escapes, backquoted field names and big integers", () => {
    expect(parseFilter("name = 'it''s'").node).toEqual({ op: "eq", field: "name", value: "it's" });
    expect(parseFilter('name = "a\\"b"').node).toEqual({ op: "eq", field: "name", value: 'a"b' });
    expect(parseFilter("`and` = 1").node).toEqual({ op: "eq", field: "and", value: 1 });
    expect(parseFilter("`my field` >= 2").node).toEqual({ op: "ge", field: "my field", value: 2 });
    expect(parseFilter("meta.camera.id = 3").node).toEqual({ op: "eq", field: "meta.camera.id", value: 3 });
    expect(parseFilter("n = 12345678901234567890").node).toEqual({ op: "eq", field: "n", value: 12345678901234567890n });
  });

  it("reads date literals for timestamp columns", () => {
    expect(parseFilter("timestamp >= date('2024-05-01T12:00:00Z')").node).toEqual({ op: "ge", field: "timestamp", value: new Date("2024-05-01T12:00:00Z") });
    const mask = evaluate(
      parseFilter("t < date('2024-05-02') and t >= DATE(\"2024-05-01\")").node,
      rowsToBatch([{ t: new Date("2024-04-30") }, { t: new Date("2024-05-01T06:00:00Z") }, { t: new Date("2024-05-03") }]),
    );
    expect([...mask]).toEqual([0, 1, 0]);
    expect(parseFilter("date = 3").node).toEqual({ op: "eq", field: "date", value: 3 }); // still a field name
    expect(errorAt("t > date('yesterday')").column).toBe(10);
    expect(errorAt("t > date(5)").column).toBe(10);
    expect(errorAt("t > date('2024-05-01'").column).toBe(22);
  });

  it("points at the column of a syntax error with a caret", () => {
    const e = errorAt("episode > 5 and has_baby_yoda = ");
    expect(e.column).toBe(33);
    expect(e.message).toContain("expected a value");
    const lines = e.message.split("\n");
    expect(lines[1]).toBe("  episode > 5 and has_baby_yoda = ");
    expect(lines[2]).toBe("  " + " ".repeat(32) + "^");
    expect(errorAt("episode >> 5").column).toBe(10);
    expect(errorAt("episode > 5 and").column).toBe(16);
    expect(errorAt("(episode > 5").column).toBe(13);
    expect(errorAt("episode > 5)").column).toBe(12);
    expect(errorAt("episode ~ 5").column).toBe(9);
    expect(errorAt("label = cat").message).toContain("quote strings");
    expect(errorAt("label = 'cat").column).toBe(9);
    expect(errorAt("label in 'cat'").column).toBe(10);
    expect(errorAt("label in ()").column).toBe(11);
    expect(errorAt("label in (1 2)").column).toBe(13);
    expect(errorAt("score is 3").column).toBe(10);
    expect(errorAt("score = null").message).toContain("is null");
    expect(errorAt("and = 1").column).toBe(1);
    expect(errorAt("episode 5").column).toBe(9);
    expect(errorAt("path endswith 5").column).toBe(15);
    expect(errorAt("").column).toBe(1);
    expect(errorAt("()").column).toBe(2);
    expect(errorAt("x = 5abc").column).toBe(6);
  });
});

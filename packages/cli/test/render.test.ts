import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { chartToPng, chartToSvg, decimate, describeColumn, displayWidth, parseSlice, parseValue, renderTable, terminalChart } from "../dist/index.js";
import { tempDir } from "./helpers.js";
import { countColour, decodePng, greyLevels, ink } from "./png.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const series = [
  { name: "train", xs: [1, 2, 3, 4, 5, 6], ys: [2.3, 1.6, 1.1, 0.8, 0.6, 0.5] },
  { name: "valid", xs: [1, 2, 3, 4, 5, 6], ys: [2.4, 1.9, 1.5, 1.3, 1.2, 1.25] },
];

describe("tables", () => {
  it("aligns columns, right-aligns numbers and leaves nulls blank", () => {
    const out = renderTable([
      { name: "a", loss: 0.5, when: new Date("2024-05-01T12:00:00Z") },
      { name: "longer", loss: 12.25, when: null },
    ]);
    const lines = out.trimEnd().split("\n");
    expect(lines[0]).toBe("name     loss  when (UTC)");
    expect(lines[1]).toMatch(/^─{6} {2}─{5} {2}─+$/);
    expect(lines[2]).toBe("a         0.5  2024-05-01 12:00:00.000");
    expect(lines[3]).toBe("longer  12.25");
  });
});

describe("terminal chart", () => {
  it("draws braille lines with axes, tick labels, end marks and a legend", () => {
    const out = terminalChart(series, { width: 40, height: 10, xLabel: "epoch", title: "loss" });
    const lines = out.split("\n");
    expect(lines[0]).toContain("loss");
    expect(out).toMatch(/[\u2801-\u28ff]/);
    expect(out).toContain("└");
    expect(out).toContain("┤");
    expect(out).toMatch(/━━ a: train {3}━━ b: valid/);
    expect(out).toContain("epoch");
    // x tick labels under the axis, y labels left of it
    const axis = lines.findIndex((l) => l.includes("└"));
    expect(lines[axis + 1]).toMatch(/^\s+2\.5\s+5$/);
    expect(lines.slice(1, axis).some((l) => /^\s*2(\.\d+)? ┤/.test(l))).toBe(true);
    // the falling "train" line starts at the top left and ends lower than "valid"
    const plotRows = lines.slice(1, axis);
    const rowOf = (mark: string) => plotRows.findIndex((l) => l.trimEnd().endsWith(` ${mark}`));
    expect(rowOf("a")).toBeGreaterThan(rowOf("b"));
  });

  it("colours series only when asked", () => {
    expect(terminalChart(series, { color: false })).not.toContain("\x1b[");
    expect(terminalChart(series, { color: true })).toContain("\x1b[34m");
  });

  it("labels time axes as times and survives empty or flat data", () => {
    const t0 = Date.UTC(2024, 4, 1, 12, 0, 0);
    const out = terminalChart([{ name: "x", xs: [t0, t0 + 3_600_000, t0 + 7_200_000], ys: [1, 1, 1] }], { xIsTime: true, width: 50 });
    expect(out).toMatch(/1[234]:00:00/);
    expect(terminalChart([{ name: "x", xs: [], ys: [] }])).toBe("(no rows)\n");
  });
});

describe("images", () => {
  it("writes SVG that an XML parser reads, one polyline per series", () => {
    const svg = chartToSvg(series, { title: "loss <by> run", xLabel: "epoch" });
    const file = join(tmp.dir, "chart.svg");
    writeFileSync(file, svg);
    const py = `import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
print(root.tag, root.get("width"), root.get("height"), len(root.findall(f".//{ns}polyline")), sep="\\n")
print("|".join(t.text or "" for t in root.iter(f"{ns}text")))`;
    const out = execFileSync("python3", ["-c", py, file], { encoding: "utf8" }).trim();
    const [tag, w, h, polylines, texts] = out.split("\n") as [string, string, string, string, string];
    expect(tag).toBe("{http://www.w3.org/2000/svg}svg");
    expect([w, h]).toEqual(["800", "450"]);
    expect(polylines).toBe("2");
    expect(texts).toContain("loss <by> run");
    expect(texts).toContain("train");
    expect(texts).toContain("epoch");
  });

  it("rasterises the SVG into a valid PNG: lines in their colours, anti-aliased text", () => {
    const png = decodePng(chartToPng(series, { width: 400, height: 300, title: "loss" }));
    expect([png.width, png.height]).toEqual([400, 300]);
    expect(png.types[0]).toBe("IHDR");
    expect(png.types[png.types.length - 1]).toBe("IEND");
    expect(countColour(png, [31, 119, 180], 8)).toBeGreaterThan(300); // first series, blue
    expect(countColour(png, [255, 127, 14], 8)).toBeGreaterThan(300); // second series, orange
    expect(countColour(png, [255, 255, 255])).toBeGreaterThan(png.width * png.height * 0.7);
    expect(greyLevels(png)).toBeGreaterThan(20); // a real font, anti-aliased (a bitmap font has 1 grey)
  });

  it("draws text in its own case with a real font (a bitmap font drew ids upper-case)", () => {
    const render = (title: string) => decodePng(chartToPng(series, { width: 400, height: 300, title }));
    const lower = render("abcdef7ae5edb1");
    const upper = render("ABCDEF7AE5EDB1");
    // The title row: same letters, different glyphs; lower case has less ink than capitals.
    const a = ink(lower, 0, 0, 400, 30);
    const b = ink(upper, 0, 0, 400, 30);
    expect(a).toBeGreaterThan(50);
    expect(b).toBeGreaterThan(a);
    expect(Buffer.compare(Buffer.from(lower.rgb), Buffer.from(upper.rgb))).not.toBe(0);
  });
});

describe("display width", () => {
  it("counts CJK and emoji as two cells, marks and joiners as none", () => {
    expect(displayWidth("loss")).toBe(4);
    expect(displayWidth("畳み込み")).toBe(8);
    expect(displayWidth("🙂")).toBe(2);
    expect(displayWidth("👨‍👩‍👧")).toBe(2); // one ZWJ sequence
    expect(displayWidth("👍🏽")).toBe(2); // with a skin tone
    expect(displayWidth("🇩🇪")).toBe(2);
    expect(displayWidth("e\u0301")).toBe(1); // e + combining acute
    expect(displayWidth("☀️")).toBe(2); // VS16: emoji presentation
    expect(displayWidth("한국어")).toBe(6);
    expect(displayWidth("ｆｕｌｌ")).toBe(8);
  });

  it("aligns tables of CJK and emoji as a terminal shows them", () => {
    const out = renderTable([
      { run: "畳み込み🙂", n: 1 },
      { run: "mlp", n: 22 },
      { run: "👨‍👩‍👧 family", n: 333 },
    ])
      .trimEnd()
      .split("\n");
    const widths = out.map(displayWidth);
    expect(new Set(widths.slice(2)).size).toBe(1); // every row ends in the same column
    expect(widths[2]).toBe(widths[1]);
    // a long CJK cell is cut by width, at a whole character, with an ellipsis
    const cut = renderTable([{ t: "漢".repeat(30) }]).split("\n")[2]!;
    expect(displayWidth(cut)).toBeLessThanOrEqual(40);
    expect(cut.endsWith("…")).toBe(true);
  });
});

describe("decimation", () => {
  it("keeps first, min, max and last of each column, so a lone spike survives", () => {
    const n = 1_000_000;
    const xs = Array.from({ length: n }, (_, i) => i);
    const ys = xs.map((i) => (i === 654_321 ? 1000 : i === 123_456 ? -1000 : Math.sin(i / 5000)));
    const d = decimate({ name: "y", xs, ys }, 0, n - 1, 200);
    expect(d.xs.length).toBeLessThanOrEqual(800);
    expect(d.ys).toContain(1000);
    expect(d.ys).toContain(-1000);
    expect(d.xs[0]).toBe(0);
    expect(d.xs[d.xs.length - 1]).toBe(n - 1);
    for (let i = 1; i < d.xs.length; i++) expect(d.xs[i]!).toBeGreaterThanOrEqual(d.xs[i - 1]!);
    // per column, the kept extremes are the true extremes
    const col = (x: number) => Math.min(199, Math.floor((x / (n - 1)) * 200));
    for (const c of [0, 42, 117, 199]) {
      const inCol = ys.filter((_, i) => col(i) === c);
      const kept = d.ys.filter((_, i) => col(d.xs[i]!) === c);
      expect(Math.max(...kept)).toBe(Math.max(...inCol));
      expect(Math.min(...kept)).toBe(Math.min(...inCol));
    }
    // few points: untouched
    expect(decimate(series[0]!, 1, 6, 100)).toBe(series[0]);
  });

  it("a million-point chart shows the spike in the terminal and in SVG", () => {
    const n = 1_000_000;
    const xs = Array.from({ length: n }, (_, i) => i);
    const ys = xs.map((i) => (i === 777_777 ? 50 : 0));
    const term = terminalChart([{ name: "y", xs, ys }], { width: 50, height: 10 }).split("\n");
    expect(term[0]).toMatch(/^\s*\S* [┤│]\s+[\u2801-\u28ff]\s*$/); // the top row has the spike, and only it
    const svg = chartToSvg([{ name: "y", xs, ys }], { width: 400, height: 200 });
    const pts = /points="([^"]+)"/.exec(svg)![1]!.split(" ");
    expect(pts.length).toBeLessThanOrEqual(4 * 400);
    expect(Math.min(...pts.map((p) => Number(p.split(",")[1])))).toBeLessThan(30); // reaches the top
  });
});

describe("small parsers", () => {
  it("reads command-line values", () => {
    expect(parseValue("3")).toBe(3);
    expect(parseValue("-2.5e-3")).toBe(-0.0025);
    expect(parseValue("true")).toBe(true);
    expect(parseValue("resnet 18")).toBe("resnet 18");
    expect(parseValue("99999999999999999999")).toBe(99999999999999999999n);
  });

  it("reads Python-style slices", () => {
    expect(parseSlice(undefined, 100, [0, 10])).toEqual([0, 10]);
    expect(parseSlice("5:8", 100, [0, 10])).toEqual([5, 8]);
    expect(parseSlice("-3:", 100, [0, 10])).toEqual([97, 100]);
    expect(parseSlice(":2", 100, [0, 10])).toEqual([0, 2]);
    expect(parseSlice("7", 100, [0, 10])).toEqual([7, 8]);
    expect(parseSlice("90:200", 100, [0, 10])).toEqual([90, 100]);
    expect(() => parseSlice("a:b", 100, [0, 10])).toThrow(/slice/);
  });

  it("describes numeric and text columns", () => {
    const d = describeColumn("loss", [1, 2, 3, 4, null]);
    expect(d).toMatchObject({ column: "loss", count: 4, nulls: 1, mean: 2.5, min: 1, "50%": 2.5, max: 4 });
    expect(d.std as number).toBeCloseTo(1.29099, 4);
    expect(describeColumn("model", ["a", "b", "a"])).toMatchObject({ count: 3, unique: 2, top: "a", freq: 2 });
    // NaN and ±Infinity are counted apart; the statistics are over the finite values
    const odd = describeColumn("loss", [1, NaN, 3, Infinity, -Infinity, -Infinity, null]);
    expect(odd).toMatchObject({ count: 6, nulls: 1, nan: 1, inf: 1, "-inf": 2, mean: 2, min: 1, max: 3 });
    expect(describeColumn("x", [NaN, NaN])).toEqual({ column: "x", count: 2, nulls: 0, nan: 2, inf: 0, "-inf": 0 });
  });
});

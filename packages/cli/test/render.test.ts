import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { crc32 as zlibCrc32, inflateSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { chartToPng, chartToSvg, crc32, describeColumn, parseSlice, parseValue, renderTable, terminalChart } from "../dist/index.js";
import { tempDir } from "./helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const series = [
  { name: "train", xs: [1, 2, 3, 4, 5, 6], ys: [2.3, 1.6, 1.1, 0.8, 0.6, 0.5] },
  { name: "valid", xs: [1, 2, 3, 4, 5, 6], ys: [2.4, 1.9, 1.5, 1.3, 1.2, 1.25] },
];

/** PNG chunks with their CRCs checked, and the decoded RGB pixels. */
function decodePng(buf: Buffer): { width: number; height: number; types: string[]; pixels: Buffer } {
  expect([...buf.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const types: string[] = [];
  const idat: Buffer[] = [];
  let width = 0;
  let height = 0;
  for (let o = 8; o < buf.length; ) {
    const len = buf.readUInt32BE(o);
    const type = buf.toString("ascii", o + 4, o + 8);
    const data = buf.subarray(o + 8, o + 8 + len);
    expect(buf.readUInt32BE(o + 8 + len)).toBe(zlibCrc32(buf.subarray(o + 4, o + 8 + len)));
    types.push(type);
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect([data[8], data[9], data[10], data[11], data[12]]).toEqual([8, 2, 0, 0, 0]);
    }
    if (type === "IDAT") idat.push(Buffer.from(data));
    o += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * 3;
  expect(raw.length).toBe((stride + 1) * height);
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (stride + 1)]).toBe(0);
    raw.copy(pixels, y * stride, y * (stride + 1) + 1, (y + 1) * (stride + 1));
  }
  return { width, height, types, pixels };
}

function countColour(pixels: Buffer, rgb: [number, number, number]): number {
  let n = 0;
  for (let i = 0; i < pixels.length; i += 3) if (pixels[i] === rgb[0] && pixels[i + 1] === rgb[1] && pixels[i + 2] === rgb[2]) n++;
  return n;
}

describe("tables", () => {
  it("aligns columns, right-aligns numbers and leaves nulls blank", () => {
    const out = renderTable([
      { name: "a", loss: 0.5, when: new Date("2024-05-01T12:00:00Z") },
      { name: "longer", loss: 12.25, when: null },
    ]);
    const lines = out.trimEnd().split("\n");
    expect(lines[0]).toBe("name     loss  when");
    expect(lines[1]).toMatch(/^─{6}  ─{5}  ─+$/);
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
    expect(terminalChart([{ name: "x", xs: [], ys: [] }])).toContain("nothing to plot");
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

  it("encodes a valid PNG with the lines in their colours", () => {
    const png = chartToPng(series, { width: 400, height: 300, title: "loss" });
    const { width, height, types, pixels } = decodePng(png);
    expect([width, height]).toEqual([400, 300]);
    expect(types).toEqual(["IHDR", "IDAT", "IEND"]);
    expect(countColour(pixels, [31, 119, 180])).toBeGreaterThan(300); // first series, blue
    expect(countColour(pixels, [255, 127, 14])).toBeGreaterThan(300); // second series, orange
    expect(countColour(pixels, [255, 255, 255])).toBeGreaterThan(width * height * 0.8);
    expect(countColour(pixels, [51, 51, 51])).toBeGreaterThan(500); // axes and labels
  });

  it("computes the same CRC-32 as zlib", () => {
    const b = Buffer.from("IHDR quiver chart");
    expect(crc32(b)).toBe(zlibCrc32(b));
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
  });
});

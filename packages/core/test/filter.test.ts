// The filter language shared by the CLI and quiver ui: dates without a zone are UTC everywhere.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseFilter, parseIsoDate } from "../dist/index.js";

describe("date('…') in filters", () => {
  it("reads a date without a zone as UTC, whatever the machine's zone", () => {
    const index = fileURLToPath(new URL("../dist/index.js", import.meta.url));
    const code = `import(${JSON.stringify(index)}).then((m) => console.log(JSON.stringify(m.parseFilter("t >= date('2024-05-01 12:00')"))))`;
    for (const tz of ["UTC", "America/New_York", "Asia/Kolkata"]) {
      const r = spawnSync(process.execPath, ["-e", code], { env: { ...process.env, TZ: tz }, encoding: "utf8" });
      expect(r.stderr).toBe("");
      expect(JSON.parse(r.stdout)).toEqual(JSON.parse(JSON.stringify(parseFilter("t >= date('2024-05-01T12:00:00Z')"))));
    }
  });

  it("keeps explicit zones and refuses rolled-over, pre-1970 and malformed dates", () => {
    expect(parseIsoDate("2024-05-01T12:00:00+02:00")?.toISOString()).toBe("2024-05-01T10:00:00.000Z");
    expect(parseIsoDate("2024-05-01")?.toISOString()).toBe("2024-05-01T00:00:00.000Z");
    for (const bad of ["2024-02-31", "1969-12-31", "May 1 2024", "2024-13-01", ""]) expect(parseIsoDate(bad)).toBeUndefined();
    expect(() => parseFilter("t > date('2024-02-31')")).toThrow(/not a date/);
  });
});

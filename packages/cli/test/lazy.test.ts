/** The CLI loads without its store packages and only loads the one a command needs. */
import "@quiver/store-duckdb";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Tracker } from "@quiver/core";
import { H5Logger } from "@quiver/store-h5";
import { afterAll, describe, expect, it } from "vitest";
import { BIN, errorOf, tempDir } from "./helpers.js";

const BLOCK = fileURLToPath(new URL("./fixtures/register-block.mjs", import.meta.url));
const tmp = tempDir();
afterAll(() => tmp.cleanup());

function blocked(args: string[], block?: string) {
  const r = spawnSync(process.execPath, ["--import", BLOCK, BIN, ...args], {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", QUIVER_TEST_BLOCK: block ?? "" },
    cwd: tmp.dir,
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("lazy store loading", () => {
  it("help and the filter-only paths work with every store package missing", () => {
    const help = blocked(["--help"]);
    expect(help.stderr).toBe("");
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: quiver <command>");
    // bad filter syntax is reported before anything is opened
    const q = blocked(["ds", "query", "images", "episode >"]);
    expect(errorOf(q).code).toBe("INVALID_QUERY");
  });

  it("a missing package is named in the error", () => {
    mkdirSync(join(tmp.dir, "tracks"));
    const mp = blocked(["head", "msgpack:tracks"]);
    expect(mp.code).toBe(1);
    expect(errorOf(mp)).toEqual({ code: "STORE_NOT_INSTALLED", message: expect.stringContaining("@quiver/store-msgpack") });
    writeFileSync(join(tmp.dir, "x.h5"), "not really hdf5");
    const h5 = blocked(["h5", "ls", "x.h5"]);
    expect(errorOf(h5)).toEqual({ code: "PACKAGE_NOT_INSTALLED", message: expect.stringContaining("pnpm add @quiver/store-h5") });
    const ds = blocked(["ds", "ls"]);
    expect(errorOf(ds)).toEqual({ code: "PACKAGE_NOT_INSTALLED", message: expect.stringContaining("@quiver/datasource") });
  });

  it("a command loads only the store it reads", async () => {
    const uri = `duckdb:${join(tmp.dir, "runs.db")}`;
    const t = await Tracker.open(uri);
    await t.log({ epoch: 1, loss: 0.5 });
    await t.close();
    const head = blocked(["head", uri, "--json"], "store-h5,h5wasm,store-msgpack,msgpackr,datasource,sysmetrics");
    expect(head.stderr).toBe("");
    expect(JSON.parse(head.stdout)).toMatchObject({ epoch: 1, loss: 0.5 });
    const file = join(tmp.dir, "log.h5");
    const logger = await H5Logger.open(file, { replaceIfExists: true });
    logger.log("n", 1);
    await logger.close();
    const h5 = blocked(["h5", "ls", file, "--json"], "store-duckdb,@duckdb/,store-msgpack,msgpackr,datasource,sysmetrics");
    expect(h5.stderr).toBe("");
    expect(JSON.parse(h5.stdout)).toMatchObject({ name: "n", length: 1 });
  });
});

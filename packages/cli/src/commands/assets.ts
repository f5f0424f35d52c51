/** `quiver assets ls|export|delete`: values stored by content hash beside a runs table (`<table>_assets`). */
import { writeFileSync } from "node:fs";
import { assetsTable, listAssets, QuiverError, Reader, type Row, readAsset } from "@quiver/core";
import { bool, type CommandSpec, parseCommand, storeUri, str, takeUri } from "../args.js";
import type { Command, CommandGroup } from "../context.js";
import { printRows } from "../output.js";
import { openExisting } from "../stores.js";
import { STORE_HELP, STORE_OPT, URI_NOTE } from "./common.js";

const lsSpec: CommandSpec = {
  usage: "assets ls [URI] [--table T] [--json]",
  summary: "Lists the assets of a runs table: hash (what the rows hold), encoding (bytes, json or v8), size and when stored.",
  options: { ...STORE_OPT, json: { type: "boolean" } },
  optionHelp: STORE_HELP,
  details: `${URI_NOTE}\n\nExample:\n  quiver assets ls duckdb:runs.db`,
};

const lsCmd: Command = {
  spec: lsSpec,
  async run(argv, ctx) {
    const p = parseCommand(argv, lsSpec);
    const { uri } = takeUri(p, 0, lsSpec);
    const store = await openExisting(storeUri(uri), true);
    try {
      const rows = await listAssets(store, assetsTable(str(p, "table") ?? "events"));
      printRows(ctx.out, rows as unknown as Row[], { json: bool(p, "json"), columns: ["hash", "encoding", "size", "created"] });
    } finally {
      await store.close();
    }
  },
};

const exportSpec: CommandSpec = {
  usage: "assets export [URI] HASH FILE [--table T] [--json]",
  summary: "Writes an asset's stored bytes to FILE: a Uint8Array as it was logged, a JSON value as JSON text, anything else as v8.serialize bytes (read back with v8.deserialize).",
  options: { ...STORE_OPT, json: { type: "boolean" } },
  optionHelp: { ...STORE_HELP, json: "print {hash, encoding, bytes, file} as JSON" },
  details: `${URI_NOTE}\n\nExample:\n  quiver assets export duckdb:runs.db 53425a65… model.bin`,
};

const exportCmd: Command = {
  spec: exportSpec,
  async run(argv, ctx) {
    const p = parseCommand(argv, exportSpec);
    const { uri, args } = takeUri(p, 2, exportSpec, 2, ["HASH", "FILE"]);
    const [hash, file] = args as [string, string];
    const store = await openExisting(storeUri(uri), true);
    try {
      const a = await readAsset(store, assetsTable(str(p, "table") ?? "events"), hash);
      try {
        // wx: an existing file is never overwritten.
        writeFileSync(file, a.bytes, { flag: "wx" });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "EEXIST") throw new QuiverError("INVALID_PATH", `${file} exists; export to a new file name (it is never overwritten)`);
        throw new QuiverError("IO", `cannot write ${file} (${code ?? (err as Error).message})`, { cause: err });
      }
      if (bool(p, "json")) ctx.out.write(JSON.stringify({ hash, encoding: a.encoding, bytes: a.bytes.byteLength, file }) + "\n");
      else ctx.out.write(`wrote asset ${hash} (${a.encoding}, ${a.bytes.byteLength} bytes) to ${file}\n`);
    } finally {
      await store.close();
    }
  },
};

const deleteSpec: CommandSpec = {
  usage: "assets delete [URI] HASH [--table T] [--json]",
  summary: "Deletes an asset. Rows keep its hash (a later getAsset is NOT_FOUND).",
  options: { ...STORE_OPT, json: { type: "boolean" } },
  optionHelp: { ...STORE_HELP, json: "print {deleted, hash} as JSON" },
  details: `${URI_NOTE}\n\nExample:\n  quiver assets delete duckdb:runs.db 53425a65…`,
};

const deleteCmd: Command = {
  spec: deleteSpec,
  async run(argv, ctx) {
    const p = parseCommand(argv, deleteSpec);
    const { uri, args } = takeUri(p, 1, deleteSpec, 1, ["HASH"]);
    const hash = args[0]!;
    const store = await openExisting(storeUri(uri));
    try {
      const reader = await Reader.open(store, { table: str(p, "table") ?? "events" });
      if (!(await reader.removeAsset(hash))) throw new QuiverError("NOT_FOUND", `no asset ${hash} in ${store.uri}; list them with \`quiver assets ls\``);
      await store.flush();
      if (bool(p, "json")) ctx.out.write(JSON.stringify({ deleted: true, hash }) + "\n");
      else ctx.out.write(`deleted asset ${hash}\n`);
    } finally {
      await store.close();
    }
  },
};

export const assetsGroup: CommandGroup = { summary: "values stored by content hash beside a runs table", commands: { ls: lsCmd, export: exportCmd, delete: deleteCmd } };

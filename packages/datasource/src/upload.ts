/**
 * Uploading a query result into a datasource (DagsHub PR #593's bug: a blob field became a
 * string). The result's Arrow fields say which columns are blobs (`quiver:type`); their values —
 * hashes, blob file paths (after getBlobFields), bytes, or a document's text — become blobs of
 * the target, copied from the result's blob store when the target's root does not have them.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, isAbsolute } from "node:path";
import type { Field, Table } from "apache-arrow";
import { QuiverError } from "@quiver/core";
import type { BlobStore } from "./blobs.js";
import { type MetadataFieldBuilder, TAGS } from "./fields.js";
import { TAGS_KEY, TYPE_KEY } from "./multivalue.js";
import type { FieldType } from "./types.js";
import type { QueryResult } from "./result.js";

const HASH = /^[0-9a-f]{64}$/;

export interface UploadTarget {
  fields(): Promise<{ name: string; tags?: string[] }[]>;
  metadataField(name: string): MetadataFieldBuilder;
}

function tagsOf(f: Field): string[] {
  const t = f.metadata.get(TAGS_KEY);
  return t ? (JSON.parse(t) as string[]) : [];
}

/** A blob column of an uploaded table as values `prepare` takes: stored hashes or bytes. */
export function resultBlobColumn(values: unknown[], f: Field, blobs: BlobStore, from: BlobStore | undefined, source?: string): unknown[] {
  const doc = tagsOf(f).includes(TAGS.document);
  const enc = new TextEncoder();
  return values.map((v, r) => {
    if (typeof v !== "string") return v;
    if (doc) return enc.encode(v);
    if (HASH.test(v)) {
      if (blobs.has(v)) return v;
      if (from?.has(v)) return new Uint8Array(readFileSync(from.pathOf(v)));
    } else if (isAbsolute(v) && HASH.test(basename(v)) && existsSync(v)) return new Uint8Array(readFileSync(v)); // a path from getBlobFields()
    throw new QuiverError(
      "INVALID_VALUE",
      `${source ? `${source} ` : ""}row ${r + 1}: blob field ${JSON.stringify(f.name)} holds ${JSON.stringify(v.slice(0, 80))}, which is not a blob stored under this root; upload the QueryResult itself (ds.uploadMetadata(result)) so its blobs are copied, or load them first (result.getBlobFields({ loadIntoMemory: true }))`,
    );
  });
}

/** Uploads a result; fields new to the target get the source's tags (annotation, document, thumbnail). */
export async function fetchInto<T>(target: UploadTarget, result: QueryResult, options: T, upload: (t: Table, o: T, from: BlobStore) => Promise<number>): Promise<number> {
  const before = new Map((await target.fields()).map((f) => [f.name, f.tags]));
  const n = await upload(result.table, options, result.blobStore);
  for (const f of result.table.schema.fields) {
    const tags = tagsOf(f);
    const type = f.metadata.get(TYPE_KEY) as FieldType | undefined;
    if (tags.length && type && !before.get(f.name)?.length)
      await target
        .metadataField(f.name)
        .setType(type)
        .addTags(...tags)
        .apply();
  }
  return n;
}

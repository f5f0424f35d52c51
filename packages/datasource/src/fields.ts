/**
 * Declared fields: `ds.metadataField(name).setType(t)` and tags on fields (DagsHub's
 * MetadataFieldBuilder). Declarations are rows of the store table `datasource/<id>/schema`
 * (`{ field, type, tags, ts }`, the last row per field wins), so they live with the datasource
 * on every store. A declared type applies to the field's first values (a declared float takes
 * ints; a declared blob takes the hash of a stored blob); a declared field with no values yet
 * is listed by `fields()` and queried as all-null.
 */
import { QuiverError, type Store, batchToRows } from "@quiver/core";
import { validateFieldName } from "./events.js";
import { appendRows } from "./storage.js";
import { FIELD_TYPES, type FieldType, isListType } from "./types.js";
import { TZ } from "./zones.js";

/** DagsHub's reserved tags. */
export const TAGS = {
  annotation: "annotation",
  document: "text_document",
  thumbnail: "thumbnail_viz",
} as const;
export const THUMBNAIL_KINDS = ["image", "video", "audio", "pdf", "text"] as const;
export type ThumbnailKind = (typeof THUMBNAIL_KINDS)[number];

/** A field as `fields()` reports it. */
export interface FieldSchema {
  name: string;
  type: FieldType;
  /** A multivalue field (a list type such as `"string[]"`); absent otherwise. */
  multivalue?: true;
  /** Tags (sorted; absent when none): `annotation`, `text_document`, `thumbnail_viz` with its kind (`image`, …), or your own. */
  tags?: string[];
  /** Declared with `metadataField(name).setType(t)` and no value written yet. */
  empty?: true;
}

/** A field's schema entry: only the keys that say something (fields() of a plain field is `{ name, type }`). */
function schemaOf(name: string, type: FieldType, tags: readonly string[], empty: boolean): FieldSchema {
  const f: FieldSchema = { name, type };
  if (isListType(type)) f.multivalue = true;
  if (tags.length) f.tags = [...tags].sort();
  if (empty) f.empty = true;
  return f;
}

export interface Declaration {
  type?: FieldType;
  tags: string[];
}

/** What `setType` takes beyond the plain types: DagsHub's dtypes that are a blob with a tag. */
export type DeclaredType = FieldType | "annotation" | "document";

export class Declarations {
  private cached?: { rows: number; map: Map<string, Declaration> };
  constructor(
    private readonly store: Store,
    readonly table: string,
  ) {}

  async all(): Promise<Map<string, Declaration>> {
    const s = this.store;
    if (!(await s.schema(this.table))) return new Map();
    const rows = await s.count(this.table);
    if (this.cached?.rows === rows) return this.cached.map;
    const map = new Map<string, Declaration>();
    for await (const b of s.scan(this.table)) {
      for (const r of batchToRows(b)) {
        map.set(r.field as string, { type: (r.type as FieldType | null) ?? undefined, tags: JSON.parse((r.tags as string | null) ?? "[]") as string[] });
      }
    }
    this.cached = { rows, map };
    return map;
  }

  async write(field: string, d: Declaration): Promise<void> {
    await appendRows(this.store, this.table, [{ field, type: d.type ?? null, tags: JSON.stringify([...new Set(d.tags)].sort()), ts: new Date() }]);
    this.cached = undefined;
  }

  async drop(): Promise<void> {
    await this.store.drop(this.table);
    this.cached = undefined;
  }
}

/** What the builder needs from its datasource. */
export interface FieldHost {
  readonly name: string;
  /** The type of a field with values, if it has any. */
  loggedType(field: string): Promise<FieldType | undefined>;
  declarations(): Declarations;
  checkWritable(): void;
}

/**
 * Changes one field's declaration; nothing is written until `apply()`. Every method returns the
 * builder: `await ds.metadataField("mask").setType("blob").setAnnotation().apply()`.
 */
export class MetadataFieldBuilder {
  private type?: FieldType;
  private readonly add = new Set<string>();
  private readonly remove = new Set<string>();

  constructor(
    private readonly host: FieldHost,
    readonly field: string,
  ) {
    validateFieldName(field);
  }

  /**
   * The field's type: int, float, bool, string, datetime, blob, a multivalue list type
   * (`"string[]"`, …), or `"annotation"` / `"document"` (a blob with that tag). An existing
   * field's type cannot change (SCHEMA_MISMATCH when `apply()` sees it).
   */
  setType(t: DeclaredType): this {
    if (t === "annotation" || t === "document") {
      this.type = "blob";
      this.tag(TAGS[t], true);
      return this;
    }
    if (!FIELD_TYPES.includes(t)) {
      throw new QuiverError("INVALID_VALUE", `setType takes one of ${[...FIELD_TYPES, "annotation", "document"].join(", ")}; got ${JSON.stringify(t)}`);
    }
    this.type = t;
    return this;
  }

  /** Marks (or unmarks) the field as holding annotations (a blob field, loaded by `getAnnotations()`). */
  setAnnotation(on = true): this {
    return this.tag(TAGS.annotation, on);
  }

  /** Marks (or unmarks) the field as a document: a blob of UTF-8 text, loaded as a string by every query. */
  setDocument(on = true): this {
    return this.tag(TAGS.document, on);
  }

  /** Marks the field as the datapoint's thumbnail of this kind (the gallery shows it), or unmarks it. */
  setThumbnail(kind?: ThumbnailKind, on = true): this {
    for (const k of THUMBNAIL_KINDS) this.tag(k, false);
    if (!on) return this.tag(TAGS.thumbnail, false);
    if (!kind || !THUMBNAIL_KINDS.includes(kind)) throw new QuiverError("INVALID_VALUE", `setThumbnail needs a kind: ${THUMBNAIL_KINDS.join(", ")}; got ${JSON.stringify(kind)}`);
    return this.tag(TAGS.thumbnail, true).tag(kind, true);
  }

  /** Adds free-form tags. */
  addTags(...tags: string[]): this {
    for (const t of tags) this.tag(t, true);
    return this;
  }
  removeTags(...tags: string[]): this {
    for (const t of tags) this.tag(t, false);
    return this;
  }

  private tag(t: string, on: boolean): this {
    if (typeof t !== "string" || !t || t.length > 255 || /[\u0000-\u001f]/.test(t))
      throw new QuiverError("INVALID_NAME", `a tag is 1-255 characters without control characters; got ${JSON.stringify(t)}`);
    (on ? this.add : this.remove).add(t);
    (on ? this.remove : this.add).delete(t);
    return this;
  }

  /** Writes the declaration (persisted in the datasource's store). */
  async apply(): Promise<FieldSchema> {
    this.host.checkWritable();
    const decls = this.host.declarations();
    const prev = (await decls.all()).get(this.field);
    const logged = await this.host.loggedType(this.field);
    const has = logged ?? prev?.type;
    if (this.type && has && has !== this.type) {
      throw new QuiverError(
        "SCHEMA_MISMATCH",
        `field ${JSON.stringify(this.field)} of datasource ${this.host.name} is ${has}; its type cannot change to ${this.type}. Use another field name`,
      );
    }
    const type = has ?? this.type;
    if (!type) throw new QuiverError("INVALID_VALUE", `field ${JSON.stringify(this.field)} is new: call setType(...) before setting anything else`);
    const tags = new Set(prev?.tags ?? []);
    for (const t of this.add) tags.add(t);
    for (const t of this.remove) tags.delete(t);
    if ((tags.has(TAGS.annotation) || tags.has(TAGS.document)) && type !== "blob") {
      throw new QuiverError(
        "INVALID_VALUE",
        `field ${JSON.stringify(this.field)} is ${type}: annotation and document fields are blobs; use setType("annotation") / setType("document") on a new field`,
      );
    }
    await decls.write(this.field, { type, tags: [...tags] });
    return schemaOf(this.field, type, [...tags], !logged);
  }
}

/** Names of the fields carrying a tag. */
export function fieldsTagged(fields: readonly FieldSchema[], tag: string): string[] {
  return fields.filter((f) => f.tags?.includes(tag)).map((f) => f.name);
}

/** Every field: those with values (in order of first sight), then those only declared. */
export function fieldSchemas(logged: readonly { name: string; type: FieldType }[], decls: ReadonlyMap<string, Declaration>): FieldSchema[] {
  // A datetime field's offsets live in a hidden companion field (zones.ts).
  const out: FieldSchema[] = logged.filter((f) => !f.name.endsWith(TZ)).map((f) => schemaOf(f.name, f.type, decls.get(f.name)?.tags ?? [], false));
  const seen = new Set(logged.map((f) => f.name));
  for (const [name, d] of decls) if (!seen.has(name) && d.type) out.push(schemaOf(name, d.type, d.tags, true));
  return out;
}

/**
 * The types a commit applies to new fields: the declarations win over what an upload inferred
 * (a CSV column of whole numbers into a field declared float).
 */
export function withDeclared(
  declared: ReadonlyMap<string, FieldType> | undefined,
  decls: ReadonlyMap<string, Declaration>,
  logged: ReadonlySet<string>,
): Map<string, FieldType> | undefined {
  if (decls.size === 0) return declared ? new Map(declared) : undefined;
  const out = new Map(declared ?? []);
  for (const [name, d] of decls) if (d.type && !logged.has(name)) out.set(name, d.type);
  return out;
}

/** Document fields take text: a string value is stored as its UTF-8 bytes (DagsHub's documents). */
export function encodeDocuments(fields: Map<string, unknown[] | unknown>, decls: ReadonlyMap<string, Declaration>): void {
  const enc = new TextEncoder();
  for (const [name, values] of fields) {
    if (!Array.isArray(values) || !decls.get(name)?.tags.includes(TAGS.document)) continue;
    for (let i = 0; i < values.length; i++) if (typeof values[i] === "string") values[i] = enc.encode(values[i] as string);
  }
}

/** Content-addressed blob files: `<root>/blobs/<first 2 hex>/<sha256>`; each content stored once. */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { QuiverError } from "@quiver/core";
import { fsOp, ioError } from "./storage.js";

const HEX64 = /^[0-9a-f]{64}$/;

export class BlobStore {
  constructor(readonly dir: string) {}

  static hash(bytes: Uint8Array): string {
    return createHash("sha256").update(bytes).digest("hex");
  }

  pathOf(hash: string): string {
    if (!HEX64.test(hash)) throw new QuiverError("INVALID_VALUE", `${JSON.stringify(hash)} is not a blob hash (64 hex digits)`);
    return join(this.dir, hash.slice(0, 2), hash);
  }

  /** Whether `hash` names a stored blob. */
  has(hash: string): boolean {
    return HEX64.test(hash) && existsSync(join(this.dir, hash.slice(0, 2), hash));
  }

  /** Stores the bytes (if not already there) and returns their hash. */
  put(bytes: Uint8Array): string {
    const h = BlobStore.hash(bytes);
    this.putNew(h, bytes);
    return h;
  }

  /**
   * Stores bytes under their (already computed) hash; returns whether the file was created now
   * (a failed commit removes those). I/O errors are QuiverError("IO") naming the file.
   */
  putNew(h: string, bytes: Uint8Array): boolean {
    const file = this.pathOf(h);
    if (existsSync(file)) {
      // Tell a commit of another datasource of this root that created it and is failing right
      // now not to remove it (see removeIfUntouched).
      try {
        const now = new Date();
        utimesSync(file, now, now);
      } catch {
        /* read-only: nobody is writing then */
      }
      return false;
    }
    const dir = join(this.dir, h.slice(0, 2));
    fsOp("cannot create the blob folder", dir, () => mkdirSync(dir, { recursive: true }));
    // Write then rename: a reader never sees a half-written blob.
    const tmp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
    try {
      writeFileSync(tmp, bytes);
      renameSync(tmp, file);
    } catch (err) {
      try {
        unlinkSync(tmp);
      } catch {
        /* never created */
      }
      throw fsOp("cannot write the blob", file, () => {
        throw err;
      });
    }
    return true;
  }

  /** The modification time of a blob file (to tell later whether another commit touched it). */
  mtimeOf(h: string): number {
    try {
      return statSync(this.pathOf(h)).mtimeMs;
    } catch {
      return -1;
    }
  }

  /** Removes a blob a failed commit created, unless another commit re-stored it since (`mtime`). */
  removeIfUntouched(h: string, mtime: number): void {
    try {
      if (statSync(this.pathOf(h)).mtimeMs === mtime) unlinkSync(this.pathOf(h));
    } catch {
      /* gone already */
    }
  }

  async get(hash: string): Promise<Uint8Array> {
    try {
      return new Uint8Array(await readFile(this.pathOf(hash)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT")
        throw new QuiverError("NOT_FOUND", `blob ${hash} is missing from ${this.dir}; it was deleted from the root: re-upload the value`, { cause: err });
      throw ioError(err, `cannot read the blob`);
    }
  }
}

/** Runs `fn` over items with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Writing a COPY's data: behind its query on the socket (the quick append), or through the driver's stream. */
import type { Writable } from "node:stream";
import type { Sql as TransactionSql } from "postgres";
import type { Pool, TxControl } from "./connection.js";

/** CopyData's and CopyDone's message headers (the quick append writes its COPY's data itself). */
const COPY_DONE = Buffer.from([0x63, 0, 0, 0, 4]);

export type CopyStream = Writable & { _final(cb: (err?: Error | null) => void): void };

/**
 * Sends a COPY's data, then COMMIT right behind it without waiting for the COPY's answer (a
 * COPY the server rejects aborts the transaction, and COMMIT then answers ROLLBACK).
 */
export function sendCopy(stream: CopyStream, buf: Buffer, control: TxControl): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const final = stream._final.bind(stream);
    stream._final = (cb) => {
      final(cb);
      try {
        control.commit();
        resolve();
      } catch (err) {
        reject(err);
      }
    };
    stream.on("error", reject);
    stream.end(buf);
  });
}

/**
 * Sends `copySql` with its data (`buf`, a whole binary COPY stream) written on the socket right
 * behind it (Pool.behind), then COMMIT: nothing waits for the server's CopyInResponse.
 */
export function copyBehind(pool: Pool, tx: TransactionSql, control: TxControl, copySql: string, buf: Buffer): void {
  const quiet = <P extends Promise<unknown>>(p: P): P => (p.catch(() => undefined), p);
  const head = Buffer.allocUnsafe(5);
  head[0] = 0x64; // CopyData
  head.writeInt32BE(buf.length + 4, 1);
  const marker = pool.marker();
  const takeBack = pool.behind!(marker, [head, buf, COPY_DONE]);
  const copy = tx.unsafe(`${copySql} /* ${marker} */`);
  // The driver answers CopyInResponse with a stream for the data, and refuses every other
  // query on the connection until it is done: it is closed at once (its CopyFail comes after
  // our CopyDone, when the server is out of COPY mode, which ignores it). The data is always
  // written by then (the COPY's text goes through our socket); were it not, the server would
  // meet COMMIT inside the COPY and end the session: the append fails with IO, nothing written.
  const q = copy as unknown as { resolve: (x: unknown) => void; reject: (e: unknown) => void };
  const resolve = q.resolve;
  const reject = q.reject;
  // The server's error for the data (a constraint, a duplicate key) comes after the query was
  // resolved with its stream: kept, it says why the transaction rolled back.
  q.reject = (e: unknown) => {
    control.rejected ??= e;
    reject(e);
  };
  q.resolve = (x: unknown) => {
    const stream = x as CopyStream;
    if (stream && typeof stream.destroy === "function") {
      stream.on("error", () => undefined);
      takeBack();
      stream.destroy();
    }
    resolve(x);
  };
  quiet(copy.execute());
  control.commit();
  // Not left pending for a query that never goes (the transaction failed before it).
  copy.then(
    () => takeBack(),
    () => takeBack(),
  );
}

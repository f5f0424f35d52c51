/**
 * The write intent: a fixed-width line after the PID and host in the table's lock file (the
 * kit's lock `extra`). `w <data inode> <offset>` is written in place before each append's data
 * bytes, `-` when no write is in flight. A lock taken over from a dead holder hands its text to
 * the taker: its intent is what proves that bytes at the end of data.msgpack are a torn Quiver
 * write, so recovery never cuts bytes it cannot prove are its own.
 */
const INTENT_WIDTH = 48;

export interface Intent {
  ino: bigint;
  offset: number;
}

/** The intent line, always INTENT_WIDTH bytes: overwriting it never grows the lock file (no space needed on a full disk). */
export function intentLine(intent: Intent | undefined): string {
  return (intent ? `w ${intent.ino} ${intent.offset}` : "-").padEnd(INTENT_WIDTH - 1) + "\n";
}

/** The intent in a lock file's text (its third line), if any. */
export function parseIntent(text: string | undefined): Intent | undefined {
  const m = /^w (\d+) (\d+)\s*$/.exec(text?.split("\n")[2] ?? "");
  return m ? { ino: BigInt(m[1]!), offset: Number(m[2]) } : undefined;
}

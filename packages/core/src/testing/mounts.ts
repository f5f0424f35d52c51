/**
 * Real small and read-only file systems for a store's fault tests: disk full on a tmpfs, EROFS on
 * a read-only bind mount. Mounting needs root; `mountRefused()` says why it cannot be done here,
 * so a suite skips with that reason instead of passing without testing anything.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const mounted: string[] = [];
let refused: string | undefined | null = null;

function sh(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
}

function freshDir(): string {
  return mkdtempSync(join(tmpdir(), "quiver-mount-"));
}

/** Why mounting is impossible here, or undefined when it works (probed once, on first call). */
export function mountRefused(): string | undefined {
  if (refused !== null) return refused;
  const dir = freshDir();
  try {
    sh("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir]);
    sh("umount", [dir]);
    refused = undefined;
  } catch (err) {
    refused = `mount -t tmpfs is refused here (${String((err as Error).message).split("\n")[0]}); run the tests as root to cover disk-full and read-only faults`;
  }
  rmdirSync(dir);
  return refused;
}

/** A fresh tmpfs of `size` (e.g. "2m"), unmounted by unmountAll(). */
export function tmpfs(size: string): string {
  const dir = freshDir();
  sh("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
  mounted.push(dir);
  return dir;
}

/** Grows or shrinks a tmpfs in place (what was written stays). */
export function resize(dir: string, size: string): void {
  sh("mount", ["-o", `remount,size=${size}`, dir]);
}

/** A read-only view of `source` (a read-only bind mount): EROFS on every write. */
export function readOnlyView(source: string): string {
  const dir = freshDir();
  sh("mount", ["--bind", source, dir]);
  mounted.push(dir);
  sh("mount", ["-o", "remount,bind,ro", dir]);
  return dir;
}

/** Unmounts everything tmpfs() and readOnlyView() mounted (call it in afterAll). */
export function unmountAll(): void {
  for (const dir of mounted.reverse()) {
    try {
      sh("umount", [dir]);
    } catch {
      sh("umount", ["-l", dir]); // still busy: detach now, freed when the last handle closes
    }
    try {
      rmdirSync(dir);
    } catch {
      /* a lazily detached mount point may still be busy; it is only an empty folder */
    }
  }
  mounted.length = 0;
}

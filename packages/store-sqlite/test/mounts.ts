/** Real small and read-only file systems for fault tests (needs root; tests skip, saying why, when mount is refused). */
import { execFileSync } from "node:child_process";
import { tmpDir } from "./helpers.js";

const mounted: string[] = [];

function sh(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** Why mounting is impossible here, or undefined when it works (probed once). */
export const mountRefused: string | undefined = (() => {
  const dir = tmpDir();
  try {
    sh("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir]);
    sh("umount", [dir]);
    return undefined;
  } catch (err) {
    return `mount -t tmpfs is refused here (${String((err as Error).message).split("\n")[0]}); run the tests as root to cover disk-full and read-only faults`;
  }
})();

/** A fresh tmpfs of `size` (e.g. "2m"), unmounted by unmountAll(). */
export function tmpfs(size: string): string {
  const dir = tmpDir();
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
  const dir = tmpDir();
  sh("mount", ["--bind", source, dir]);
  mounted.push(dir);
  sh("mount", ["-o", "remount,bind,ro", dir]);
  return dir;
}

export function unmountAll(): void {
  for (const dir of mounted.reverse()) {
    try {
      sh("umount", [dir]);
    } catch {
      sh("umount", ["-l", dir]); // still busy: detach now, freed when the last handle closes
    }
  }
  mounted.length = 0;
}

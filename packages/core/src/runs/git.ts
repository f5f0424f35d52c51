/**
 * The commit a run's code is at (`Tracker.open(uri, { gitRoot })` → a `git_commit_hash` column):
 * read from the repository's files as git itself resolves HEAD — `.git` (a folder, or a file
 * `gitdir: …` for worktrees and submodules), HEAD, loose refs, then packed-refs — without
 * running git. Read-only; nothing in the repository is touched.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { QuiverError } from "../errors.js";

const HASH_RE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** The git folder for a working tree at or above `start`, and the common folder holding refs. */
function findGitDir(start: string): { gitDir: string; commonDir: string; top: string } | undefined {
  let dir = resolve(start);
  for (;;) {
    const dotGit = join(dir, ".git");
    if (existsSync(dotGit)) {
      let gitDir = dotGit;
      if (statSync(dotGit).isFile()) {
        const m = /^gitdir:\s*(.+?)\s*$/m.exec(read(dotGit) ?? "");
        if (!m) return undefined;
        gitDir = isAbsolute(m[1]!) ? m[1]! : resolve(dir, m[1]!);
      }
      const common = read(join(gitDir, "commondir"))?.trim();
      return { gitDir, commonDir: common ? resolve(gitDir, common) : gitDir, top: dir };
    }
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

function resolveRef(ref: string, gitDir: string, commonDir: string, depth = 0): string | undefined {
  if (depth > 8) return undefined;
  for (const base of gitDir === commonDir ? [gitDir] : [gitDir, commonDir]) {
    const loose = read(join(base, ref))?.trim();
    if (loose === undefined) continue;
    if (loose.startsWith("ref:")) return resolveRef(loose.slice(4).trim(), gitDir, commonDir, depth + 1);
    if (HASH_RE.test(loose)) return loose;
  }
  for (const line of (read(join(commonDir, "packed-refs")) ?? "").split("\n")) {
    const m = /^([0-9a-f]{40}|[0-9a-f]{64}) (.+)$/.exec(line.trim());
    if (m && m[2] === ref) return m[1];
  }
  return undefined;
}

/** HEAD's commit hash for the repository containing `root`; NOT_FOUND when there is none. */
export function gitCommitHash(root: string): string {
  if (typeof root !== "string" || !root || root.includes("\0")) throw new QuiverError("INVALID_PATH", `gitRoot must be a folder path, got ${JSON.stringify(root)}`);
  if (!existsSync(root)) throw new QuiverError("NOT_FOUND", `gitRoot ${resolve(root)} does not exist`);
  const found = findGitDir(root);
  if (!found) throw new QuiverError("NOT_FOUND", `gitRoot ${resolve(root)} is not inside a git repository (no .git found up to /); run \`git init\` there, or leave gitRoot out`);
  if (existsSync(join(found.commonDir, "reftable"))) return revParse(found.top);
  const head = read(join(found.gitDir, "HEAD"))?.trim();
  if (head === undefined) throw new QuiverError("NOT_FOUND", `${found.gitDir} has no HEAD: not a git repository`);
  if (HASH_RE.test(head)) return head; // detached
  if (!head.startsWith("ref:")) throw new QuiverError("NOT_FOUND", `cannot read ${join(found.gitDir, "HEAD")} (${JSON.stringify(head.slice(0, 60))})`);
  const ref = head.slice(4).trim();
  const hash = resolveRef(ref, found.gitDir, found.commonDir);
  if (!hash) throw new QuiverError("NOT_FOUND", `the repository at ${found.top} has no commit on ${ref} yet; commit once, or leave gitRoot out`);
  return hash;
}

/** Repositories in the reftable format (git ≥ 2.45) have no ref files to read: ask git. */
function revParse(top: string): string {
  try {
    const out = execFileSync("git", ["rev-parse", "HEAD"], { cwd: top, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
    if (HASH_RE.test(out)) return out;
  } catch (err) {
    throw new QuiverError("NOT_FOUND", `\`git rev-parse HEAD\` failed in ${top}: ${(err as Error).message.split("\n")[0]}`, { cause: err });
  }
  throw new QuiverError("NOT_FOUND", `\`git rev-parse HEAD\` gave no commit in ${top}`);
}

// One side of the freshness bench (see freshness.mjs): a writer that logs a row every `period`
// ms, or a reader that polls the row count every `poll` ms. Times are wall-clock ms (both
// processes read the same clock), printed as JSON lines on stdout.
import { createInterface } from "node:readline";
import { createRequire } from "node:module";

const cfg = JSON.parse(process.argv[2]);
const now = () => performance.timeOrigin + performance.now();
const say = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const lines = createInterface({ input: process.stdin });
const next = () => new Promise((r) => lines.once("line", r));

async function sqlite() {
  const Database = createRequire(cfg.sqliteFrom)("better-sqlite3");
  const db = new Database(cfg.path);
  db.pragma("journal_mode = WAL");
  if (cfg.role === "writer") {
    db.exec("CREATE TABLE IF NOT EXISTS events (seq INTEGER, sent REAL, loss REAL, track_id TEXT, timestamp TEXT)");
    db.prepare("INSERT INTO events VALUES (?, ?, ?, ?, ?)").run(-1, now(), 0, "run", new Date().toISOString());
    const ins = db.prepare("INSERT INTO events VALUES (?, ?, ?, ?, ?)");
    return { log: (seq) => ins.run(seq, now(), Math.random(), "run", new Date().toISOString()), close: () => db.close() };
  }
  const q = db.prepare("SELECT count(*) AS n FROM events");
  return { count: () => q.get().n - 1, close: () => db.close() };
}

async function quiver() {
  const core = await import(cfg.core);
  await import(cfg.store);
  const table = cfg.kind === "track" ? "fresh/tracks/points" : "events";
  if (cfg.role === "writer") {
    if (cfg.kind === "track") {
      const session = await core.Session.open({ prefix: "fresh", store: cfg.uri });
      const track = session.track("points");
      track.append({ seq: -1, sent: now() });
      await session.flush();
      return { log: (seq) => void track.append({ seq, sent: now() }), close: () => session.close() };
    }
    const tracker = await core.Tracker.open(cfg.uri, { params: { model: "mlp" } });
    await tracker.log({ seq: -1, sent: now(), loss: 0 });
    await tracker.flush();
    return { log: (seq) => void tracker.log({ seq, sent: now(), loss: Math.random() }), close: () => tracker.close() };
  }
  const store = await core.openStore(cfg.uri, { readOnly: true });
  return { count: async () => (await store.count(table)) - 1, close: () => store.close() };
}

const side = cfg.kind === "sqlite" ? await sqlite() : await quiver();
say({ ready: true });
if (cfg.role === "writer") {
  await next(); // "go"
  const sent = [];
  const t0 = now();
  for (let i = 0; i < cfg.n; i++) {
    const due = t0 + i * cfg.period;
    if (due > now()) await sleep(due - now());
    sent.push(now());
    side.log(i);
  }
  await sleep(300);
  await side.close();
  say({ sent });
} else {
  const seen = [];
  let last = 0;
  const stop = next(); // "stop"
  let stopped = false;
  stop.then(() => (stopped = true));
  while (!stopped) {
    const n = await side.count();
    const t = now();
    while (last < n) seen[last++] = t;
    await sleep(cfg.poll);
  }
  await side.close();
  say({ seen });
}
process.exit(0);

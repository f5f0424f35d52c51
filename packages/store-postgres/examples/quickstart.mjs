// node examples/quickstart.mjs [postgres://user@host:port/db]   (after `pnpm -F @quiver/store-postgres build`)
import { copy, field, Reader, Session, Tracker } from "@quiver/core";
import "@quiver/store-postgres"; // registers postgres: and postgresql:

const server = process.argv[2] ?? process.env.QUIVER_PG_URL ?? "postgres://postgres@localhost:5432/postgres";
const uri = `${server}${server.includes("?") ? "&" : "?"}schema=quickstart`;

const tracker = await Tracker.open(uri, { params: { model: "resnet18" } });
await tracker.log({ accuracy: 0.9, loss: 0.1, epoch: 1 });
await tracker.log({ accuracy: 0.95, loss: 0.05, epoch: 2 });
console.log(tracker.last); // { accuracy, loss, epoch, model, timestamp: Date, track_id }

const good = await tracker.where(field("accuracy").gt(0.92)); // pushed down as parameterised SQL
console.log(good.numRows, "good epochs");
const t = await tracker.sql("SELECT epoch, loss FROM events WHERE track_id = $1 ORDER BY epoch", [tracker.trackId]);
console.log(t.toArray().map((r) => r.toJSON()));
await tracker.close();

const session = await Session.open({ prefix: "robot/run-1", store: uri });
session.track("pose").append({ x: 1, y: 2 }).append({ x: 1.5, y: 2.5 });
console.log((await session.track("pose").readByTime({ limit: 10 })).data.length, "points");
await session.close();

const reader = await Reader.open(uri);
console.log(await reader.runs());
await reader.close();

// A laptop's runs merged into the shared database (idempotent: a second copy adds 0).
await copy({ source: uri, target: "memory:" });

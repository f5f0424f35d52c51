// node examples/quickstart.mjs   (after `npx tsc -b`) — writes ./quickstart.db
import { Reader, Tracker, copy, field } from "@quiver/core";
import { toParquet } from "@quiver/store-duckdb"; // importing the package registers duckdb:

const tracker = await Tracker.open("duckdb:quickstart.db", { params: { model: "resnet18" } });
await tracker.log({ accuracy: 0.9, loss: 0.1, epoch: 1 });
await tracker.log({ accuracy: 0.95, loss: 0.05, epoch: 2 });
console.log(tracker.last); // { accuracy, loss, epoch, model, timestamp: Date, track_id }

const good = await tracker.where(field("accuracy").gt(0.92)); // pushed down as SQL, an Arrow Table
console.log(good.numRows, good.getChild("epoch")?.toArray());

const t = await tracker.sql("SELECT epoch, loss FROM events WHERE track_id = $1 ORDER BY epoch", [tracker.trackId]);
console.log(t.toArray().map((r) => r.toJSON()));

await tracker.setValue("test_accuracy", 0.93); // back in time, this run only
await tracker.flush();
await toParquet(tracker.store, "events", "quickstart.parquet");
await tracker.close();

const reader = await Reader.open("duckdb:quickstart.db"); // works while other processes write
console.log(await reader.runs());
await reader.close();
console.log("copied", await copy({ source: "duckdb:quickstart.db", target: "duckdb:quickstart-merged.db" }));

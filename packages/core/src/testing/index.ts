/**
 * @quiver/core/testing — the conformance suite every store runs, with the test runner injected
 * (as @keyv/test-suite does):
 *
 *   import { describe, it } from "vitest";
 *   import { runStoreConformance } from "@quiver/core/testing";
 *   runStoreConformance({ describe, it }, { name: "mystore", create: () => openStore("mystore:" + tmp()) });
 */
import type { ConformanceTarget, TestApi } from "./harness.js";
import { sessionTests } from "./session-tests.js";
import { storeTests } from "./store-tests.js";
import { trackerTests } from "./tracker-tests.js";
import { valuesTests } from "./values-tests.js";
import { namesTests } from "./names-tests.js";
import { xetrackTests } from "./xetrack-tests.js";
import { runsTests } from "./runs-tests.js";

export { type ConformanceTarget, type TestApi, plain, rejectsWith, rowsOf, withStore } from "./harness.js";
export { queryRows } from "./store-tests.js";
export { type ExitTarget, exitTests } from "./exit-tests.js";
export { mountRefused, readOnlyView, resize, tmpfs, unmountAll } from "./mounts.js";

/** Registers the whole suite: store behaviour, then Tracker and Session/Track over the store. */
export function runStoreConformance(test: TestApi, target: ConformanceTarget): void {
  test.describe(`${target.name}: Store conformance`, () => storeTests(test, target));
  test.describe(`${target.name}: Tracker over the store`, () => trackerTests(test, target));
  test.describe(`${target.name}: Session/Track over the store`, () => sessionTests(test, target));
  // Property-based (fast-check, an optional peer dependency): values round-trip exactly or are refused.
  test.describe(`${target.name}: values round-trip exactly or are refused`, () => valuesTests(test, target));
  test.describe(`${target.name}: names are refused or kept exactly`, () => namesTests(test, target));
  test.describe(`${target.name}: run summaries (runs with columns)`, () => runsTests(test, target));
  test.describe(`${target.name}: xetrack's cache, assets, config unpacking, setWhere and latest`, () => xetrackTests(test, target));
}

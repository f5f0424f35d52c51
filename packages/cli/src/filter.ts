/**
 * The filter language (`episode > 5 and has_baby_yoda = true`) lives in core now, so that the
 * CLI and the `quiver ui` runs table parse one language; see packages/core/src/query/filter.ts.
 */
export { FilterSyntaxError, parseFilter } from "@quiver/core";

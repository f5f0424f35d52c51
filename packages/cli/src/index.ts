/** @quiver/cli: the `quiver` command, and its pieces for programs that embed them. */
export { main, mainHelp } from "./cli.js";
export { parseFilter, FilterSyntaxError } from "./filter.js";
export { terminalChart, niceTicks, type Series, type ChartOptions } from "./chart.js";
export { chartToSvg, chartToPng, encodePng, Raster, crc32 } from "./image.js";
export { renderTable, printRows, formatCell, jsonValue } from "./output.js";
export { Progress } from "./progress.js";
export { renderImage } from "./picture.js";
export { parseValue, describe as describeColumn } from "./commands/runs.js";
export { parseSlice } from "./commands/h5.js";
export type { Context } from "./context.js";

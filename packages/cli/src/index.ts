/** @quiver/cli: the `quiver` command, and its pieces for programs that embed them. */
export { main, mainHelp } from "./cli.js";
export { parseFilter, FilterSyntaxError } from "./filter.js";
export { terminalChart, niceTicks, type Series, type ChartOptions } from "./chart.js";
export { chartToSvg, chartToPng } from "./image.js";
export { decimate, meanBand, type Band } from "./decimate.js";
export { renderTable, printRows, formatCell, jsonValue } from "./output.js";
export { width as displayWidth } from "./width.js";
export { didYouMean } from "./suggest.js";
export { parseTime } from "./args.js";
export { Progress } from "./progress.js";
export { renderImage } from "./picture.js";
export { parseValue } from "./commands/runs.js";
export { describe as describeColumn } from "./commands/stats.js";
export { parseSlice } from "./commands/h5.js";
export type { Context } from "./context.js";

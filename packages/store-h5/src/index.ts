/** @quiver/store-h5: HDF5 through h5wasm — H5Logger streams and the `h5:` store. */
export { H5Logger, H5Reader, H5Series, type DatasetSpec, type H5LoggerOptions, type LogValue, type SeriesValue } from "./logger.js";
export { type DType, h5Path } from "./h5.js";

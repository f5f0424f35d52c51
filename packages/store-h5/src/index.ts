/**
 * @quiver/store-h5: HDF5 through h5wasm — h5logger-style `H5Logger` streams and the `h5:` store.
 * Importing the package registers the store for "h5:" URIs.
 */
import { registerStore, type StoreOpenOptions, type StorePlugin } from "@quiver/core";
import { H5Store } from "./store.js";

export { H5Logger, type H5LoggerOptions } from "./logger.js";
export { H5Reader, H5Series, type SeriesValue } from "./reader.js";
export type { DatasetSpec, LogValue } from "./values.js";
export { type DType, h5Path } from "./h5.js";
export { H5Store, type H5StoreOptions } from "./store.js";

/** The `h5:` store plugin: location = the HDF5 file path (".h5" added when there is no extension). */
export const h5Plugin: StorePlugin = {
  scheme: "h5",
  open: (location: string, options?: StoreOpenOptions) => H5Store.open(location, options),
};

registerStore(h5Plugin);
export default h5Plugin;

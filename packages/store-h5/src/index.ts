/**
 * @quiver/store-h5: HDF5 through h5wasm — h5logger-style `H5Logger` streams and the `h5:` store.
 * Importing the package registers the store for "h5:" URIs.
 */
import { registerStore, type StorePlugin } from "@quiver/core";
import { H5Store } from "./store.js";

export { H5Logger, H5Reader, H5Series, type DatasetSpec, type H5LoggerOptions, type LogValue, type SeriesValue } from "./logger.js";
export { type DType, h5Path } from "./h5.js";
export { H5Store } from "./store.js";

/** The `h5:` store plugin: location = the HDF5 file path (".h5" added when there is no extension). */
export const h5Plugin: StorePlugin = {
  scheme: "h5",
  open: (location: string) => H5Store.open(location),
};

registerStore(h5Plugin);
export default h5Plugin;

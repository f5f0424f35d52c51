/**
 * @quiver/store-msgpack — the `msgpack:` store: dreamlake's msgpack-lines tracks, with a time
 * index for range reads. Importing the package registers the plugin.
 */
import { registerStore, type StoreOpenOptions, type StorePlugin } from "@quiver/core";
import { type MsgpackStoreOptions, openMsgpackStore } from "./store.js";

export { MsgpackStore, openMsgpackStore, type MsgpackStoreOptions, DATA_FILE, SCHEMA_FILE, INDEX_FILE, LOCK_FILE } from "./store.js";
export { MSGPACK_META } from "./records.js";

const plugin: StorePlugin = {
  scheme: "msgpack",
  async open(location: string, options?: StoreOpenOptions) {
    return openMsgpackStore(location, options as MsgpackStoreOptions | undefined);
  },
};

registerStore(plugin);

export default plugin;

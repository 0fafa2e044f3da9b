// Browser entry point (package.json "exports" default): the WASM core of pkg/event_core.js
// and the sender bound to its normalize. Loads as is from <script type="module">:
//
//   import init, { createSender } from "/event-core-js/web.js";
//   await init(); // fetches pkg/event_core_bg.wasm next to pkg/event_core.js
//   const sender = createSender({ url, key, storage: localStorage });
import { normalize } from "./pkg/event_core.js";
import { createSender as create } from "./sender.js";

export { default, initSync, normalize, version } from "./pkg/event_core.js";

/** The sender of sender.js with the core's normalize (call after `init()`). */
export const createSender = (options) => create({ normalize, ...options });

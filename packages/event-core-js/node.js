// Node entry point: the same module as the browser's (pkg/event_core.js, wasm-bindgen
// --target web), with an `init()` that reads the .wasm from disk, since Node's fetch cannot
// load file: URLs; and the sender bound to the core's normalize, as in web.js.
//
//   import init, { normalize, version, createSender } from "event-core-js"; // or "./node.js"
//   await init();
import { readFile } from "node:fs/promises";
import initWeb, { initSync, normalize, version } from "./pkg/event_core.js";
import { createSender as create } from "./sender.js";

const WASM = new URL("./pkg/event_core_bg.wasm", import.meta.url);

/**
 * Loads the WebAssembly module (once; later calls return the same instance). With an
 * argument it behaves like the browser build's `init` (a URL, bytes, a module or
 * `{ module_or_path }`).
 */
export default async function init(input) {
  return initWeb(input ?? { module_or_path: await readFile(WASM) });
}

/** The sender of sender.js with the core's normalize (call after `init()`). */
export const createSender = (options) => create({ normalize, ...options });

export { initSync, normalize, version };

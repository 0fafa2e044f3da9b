// Types of web.js (and of node.js): the WASM core's API and the sender bound to it.
import type { Sender, SenderOptions } from "./sender.js";

export * from "./pkg/event_core.js";
export { default } from "./pkg/event_core.js";
export type { CoreSenderOptions, Outcome, SendError, Sender, SenderOptions, StorageLike } from "./sender.js";

/** A sender that validates and hashes with this module's `normalize` (call `init()` first). */
export function createSender(options: SenderOptions): Sender;

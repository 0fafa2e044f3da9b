// Types of node.js: the same API as the browser build (pkg/event_core.js).
export * from "./pkg/event_core.js";
export { default } from "./pkg/event_core.js";

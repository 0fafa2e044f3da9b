// Types of node.js: the same API as the browser entry point (web.js).
export * from "./web.js";
export { default } from "./web.js";

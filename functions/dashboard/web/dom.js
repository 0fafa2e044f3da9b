// Building DOM without markup strings: every text goes through text nodes, so nothing the
// service returns (raw bodies, client ids) can become markup.

const SVG_NS = "http://www.w3.org/2000/svg";

function build(element, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      element.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** An HTML element: `h("td", { class: "num" }, "12.5")`. */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** Replace the children of `element`. */
export function fill(element, ...children) {
  element.replaceChildren();
  build(element, {}, children);
  return element;
}

/** `2026-11-20T08:00:00Z` -> `2026-11-20 08:00:00` (already UTC; shown as such). */
export function shortTime(text) {
  if (typeof text !== "string") return "";
  return text.replace("T", " ").replace(/Z$/, "");
}

/** A value as pretty JSON text. */
export function pretty(value) {
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

/** The raw body pretty-printed when it is JSON, else as it is. */
export function prettyRaw(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

// A paged listing (processed or failed events): newest first, pages linked by `next_cursor`.
// Keeps the cursor of every page seen, so "Previous page" needs no cursor from the service.

import { fill, h } from "./dom.js";

export class PagedList {
  /**
   * @param {HTMLElement} panel  holds [data-role=status|body|prev|next|page]
   * @param {object} options
   * @param {(cursor: string|null) => Promise<{ok, status, body, message}>} options.load
   * @param {(items: any[]) => Node} options.render
   * @param {() => string} options.emptyText
   */
  constructor(panel, { load, render, emptyText }) {
    this.panel = panel;
    this.load = load;
    this.render = render;
    this.emptyText = emptyText;
    this.status = panel.querySelector("[data-role=status]");
    this.body = panel.querySelector("[data-role=body]");
    this.prev = panel.querySelector("[data-role=prev]");
    this.next = panel.querySelector("[data-role=next]");
    this.page = panel.querySelector("[data-role=page]");
    this.cursors = [null];
    this.index = 0;
    this.nextCursor = null;
    this.generation = 0;
    this.prev.addEventListener("click", () => this.go(this.index - 1));
    this.next.addEventListener("click", () => this.go(this.index + 1));
  }

  /** Back to the first page and show it. */
  reset() {
    this.cursors = [null];
    return this.go(0);
  }

  /** Show the current page again (after a change). */
  reload() {
    return this.go(this.index);
  }

  async go(index) {
    if (index < 0) return;
    if (index >= this.cursors.length) {
      if (!this.nextCursor) return;
      this.cursors[index] = this.nextCursor;
    }
    const generation = ++this.generation;
    this.panel.setAttribute("aria-busy", "true");
    this.status.textContent = "Loading…";
    this.status.className = "status loading";
    this.prev.disabled = true;
    this.next.disabled = true;
    const answer = await this.load(this.cursors[index]);
    if (generation !== this.generation) return; // a newer request replaced this one
    this.panel.removeAttribute("aria-busy");
    if (!answer.ok) {
      this.status.textContent = answer.message;
      this.status.className = "status error";
      this.prev.disabled = this.index === 0;
      this.next.disabled = !this.nextCursor;
      return;
    }
    this.index = index;
    this.cursors.length = index + 1;
    const items = Array.isArray(answer.body && answer.body.items) ? answer.body.items : [];
    this.nextCursor = (answer.body && answer.body.next_cursor) || null;
    this.status.className = "status";
    if (items.length === 0) {
      this.status.textContent = index === 0 ? this.emptyText() : "No more events.";
      fill(this.body);
    } else {
      this.status.textContent = `${items.length} event${items.length === 1 ? "" : "s"}${this.nextCursor ? ", more on the next page" : ""}.`;
      fill(this.body, this.render(items));
    }
    this.page.textContent = this.index > 0 || this.nextCursor ? `Page ${this.index + 1}` : "";
    this.prev.disabled = this.index === 0;
    this.next.disabled = !this.nextCursor;
  }
}

/** A table; each cell also carries its column name (shown as a label on narrow screens). */
export function table(columns, rows, rowAttrs = () => ({})) {
  return h("table", {},
    h("thead", {}, h("tr", {}, columns.map((column) => h("th", { scope: "col", class: column.class }, column.title)))),
    h("tbody", {}, rows.map((row) => h("tr", rowAttrs(row),
      columns.map((column) => h("td", { class: column.class, "data-label": column.title }, h("span", { class: "cell" }, column.cell(row))))))));
}

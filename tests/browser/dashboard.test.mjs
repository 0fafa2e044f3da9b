// The dashboard in a real browser against a running stack (BASE_URL; API_KEY when keys are on):
// the hash computed in the page by the event-core WASM equals the server's event_hash, the event
// is listed, the aggregate and the hourly chart change, a simulated failure is retried from
// the page, and "Retry all matching" replays the failed list with its count and outcomes. Any console error, page error, failed request or Content-Security-Policy
// violation fails the test, except the HTTP error statuses a step provokes on purpose.
// Screenshots (desktop, a retried failed event, 360 px wide) go to tests/browser/artifacts/.

import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const BASE_URL = `${(process.env.BASE_URL || "").replace(/\/+$/, "")}/`;
const API_KEY = process.env.API_KEY || "";
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const ARTIFACTS = new URL("./artifacts/", import.meta.url).pathname;
const TIMEOUT = Number(process.env.STEP_TIMEOUT_MS || 20000);
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

if (!process.env.BASE_URL) {
  throw new Error("BASE_URL is not set: run tests/browser/run.sh, which finds the running stack");
}

let browser;
let context;
let page;
/** Problems seen since the last check: each fails the current step. */
let problems = [];
/** HTTP error statuses the current step provokes on purpose: [{ status, path }]. */
let expected = [];
/** Responses seen (url -> { status, contentType }). */
const responses = new Map();

const client = `browser-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;

function expectFailure(status, path) {
  expected.push({ status, path });
}

function isExpected(status, url) {
  return expected.some((e) => e.status === status && new URL(url).pathname.endsWith(e.path));
}

async function watch(target) {
  await target.exposeBinding("__cspViolation", (_source, text) => {
    problems.push(`CSP violation: ${text}`);
  });
  await target.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      window.__cspViolation(`${event.violatedDirective} blocked ${event.blockedURI || "inline"} (${event.sourceFile}:${event.lineNumber})`);
    });
  });
  target.on("console", (message) => {
    const text = message.text();
    const failedLoad = /^Failed to load resource: the server responded with a status of (\d+)/.exec(text);
    if (failedLoad && isExpected(Number(failedLoad[1]), message.location().url || "")) return;
    if (message.type() === "error" || /Content[- ]Security[- ]Policy/i.test(text)) {
      problems.push(`console.${message.type()}: ${text} (${message.location().url || "?"})`);
    }
  });
  target.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  target.on("requestfailed", (request) => {
    problems.push(`request failed: ${request.method()} ${request.url()}: ${request.failure()?.errorText}`);
  });
  target.on("response", (response) => {
    responses.set(response.url(), {
      status: response.status(),
      contentType: response.headers()["content-type"] || "",
      headers: response.headers(),
    });
    if (response.status() >= 400 && !isExpected(response.status(), response.url())) {
      problems.push(`HTTP ${response.status()} for ${response.request().method()} ${response.url()}`);
    }
  });
}

async function openPage(options = {}, { useKey = true } = {}) {
  const newContext = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const newPage = await newContext.newPage();
  newPage.setDefaultTimeout(TIMEOUT);
  await watch(newPage);
  const response = await newPage.goto(BASE_URL, { waitUntil: "load" });
  assert.equal(response.status(), 200, "the page answers 200");
  await newPage.waitForSelector("html[data-wasm=ready]");
  // this test's client everywhere (its key's tenant owns browser-* only), then the key
  for (const selector of ["#e-client_id", "#a-client_id"]) await newPage.fill(selector, client);
  if (API_KEY && useKey) {
    await newPage.fill("#api-key", API_KEY);
    await newPage.click("#key-form button[type=submit]");
    await newPage.waitForSelector("#key-status");
    await newPage.waitForFunction(() => !document.querySelector("[aria-busy]"));
  }
  return { context: newContext, page: newPage, response };
}

/** Replace a field's text the way a person does: select all, type. */
async function type(selector, text) {
  await page.click(selector);
  await page.keyboard.press("ControlOrMeta+a");
  await page.keyboard.press("Backspace");
  if (text) await page.keyboard.type(text, { delay: 5 });
}

async function text(selector) {
  return (await page.textContent(selector)).trim();
}

/** RFC 3339 UTC `minutes` minutes ago, to the second. */
function minutesAgo(minutes) {
  return new Date(Date.now() - minutes * 60000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Compose and send an event through the form; returns the browser's hash shown before sending. */
async function compose({ amount, timestamp, simulate = false, eventId = "" }) {
  await type("#f-client_id", client);
  await type("#f-metric", "purchase");
  await type("#f-amount", amount);
  await type("#f-timestamp", timestamp);
  await type("#f-event_id", eventId);
  if ((await page.isChecked("#f-simulate")) !== simulate) await page.click("#f-simulate");
  await page.waitForFunction(() => /^[0-9a-f]{64}$/.test(document.getElementById("local-hash")?.textContent || ""));
  return text("#local-hash");
}

async function send() {
  const before = await page.evaluate(() => document.getElementById("send-result").textContent);
  await page.click("#send");
  await page.waitForFunction(
    (previous) => {
      const result = document.getElementById("send-result");
      return !result.hasAttribute("aria-busy") && result.querySelector("#send-headline") && result.textContent !== previous;
    },
    before,
  );
}

async function waitText(selector, wanted) {
  await page.waitForFunction(
    ({ selector, wanted }) => document.querySelector(selector)?.textContent.trim() === wanted,
    { selector, wanted },
  );
}

describe("dashboard", () => {
  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // launch() gives the browser a fresh temporary profile (--user-data-dir), removed on close
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    ({ context, page } = await openPage());
  });

  after(async () => {
    await browser?.close();
  });

  afterEach(() => {
    const seen = problems;
    problems = [];
    expected = [];
    assert.deepEqual(seen, [], "no console errors, page errors, failed requests or CSP violations");
  });

  it("serves the page with its policy, and every asset with its type", async () => {
    const html = responses.get(BASE_URL);
    assert.ok(html, "the page response was seen");
    assert.match(html.contentType, /^text\/html; charset=utf-8/);
    assert.match(html.headers["content-security-policy"], /default-src 'none'; script-src 'self' 'wasm-unsafe-eval'/);
    assert.equal(html.headers["x-content-type-options"], "nosniff");
    const assets = [...responses.entries()].filter(([url]) => new URL(url).pathname.includes("/assets/"));
    const wasm = assets.find(([url]) => url.endsWith(".wasm"));
    assert.ok(wasm, "the WASM module was fetched");
    assert.equal(wasm[1].contentType, "application/wasm");
    for (const [url, seen] of assets) {
      assert.equal(seen.status, 200, url);
      assert.match(seen.headers["cache-control"], /immutable/, url);
      assert.match(new URL(url).pathname, /\.[0-9a-f]{8}\.(js|css|wasm|svg)$/, url);
    }
  });

  it("labels every control", async () => {
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll("input, select, textarea, button")]
        .filter((el) => !el.closest("[hidden]"))
        .filter((el) => (el.labels?.length ?? 0) === 0 && !el.getAttribute("aria-label") && !(el.tagName === "BUTTON" && el.textContent.trim()))
        .map((el) => el.id || el.outerHTML));
    assert.deepEqual(unlabelled, []);
    // the fields come in reading order when tabbing
    await page.focus("#f-client_id");
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement.id), "f-source");
  });

  let firstHash;
  it("computes the event_hash in the browser as you type, and the server agrees", async () => {
    const hash = await compose({ amount: "12.50", timestamp: minutesAgo(2) });
    // the normalized event is shown, amounts canonical
    const normalized = JSON.parse(await text("#local-event"));
    assert.equal(normalized.client_id, client);
    assert.equal(normalized.amount, "12.5");
    // typing changes the hash; the same amount spelled differently does not
    await type("#f-amount", "12.51");
    await page.waitForFunction((h) => document.getElementById("local-hash")?.textContent !== h, hash);
    await type("#f-amount", "12.500");
    await waitText("#local-hash", hash);
    // the JSON body follows the fields
    const body = JSON.parse(await page.inputValue("#raw"));
    assert.equal(body.payload.amount, "12.500");
    assert.equal(body.client_id, client);

    await send();
    assert.equal(await text("#send-status"), "201");
    assert.match(await text("#send-headline"), /Processed/);
    assert.equal(await text("#send-local-hash"), hash);
    assert.equal(await text("#send-server-hash"), hash);
    assert.equal(await page.getAttribute("#send-match", "data-match"), "true");
    firstHash = hash;
  });

  it("lists the event among the processed events of its client", async () => {
    await type("#e-client_id", client);
    await page.click("#events-filter button[type=submit]");
    await page.waitForSelector(`#processed-panel tr[data-hash="${firstHash}"]`);
    assert.match(await text(`#processed-panel tr[data-hash="${firstHash}"]`), /12\.5/);
  });

  it("shows the aggregate and the hourly chart, and both change with the next event", async () => {
    await type("#a-client_id", client);
    await page.click("#agg-form button[type=submit]");
    await waitText("#agg-count", "1");
    assert.equal(await text("#agg-total"), "12.5");
    await page.waitForSelector("#chart-body svg.hourly[data-total-count='1']");
    assert.equal(await page.locator("#chart-body rect.bar.count").count(), 1);
    assert.equal(await page.getAttribute("#chart-body rect.bar.count", "data-count"), "1");
    const chartBefore = await page.innerHTML("#chart-body");

    const second = await compose({ amount: "7.5", timestamp: minutesAgo(1), eventId: "second" });
    await send();
    assert.equal(await text("#send-status"), "201");
    assert.equal(await text("#send-server-hash"), second);
    await waitText("#agg-count", "2");
    assert.equal(await text("#agg-total"), "20");
    await page.waitForSelector("#chart-body svg.hourly[data-total-count='2']");
    assert.notEqual(await page.innerHTML("#chart-body"), chartBefore, "the chart changed");
    const counts = await page.$$eval("#chart-body rect.bar.count", (bars) => bars.map((b) => Number(b.dataset.count)));
    assert.equal(counts.reduce((a, b) => a + b, 0), 2);
    await page.screenshot({ path: `${ARTIFACTS}dashboard-desktop.png`, fullPage: true });
  });

  it("keeps a simulated failure and retries it from the page", async () => {
    await compose({ amount: "3", timestamp: minutesAgo(1), eventId: "simulated", simulate: true });
    assert.equal(JSON.parse(await page.inputValue("#raw")).simulateFailure, true);
    expectFailure(500, "/events");
    await send();
    assert.equal(await text("#send-status"), "500");
    assert.match(await text("#send-headline"), /failed on purpose.*Kept as failed event/i);
    assert.equal(await page.getAttribute("#send-match", "data-match"), "none");
    // the failed list shows it; open its raw body, then retry it from there
    const row = page.locator("#failed-panel tr[data-status=failed]").first();
    await row.waitFor();
    await row.locator("button[data-action=view]").click();
    await page.waitForSelector("#failed-raw");
    const raw = JSON.parse(await text("#failed-raw"));
    assert.equal(raw.simulateFailure, true);
    assert.equal(raw.event_id, "simulated");
    await page.click("#detail-retry");
    await page.waitForSelector("#retry-server-hash");
    assert.equal(await text("#retry-status"), "201");
    assert.equal(await page.getAttribute("#retry-match", "data-match"), "true");
    assert.equal(await page.locator("#detail-retry").count(), 0, "no second retry offered");
    assert.equal(await text("#detail-status"), "retried");
    await page.locator("#failed-detail").screenshot({ path: `${ARTIFACTS}dashboard-failed-retried.png` });
    // counted once: the aggregate moves to 3 events, 23 in total; the record is now retried
    await waitText("#agg-count", "3");
    assert.equal(await text("#agg-total"), "23");
    await page.waitForSelector("#failed-panel tr[data-status=retried]");
    await uncheckSimulate();
  });

  it("shows the service's sentence for an API error, not an object", async () => {
    const from = await page.inputValue("#a-from");
    const to = await page.inputValue("#a-to");
    await page.fill("#a-from", to);
    await page.fill("#a-to", from);
    expectFailure(400, "/aggregates");
    expectFailure(400, "/aggregates/hourly");
    await page.click("#agg-form button[type=submit]");
    await page.waitForSelector("#agg-status.error");
    const message = await text("#agg-status");
    assert.match(message, /later than/);
    assert.doesNotMatch(message, /\[object Object\]|\{/);
    await page.fill("#a-from", from);
    await page.fill("#a-to", to);
    await page.click("#agg-form button[type=submit]");
    await waitText("#agg-count", "3");
  });

  it("fills the fields from a JSON body typed by hand", async () => {
    await page.fill("#raw", JSON.stringify({ client_id: `${client}-raw`, payload: { amount: 5, timestamp: 1763625600 } }));
    assert.equal(await page.inputValue("#f-client_id"), `${client}-raw`);
    assert.equal(await page.inputValue("#f-amount"), "5");
    assert.equal(await page.inputValue("#f-timestamp"), "1763625600");
    await page.waitForFunction(() => /^[0-9a-f]{64}$/.test(document.getElementById("local-hash")?.textContent || ""));
  });

  it("sends a batch from the JSON body and pages through the events with next_cursor", async () => {
    const pagingClient = `${client}-pages`;
    const events = Array.from({ length: 12 }, (_, i) => ({
      client_id: pagingClient,
      payload: { metric: "page", amount: String(i + 1), timestamp: minutesAgo(30 + i) },
    }));
    await page.fill("#raw", JSON.stringify({ events }, null, 2));
    await page.waitForSelector("#local-error");
    await send();
    assert.equal(await text("#send-status"), "200");
    assert.match(await text("#send-headline"), /Batch: 12 processed, 0 duplicates, 0 failed/);

    await type("#e-client_id", pagingClient);
    await page.selectOption("#e-limit", "10");
    await page.click("#events-filter button[type=submit]");
    const rows = page.locator("#processed-panel tbody tr");
    const next = page.locator("#processed-panel [data-role=next]");
    const prev = page.locator("#processed-panel [data-role=prev]");
    await page.waitForFunction(() => document.querySelectorAll("#processed-panel tbody tr").length === 10);
    assert.ok(await next.isEnabled());
    assert.ok(await prev.isDisabled());
    const firstPage = await rows.allTextContents();
    await next.click();
    await page.waitForFunction(() => document.querySelectorAll("#processed-panel tbody tr").length === 2);
    assert.equal(await text("#processed-panel [data-role=page]"), "Page 2");
    assert.ok(await next.isDisabled());
    const secondPage = await rows.allTextContents();
    assert.equal(new Set([...firstPage, ...secondPage]).size, 12, "12 different events over two pages");
    await prev.click();
    await page.waitForFunction(() => document.querySelectorAll("#processed-panel tbody tr").length === 10);
    assert.deepEqual(await rows.allTextContents(), firstPage);
    // back to this test's client for the screens below
    await type("#e-client_id", client);
    await page.selectOption("#e-limit", "25");
    await page.click("#events-filter button[type=submit]");
    await page.waitForSelector(`#processed-panel tr[data-hash="${firstHash}"]`);
  });

  it("notices a Content-Security-Policy violation (the watcher itself works)", async () => {
    await page.evaluate(() => {
      const script = document.createElement("script");
      script.textContent = "window.__inline = true";
      document.body.append(script);
    });
    await page.waitForFunction(() => true);
    const deadline = Date.now() + 5000;
    while (!problems.some((p) => /CSP violation: script-src/.test(p)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(problems.some((p) => /CSP violation: script-src/.test(p)), problems.join("\n"));
    assert.equal(await page.evaluate(() => window.__inline), undefined, "the inline script did not run");
    problems = [];
  });

  it("fits a 360 px wide screen", async () => {
    const phone = await openPage({ viewport: { width: 360, height: 780 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    const previous = page;
    page = phone.page;
    try {
      await type("#e-client_id", client);
      await page.click("#events-filter button[type=submit]");
      await page.waitForSelector(`#processed-panel tr[data-hash="${firstHash}"]`);
      await type("#a-client_id", client);
      await page.click("#agg-form button[type=submit]");
      await waitText("#agg-count", "3");
      await page.waitForSelector("#chart-body svg.hourly");
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 360, `no horizontal scrolling (page is ${width} px wide)`);
      await page.screenshot({ path: `${ARTIFACTS}dashboard-phone.png`, fullPage: true });
    } finally {
      page = previous;
      await phone.context.close();
    }
  });

  it("sends with a key pasted in the field, without pressing Use key", { skip: !API_KEY && "keys are off" }, async () => {
    const fresh = await openPage({}, { useKey: false });
    const previous = page;
    page = fresh.page;
    try {
      // a person pastes the key and presses Send at once
      await page.fill("#api-key", API_KEY);
      // three days back: outside the aggregate range the other steps count in
      await compose({ amount: "1", timestamp: minutesAgo(3 * 24 * 60) });
      await send();
      assert.equal(await text("#send-status"), "201");
      assert.match(await text("#send-headline"), /Processed/);
      // Show uses it too
      await type("#e-client_id", client);
      await page.click("#events-filter button[type=submit]");
      await page.waitForSelector("#processed-panel tr[data-hash]");
    } finally {
      page = previous;
      await fresh.context.close();
    }
  });

  it("shows the key's tenant usage: the development tenant has no limits", async () => {
    await page.click("#usage-show");
    await page.waitForSelector("#usage-list:not([hidden])");
    assert.match(await text("#usage-status"), /has no limits on events: its events are not metered\.$/);
    assert.match(await text("#usage-list"), /Rate\s*none, burst none/);
  });

  // last: it adds events to the aggregate the steps above count
  it("retries all matching failed events from the failed list, each counted once", async () => {
    // GIVEN three more simulated failures of this test's client (the one before is retried)
    const countBefore = Number(await text("#agg-count"));
    // one event again, not the batch body of the step above (field edits keep its other keys)
    await page.fill("#raw", "{}");
    for (const [i, amount] of ["1.5", "2.5", "4"].entries()) {
      await compose({ amount, timestamp: minutesAgo(1), eventId: `bulk-${i}`, simulate: true });
      expectFailure(500, "/events");
      await send();
      assert.equal(await text("#send-status"), "500");
    }
    await uncheckSimulate();
    await type("#e-client_id", client);
    await page.click("#events-filter button[type=submit]");
    await page.waitForFunction(() => document.querySelectorAll("#failed-panel tr[data-status=failed]").length === 3);

    // WHEN "Retry all matching" is pressed
    await page.click("#replay-all");
    await page.waitForSelector("#replay-summary");

    // THEN the count and every record's outcome are shown: the three are processed now
    assert.match(await text("#replay-summary"), /^3 matching failed or rejected events: 3 processed, 0 duplicate, 0 failed, 0 skipped, 0 unavailable\.$/);
    assert.equal(await page.locator("#replay-results tr[data-status=processed]").count(), 3);
    const hashes = await page.$$eval("#replay-results tr[data-status=processed] code.hash-short", (codes) => codes.map((c) => c.title));
    assert.equal(new Set(hashes).size, 3);
    for (const hash of hashes) assert.match(hash, /^[0-9a-f]{64}$/);
    await page.locator("#replay-result").screenshot({ path: `${ARTIFACTS}dashboard-replay.png` });
    // counted once each: three more events, 8 more in total; no failed record is left
    await waitText("#agg-count", String(countBefore + 3));
    await page.waitForFunction(() => document.querySelectorAll("#failed-panel tr[data-status=failed]").length === 0);

    // AND pressed again, nothing is left to retry: nothing counts twice
    await page.click("#replay-all");
    await page.waitForFunction(() => document.querySelector("#replay-summary")?.dataset.total === "0");
    assert.match(await text("#replay-summary"), /^0 matching failed or rejected events: 0 processed/);
    assert.equal(await page.locator("#replay-results").count(), 0);
    await page.click("#agg-form button[type=submit]");
    await waitText("#agg-count", String(countBefore + 3));
  });
});

async function uncheckSimulate() {
  if (await page.isChecked("#f-simulate")) await page.click("#f-simulate");
}

// Sending from a web page of another origin, as a browser does it, against a running stack
// (BASE_URL; INGEST_KEY: a key with only the `ingest` scope; API_KEY: a full key of the same
// tenant, to check what arrived; ALLOWED_ORIGIN: an origin of the stack's ALLOWED_ORIGINS).
// A page served from that second local origin POSTs /events with the ingest-only key: CORS
// lets it through and the event arrives exactly once; the same page's read with that key is
// refused (the browser blocks it, and the service answers 403 forbidden_scope); a page of an
// origin that is not allowed cannot send, and a preflight from it gets no CORS header.
// The JS sender of packages/event-core-js, loaded in such a page, tracks N events into
// localStorage (an invalid one is refused locally, never sent), the tab is closed before any
// flush (its page-hide keepalive request, which the browser may refuse), and a new tab of the
// same origin adopts and flushes the stored queue: the service counts exactly N.
//
// The pages are served by the browser itself (playwright's route.fulfill) under their origins,
// so nothing has to listen there (the sender's files come from disk under /pkg/); the routes
// are removed once the page is shown and has loaded its modules and WASM, so its requests to
// BASE_URL are real, preflights and CORS checks included.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import http from "node:http";
import { chromium } from "playwright-core";

const BASE_URL = (process.env.BASE_URL || "").replace(/\/+$/, "");
const API_KEY = process.env.API_KEY || "";
const INGEST_KEY = process.env.INGEST_KEY || "";
const ALLOWED_ORIGIN = process.env.ALLOWED_ORIGIN || "http://localhost:5173";
// the same port by another name: a different origin, which the stack does not allow
const OTHER_ORIGIN = ALLOWED_ORIGIN.replace("//localhost", "//127.0.0.1");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"];

if (!BASE_URL || !INGEST_KEY || !API_KEY) {
  throw new Error("BASE_URL, API_KEY and INGEST_KEY must be set: run tests/browser/run.sh");
}
assert.notEqual(OTHER_ORIGIN, ALLOWED_ORIGIN, "ALLOWED_ORIGIN must be an http://localhost:PORT origin");

const client = `browser-cors-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
const PAGE = "<!doctype html><meta charset=utf-8><title>an app of another origin</title><p>app</p>";

// The JS sender (packages/event-core-js), served under the page's origin at /pkg/ as the
// package's README says (web.js, sender.js and pkg/ side by side). The page loads it and the
// WASM core before its routes are removed (window.ready), and sends only after.
const PACKAGE = new URL("../../packages/event-core-js/", import.meta.url);
const PACKAGE_FILES = { "web.js": "text/javascript", "sender.js": "text/javascript",
  "pkg/event_core.js": "text/javascript", "pkg/event_core_bg.wasm": "application/wasm" };
const SENDER_PAGE = `<!doctype html><meta charset=utf-8><title>an app with the sender</title>
<script type="module">
  import init, { createSender } from "/pkg/web.js";
  window.ready = init().then(() => { window.createSender = createSender; return "loaded"; });
</script><p>app</p>`;

let browser;
let context;

/**
 * A tab showing a page served from `origin` (`html`; `setup(page)` adds routes, which take
 * precedence). Whatever the page loads by itself (its modules, `window.ready`) comes while
 * the routes are set; its later requests are real.
 */
async function pageAt(origin, { html = PAGE, setup } = {}) {
  const page = await context.newPage();
  await page.route(`${origin}/**`, (route) =>
    route.fulfill({ status: 200, contentType: "text/html", body: html }));
  await setup?.(page);
  await page.goto(`${origin}/app.html`);
  await page.evaluate(() => window.ready);
  // While a route is set, playwright intercepts every request of the page and answers CORS
  // preflights itself (permissively): without routes, Chromium sends the real preflight.
  await page.unrouteAll();
  return page;
}

/** Serves the sender's files under `${ALLOWED_ORIGIN}/pkg/`, from disk. */
function servePackage(page) {
  return page.route(`${ALLOWED_ORIGIN}/pkg/**`, async (route) => {
    const file = new URL(route.request().url()).pathname.slice("/pkg/".length);
    const contentType = PACKAGE_FILES[file];
    if (!contentType) return route.fulfill({ status: 404, contentType: "text/plain", body: file });
    return route.fulfill({ status: 200, contentType, body: await readFile(new URL(file, PACKAGE)) });
  });
}

/** fetch() run inside `page`: { status, body } or { error } when the browser blocked it. */
function fetchIn(page, url, init) {
  return page.evaluate(async ([url, init]) => {
    try {
      const response = await fetch(url, init);
      return { status: response.status, body: await response.json() };
    } catch (error) {
      return { error: String(error) };
    }
  }, [url, init]);
}

/** A request from Node (no browser rules): { status, headers, body }. */
function request(method, path, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${BASE_URL}${path}`, { method, headers }, (res) => {
      let text = "";
      res.on("data", (chunk) => { text += chunk; });
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

function event(n, clientId = client) {
  return { client_id: clientId, source: "web", event_id: `e-${n}`,
    payload: { metric: "click", amount: "1", timestamp: "2026-11-20T10:00:00Z" } };
}

/** GET `path` with the full key: the parsed body of a 200. */
async function read(path) {
  const response = await request("GET", path, { "x-api-key": API_KEY });
  assert.equal(response.status, 200, response.body);
  return JSON.parse(response.body);
}

before(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  context = await browser.newContext();
  // A page served by route.fulfill has no address, so Chromium counts it as public and asks
  // the user before it reaches a loopback address (Local Network Access); a real page on
  // localhost, or one calling the deployed API, is never asked. Granted, as a user would:
  // CORS, the subject here, is still checked on every request.
  await context.grantPermissions(["local-network-access"]);
});

after(async () => {
  await browser?.close();
});

describe("a page of an allowed origin with an ingest-only key", () => {
  it("sends events (CORS lets them through) and each arrives exactly once", async () => {
    const page = await pageAt(ALLOWED_ORIGIN);
    const init = (n) => ({ method: "POST", body: JSON.stringify(event(n)),
      headers: { "content-type": "application/json", "x-api-key": INGEST_KEY } });
    const first = await fetchIn(page, `${BASE_URL}/events`, init(1));
    assert.equal(first.status, 201, JSON.stringify(first));
    const again = await fetchIn(page, `${BASE_URL}/events`, init(1));
    assert.equal(again.status, 200, "a resend is a duplicate");
    const batch = await fetchIn(page, `${BASE_URL}/events`, { ...init(0),
      body: JSON.stringify({ events: [event(2), event(3)] }) });
    assert.equal(batch.status, 200, JSON.stringify(batch));
    assert.deepEqual(batch.body.results.map((r) => r.status), ["processed", "processed"]);
    await page.close();

    const totals = await request("GET", `/aggregates?client_id=${client}`, { "x-api-key": API_KEY });
    assert.equal(totals.status, 200, totals.body);
    assert.equal(JSON.parse(totals.body).count, 3);
  });

  it("cannot read with that key: the browser blocks it and the service refuses it", async () => {
    const page = await pageAt(ALLOWED_ORIGIN);
    const read = await fetchIn(page, `${BASE_URL}/events/processed?client_id=${client}`,
      { headers: { "x-api-key": INGEST_KEY } });
    assert.ok(read.error, `the page read data: ${JSON.stringify(read)}`);
    await page.close();

    const direct = await request("GET", `/events/processed?client_id=${client}`,
      { "x-api-key": INGEST_KEY, origin: ALLOWED_ORIGIN });
    assert.equal(direct.status, 403);
    assert.equal(JSON.parse(direct.body).error.code, "forbidden_scope");
    assert.equal(direct.headers["access-control-allow-origin"], undefined);
  });

  // The JS sender: events tracked with localStorage, the tab closed before any flush (its
  // page-hide keepalive request is all it sends), then the same origin opened again: a new
  // sender adopts the stored queue and flushes it. Whatever the keepalive delivered (Chromium
  // may refuse a keepalive that needs a preflight) comes back `duplicate`: exactly N counted.
  it("the sender: tracks events, the tab closes mid-queue, every event arrives exactly once",
    { timeout: 20000 }, async (t) => {
      const N = 40;
      const senderClient = `${client}-sender`;
      const options = { url: BASE_URL, key: INGEST_KEY, flushAt: 1000, flushIntervalMs: 600000 };
      const storageKey = `event-core-js ${BASE_URL}`;
      let tab = "first";
      const posts = []; // POST /events of the tabs: { tab, events }
      const onRequest = (request) => {
        if (request.method() === "POST" && request.url() === `${BASE_URL}/events`) {
          posts.push({ tab, events: request.postDataJSON()?.events?.length });
        }
      };
      context.on("request", onRequest);
      t.after(() => context.off("request", onRequest));

      const first = await pageAt(ALLOWED_ORIGIN, { html: SENDER_PAGE, setup: servePackage });
      const invalid = { ...event("bad", senderClient),
        payload: { metric: "click", amount: "1,5", timestamp: "2026-11-20T10:00:00Z" } };
      const tracked = await first.evaluate(([options, events, invalid]) => {
        window.sender = window.createSender({ ...options, storage: localStorage });
        const refused = window.sender.track(invalid);
        const queuedAfterRefusal = window.sender.queued;
        const ok = events.map((e) => window.sender.track(e)).filter((r) => r.ok).length;
        return { refused, queuedAfterRefusal, ok, queued: window.sender.queued };
      }, [options, Array.from({ length: N }, (_, n) => event(n, senderClient)), invalid]);
      assert.equal(tracked.refused.ok, false);
      assert.equal(tracked.refused.error.code, "invalid_amount", JSON.stringify(tracked.refused));
      assert.equal(tracked.refused.error.field, "payload.amount");
      assert.equal(tracked.queuedAfterRefusal, 0, "the invalid event was queued");
      assert.equal(tracked.ok, N);
      assert.equal(tracked.queued, N);
      // stored (once per turn of the event loop) and nothing sent yet: the tab closes mid-queue
      const stored = await first.evaluate((prefix) => Object.keys(localStorage)
        .filter((k) => k.startsWith(prefix))
        .reduce((sum, k) => sum + JSON.parse(localStorage.getItem(k)).length, 0), `${storageKey} `);
      assert.equal(stored, N);
      assert.deepEqual(posts, [], "the sender sent before the tab closed");

      const closed = new Promise((resolve) => first.once("close", resolve));
      await first.close({ runBeforeUnload: true }); // pagehide: the keepalive flush
      await closed;
      tab = "second";

      const second = await pageAt(ALLOWED_ORIGIN, { html: SENDER_PAGE, setup: servePackage });
      const resent = await second.evaluate(async ([options, prefix]) => {
        const sender = window.createSender({ ...options, storage: localStorage });
        const adopted = sender.queued;
        const outcomes = await sender.flush();
        sender.close();
        const statuses = {};
        for (const o of outcomes) statuses[o.status] = (statuses[o.status] || 0) + 1;
        const left = Object.keys(localStorage).filter((k) => k.startsWith(prefix)).length;
        return { adopted, statuses, queued: sender.queued, left };
      }, [options, `${storageKey} `]);
      await second.close();
      // (playwright does not report the closing tab's keepalive request here: the duplicates
      // tell what it delivered before the second tab's flush)
      t.diagnostic(`second tab: adopted ${resent.adopted}, outcomes ${JSON.stringify(resent.statuses)}` +
        ` (duplicates: delivered by the first tab's keepalive)`);
      // exactly once, none lost, by the service's own count; the invalid event never reached it
      const totals = await read(`/aggregates?client_id=${senderClient}`);
      assert.equal(totals.count, N, JSON.stringify(totals));
      assert.equal(Number(totals.total_amount), N);
      const failed = await read(`/events/failed?client_id=${senderClient}`);
      assert.deepEqual(failed.items, [], "the invalid event reached the service");
      // and by the sender's: the second tab adopted the stored queue, sent it once, kept nothing
      assert.deepEqual(posts.filter((p) => p.tab === "second"), [{ tab: "second", events: N }],
        "the second tab sends one batch");
      assert.equal(resent.adopted, N, "the stored queue was not adopted whole");
      assert.equal((resent.statuses.accepted || 0) + (resent.statuses.duplicate || 0), N,
        JSON.stringify(resent.statuses));
      assert.equal(resent.queued, 0);
      assert.equal(resent.left, 0, "events left in storage after the flush");
    });
});

describe("a page of an origin that is not allowed", () => {
  it("cannot send, and its preflight gets no CORS header", async () => {
    const page = await pageAt(OTHER_ORIGIN);
    const sent = await fetchIn(page, `${BASE_URL}/events`, { method: "POST",
      body: JSON.stringify(event(9)),
      headers: { "content-type": "application/json", "x-api-key": INGEST_KEY } });
    assert.ok(sent.error, `the page sent: ${JSON.stringify(sent)}`);
    await page.close();

    const preflight = await request("OPTIONS", "/events", { origin: OTHER_ORIGIN,
      "access-control-request-method": "POST", "access-control-request-headers": "content-type,x-api-key" });
    const cors = Object.keys(preflight.headers).filter((name) => name.startsWith("access-control-"));
    assert.deepEqual(cors, [], JSON.stringify(preflight.headers));

    const totals = await request("GET", `/aggregates?client_id=${client}`, { "x-api-key": API_KEY });
    assert.equal(JSON.parse(totals.body).count, 3, "nothing arrived from that page");
  });
});

// The two builds (crates/haven_core/src/shell.rs): a parent's phone loads only
// the reader; a link to a staff page loads the full app, which the device then
// keeps offline; staff stay in the full app once there.
import assert from "node:assert/strict";
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  distDir,
  eventually,
  freePort,
  launchBrowser,
  scratchDir,
  serverAndBrowser,
  startServer,
  waitForServiceWorker,
} from "./support.mjs";

/** Every URL path the page's context fetches from the server, as it happens. */
function recordRequests(context, base) {
  const paths = [];
  context.on("request", (r) => {
    if (r.url().startsWith(base)) paths.push(new URL(r.url()).pathname);
  });
  return paths;
}

/** Whether the app's service worker cache holds `path`. */
const cached = (page, path) => page.evaluate((p) => caches.match(p).then(Boolean), path);

test("a parent's phone loads only the reader; staff pages bring the full app, kept offline", async (t) => {
  const { server, browser } = await serverAndBrowser(t);
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const requests = recordRequests(context, server.base);
  const page = await context.newPage();

  // A parent opens a policy and reads it: nothing of the full app is fetched.
  await page.goto(`${server.base}/policies`);
  await page.getByTestId("policy-link").first().waitFor();
  await waitForServiceWorker(page);
  await page.evaluate(() => (window.__sameDocument = true));
  await page.getByTestId("policy-link").first().click();
  await page.getByTestId("policy-title").waitFor();
  assert.equal(await page.evaluate(() => window.__sameDocument), true, "the reader's own links stay in the page");
  assert.ok(requests.some((p) => /^\/haven_reader-[0-9a-f]+_bg\.wasm$/.test(p)), requests.join("\n"));
  assert.deepEqual(requests.filter((p) => p.startsWith("/app/")), [], "the full app was fetched");
  assert.equal(await cached(page, "/"), true);
  assert.equal(await cached(page, "/app/"), false, "the phone keeps only the reader");

  // "Sign in" is a page of the full app: a fresh load brings it.
  await page.getByRole("link", { name: "Sign in" }).click();
  await page.getByLabel("Email address").waitFor();
  assert.equal(new URL(page.url()).pathname, "/signin");
  assert.equal(await page.evaluate(() => window.__sameDocument), undefined, "a new document was loaded");
  assert.ok(requests.some((p) => /^\/app\/haven-[0-9a-f]+_bg\.wasm$/.test(p)), requests.join("\n"));
  // ... and the device keeps it from now on.
  await eventually(() => cached(page, "/app/"), 30_000, "the full app to be cached");
  await waitForServiceWorker(page);

  // In the full app, reader pages stay in the same document.
  await page.evaluate(() => (window.__sameDocument = true));
  await page.getByRole("link", { name: "Policies" }).click();
  await page.getByTestId("policy-link").first().waitFor();
  assert.equal(await page.evaluate(() => window.__sameDocument), true, "staff stay in the full app");

  // Offline, both builds start from the cache.
  await context.setOffline(true);
  await page.goto(`${server.base}/admin`);
  await page.getByRole("heading", { level: 1 }).waitFor();
  assert.match(await page.locator("script[type=module]").first().textContent(), /\/app\/haven-/);
  await page.goto(`${server.base}/policies`);
  await page.getByTestId("policy-link").first().waitFor();
  assert.match(await page.locator("script[type=module]").first().textContent(), /\/haven_reader-/);
});

test("offline, a staff page the phone never opened says so instead of failing", async (t) => {
  const { server, browser } = await serverAndBrowser(t);
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(server.base);
  await waitForServiceWorker(page);
  await context.setOffline(true);
  await page.goto(`${server.base}/signin`);
  await page.getByRole("heading", { name: "This page is not on this device yet" }).waitFor();
  // Its link home works offline, back into the reader.
  await page.getByRole("link", { name: "Go to the home page" }).click();
  await page.locator("[data-testid=signed-in-as], .site-header").first().waitFor();
  assert.match(await page.locator("script[type=module]").first().textContent(), /\/haven_reader-/);
});

test("a site built with the reader alone shows 'not found' for a staff page, once, without reloading", async (t) => {
  const scratch = scratchDir();
  const staticDir = join(scratch.dir, "dist");
  cpSync(distDir, staticDir, { recursive: true });
  rmSync(join(staticDir, "app"), { recursive: true });
  const port = await freePort();
  const server = await startServer({ port, database: join(scratch.dir, "haven.sqlite3"), staticDir });
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await server.stop();
    scratch.cleanup();
  });
  const page = await browser.newPage();
  let loads = 0;
  page.on("load", () => loads++);
  await page.goto(`${server.base}/admin`);
  await page.getByRole("heading", { name: "Page not found" }).waitFor();
  // Long enough for a reload loop to show itself.
  await page.waitForTimeout(1500);
  assert.equal(loads, 1, "the page reloaded itself");
  assert.equal(new URL(page.url()).pathname, "/admin");
});

test("a new deploy keeps the full app on a device that had it, and only the reader on one that did not", async (t) => {
  const scratch = scratchDir();
  const staticDir = join(scratch.dir, "dist");
  cpSync(distDir, staticDir, { recursive: true });
  const port = await freePort();
  const server = await startServer({ port, database: join(scratch.dir, "haven.sqlite3"), staticDir });
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await server.stop();
    scratch.cleanup();
  });
  const staff = await (await browser.newContext()).newPage();
  await staff.goto(`${server.base}/signin`);
  await waitForServiceWorker(staff);
  const parent = await (await browser.newContext()).newPage();
  await parent.goto(`${server.base}/policies`);
  await waitForServiceWorker(parent);

  // A new build: the worker's version changes.
  const sw = join(staticDir, "sw.js");
  const before = readFileSync(sw, "utf8");
  const after = before.replace(/const VERSION = "([0-9a-f]+)";/, 'const VERSION = "$1-next";');
  assert.notEqual(after, before, "sw.js carries a stamped VERSION");
  writeFileSync(sw, after);

  // Each device is on a reader page when the new worker arrives.
  await staff.goto(`${server.base}/policies`);
  const caches = async (page) =>
    page.evaluate(async () => {
      const registration = await navigator.serviceWorker.getRegistration();
      await registration.update();
      for (;;) {
        const keys = await caches.keys();
        if (keys.length === 1 && keys[0].endsWith("-next")) {
          const cache = await caches.open(keys[0]);
          return { reader: Boolean(await cache.match("/")), full: Boolean(await cache.match("/app/")) };
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    });
  assert.deepEqual(await caches(staff), { reader: true, full: true }, "the staff device keeps the full app");
  assert.deepEqual(await caches(parent), { reader: true, full: false }, "the phone still has only the reader");
});

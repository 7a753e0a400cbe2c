// A phone with a network but no school server (a captive portal, the
// server down, DNS failing): sync backs off, whatever keeps nudging it, and
// says which of the two is wrong.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { eventually, freePort, launchBrowser, scratchDir, sleep, startServer, waitForServiceWorker } from "./support.mjs";

const WINDOW_MS = 30_000;

test("with the network up and the server unreachable, sync backs off whatever nudges it", async (t) => {
  const scratch = scratchDir();
  const port = await freePort();
  const server = await startServer({ port, database: join(scratch.dir, "haven.sqlite3") });
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await server.stop();
    scratch.cleanup();
  });
  const page = await browser.newPage();
  await page.goto(`${server.base}/policies`);
  await waitForServiceWorker(page);
  await page.getByTestId("policy-link").first().waitFor();
  await eventually(async () => (await page.getByTestId("connection").textContent()) === "Online", 15_000, "online");

  // The server goes; the browser's network stays (navigator.onLine is true).
  await server.kill();
  const requests = [];
  page.on("request", (r) => {
    if (r.url().includes("/api/")) requests.push(Date.now());
  });
  // What happens on a phone: the page is shown again and again, and
  // Chromium relays Background Sync events, each a nudge to sync.
  const started = Date.now();
  while (Date.now() - started < WINDOW_MS) {
    await page.evaluate(() => {
      document.dispatchEvent(new Event("visibilitychange"));
      // As the service worker relays a Background Sync event.
      navigator.serviceWorker.dispatchEvent(new MessageEvent("message", { data: { type: "haven-sync" } }));
    });
    await sleep(250);
  }
  const perSecond = requests.length / (WINDOW_MS / 1000);
  console.log(`# ${requests.length} API requests in ${WINDOW_MS / 1000} s (${perSecond.toFixed(2)}/s)`);
  // Backing off from half a second and doubling: about eight tries in 30 s
  // (a pull each). Before, every nudge reset the backoff: 100-160 a second.
  assert.ok(requests.length <= 12, `${requests.length} requests in 30 s`);
  assert.ok(requests.length >= 3, "it does keep trying");
  assert.equal(await page.getByTestId("connection").textContent(), "Cannot reach the school");
  const tags = await page.evaluate(async () => (await (await navigator.serviceWorker.ready).sync?.getTags())?.join(",") ?? "");
  assert.doesNotMatch(tags, /haven-sync/, "no Background Sync registered while the browser is online");
});

// After a failed sync the app asks for Background Sync, and the service
// worker relays the browser's sync event to the open page.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { eventually, freePort, launchBrowser, scratchDir, startServer, waitForServiceWorker } from "./support.mjs";

test("a failed sync registers Background Sync and the worker wakes the page", async (t) => {
  const scratch = scratchDir();
  const port = await freePort();
  const database = join(scratch.dir, "haven.sqlite3");
  const server = await startServer({ port, database });
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await server.stop();
    scratch.cleanup();
  });
  const page = await browser.newPage();
  const cdp = await page.context().newCDPSession(page);
  const registrations = [];
  cdp.on("ServiceWorker.workerRegistrationUpdated", (e) => registrations.push(...e.registrations));
  await cdp.send("ServiceWorker.enable");

  await page.goto(`${server.base}/policies`);
  await waitForServiceWorker(page);
  await page.getByTestId("policy-link").first().waitFor();
  // The device loses its connection (not just the server): only then is a
  // sync registration useful, as the browser fires it when the connection returns.
  await page.context().setOffline(true);
  await page.getByRole("link", { name: "Sync status" }).or(page.getByTestId("pending")).first().click();
  await page.getByRole("button", { name: "Sync now" }).click();
  await eventually(async () => (await page.getByTestId("connection").textContent()) === "Offline", 15_000, "offline");

  const tags = await eventually(
    () => page.evaluate(async () => (await (await navigator.serviceWorker.ready).sync.getTags()).join(",")),
    10_000,
    "a sync registration",
  );
  assert.match(tags, /haven-sync/);

  await page.evaluate(() => {
    navigator.serviceWorker.addEventListener("message", (e) => (window.__relayed = e.data && e.data.type));
  });
  await page.context().setOffline(false);
  const registration = registrations.find((r) => r.scopeURL.startsWith(server.base) && !r.isDeleted);
  assert.ok(registration, "the service worker is registered");
  await cdp.send("ServiceWorker.dispatchSyncEvent", {
    origin: server.base,
    registrationId: registration.registrationId,
    tag: "haven-sync",
    lastChance: false,
  });
  await page.waitForFunction(() => window.__relayed === "haven-sync", null, { timeout: 10_000 });
});

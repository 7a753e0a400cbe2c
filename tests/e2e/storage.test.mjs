// Storage that lasts (issue 18, part 5): the sync page says whether the
// browser keeps Haven's storage, "unknown" where navigator.storage is absent
// (as in WebKitGTK); a person with unsent records on storage that is not
// persistent is told, on the sync page and beside the header's sync badge;
// enrolled kiosks and tablets are shown how to install Haven, with Add to
// Home Screen steps on an iPad.
import assert from "node:assert/strict";
import { test } from "node:test";
import { enrolDevice, eventually, getJson, serverAndBrowser } from "./support.mjs";

/** A page whose browser answers `persisted()` with `answer` (or has no navigator.storage at all). */
async function pageWithStorage(browser, answer, contextOptions = {}) {
  const context = await browser.newContext(contextOptions);
  await context.addInitScript((answer) => {
    if (answer === "absent") {
      Object.defineProperty(Navigator.prototype, "storage", { get: () => undefined, configurable: true });
      return;
    }
    const storage = navigator.storage;
    storage.persisted = () => Promise.resolve(answer);
    storage.persist = () => Promise.resolve(answer);
  }, answer);
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  return { page, errors };
}

/** Signs the visitor agreement on this browser, which has no credential: the record waits. */
async function signAndLeaveWaiting(page, base) {
  const visitor = (await getJson(`${base}/api/v1/policies`)).find((p) => p.kind === "visitor_aua");
  await page.goto(`${base}/policies`);
  await page.getByTestId("policy-link").first().waitFor();
  await page.goto(`${base}/sign/${visitor.id}`);
  await page.getByLabel("Your full name").fill("Vera Visitor");
  await page.getByLabel(/I cannot draw a signature/).check();
  await page.getByLabel(/I have read/).check();
  await page.getByRole("button", { name: "Sign", exact: true }).click();
  await page.getByTestId("signed").waitFor();
  await eventually(async () => (await page.getByTestId("pending").getAttribute("data-count")) === "1", 10_000, "one record waiting");
}

test("the sync page says storage is kept, and warns of nothing, when the browser persists it", async (t) => {
  const { server, browser } = await serverAndBrowser(t);
  const { page, errors } = await pageWithStorage(browser, true);
  await signAndLeaveWaiting(page, server.base);
  await page.goto(`${server.base}/sync`);
  const storage = page.getByTestId("status-storage");
  await storage.and(page.locator("[data-state=persistent]")).waitFor();
  assert.match(await storage.textContent(), /^Kept: this browser has promised not to clear/);
  assert.equal(await page.getByTestId("storage-risk").count(), 0);
  assert.equal(await page.getByTestId("storage-risk-badge").count(), 0);
  assert.deepEqual(errors, []);
});

test("unsent records on storage that is not persistent are flagged on the sync page and in the header", async (t) => {
  const { server, browser } = await serverAndBrowser(t);
  const { page, errors } = await pageWithStorage(browser, false);
  // Nothing waiting: no warning, only the state.
  await page.goto(`${server.base}/sync`);
  await page.getByTestId("status-storage").and(page.locator("[data-state=not-persistent]")).waitFor();
  assert.equal(await page.getByTestId("storage-risk").count(), 0);

  await signAndLeaveWaiting(page, server.base);
  await page.getByTestId("storage-risk-badge").waitFor();
  await page.getByTestId("storage-risk-badge").click();
  await page.getByTestId("storage-risk").waitFor();
  const notice = await page.getByTestId("storage-risk").textContent();
  assert.match(notice, /1 change on this device has not reached the school yet/);
  assert.match(notice, /seven days without use/);
  assert.match(await page.getByTestId("status-storage").textContent(), /^Not guaranteed/);
  // The browser can be asked again from there.
  await page.getByTestId("ask-persist").click();
  assert.deepEqual(errors, []);
});

test("with no navigator.storage at all the sync page says unknown, and the app still works", async (t) => {
  const { server, browser } = await serverAndBrowser(t);
  const { page, errors } = await pageWithStorage(browser, "absent");
  await signAndLeaveWaiting(page, server.base);
  await page.goto(`${server.base}/sync`);
  const storage = page.getByTestId("status-storage");
  await storage.and(page.locator("[data-state=unknown]")).waitFor();
  assert.match(await storage.textContent(), /^Unknown: this browser does not say/);
  assert.equal(await page.getByTestId("storage-risk").count(), 0, "no warning on a guess");
  assert.deepEqual(errors, []);
});

test("an iPad is shown how to add Haven to the Home Screen before and after it is enrolled", async (t) => {
  const { server, browser } = await serverAndBrowser(t);
  const { page, errors } = await pageWithStorage(browser, false, {
    userAgent:
      "Mozilla/5.0 (iPad; CPU OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1",
    viewport: { width: 820, height: 1180 },
    hasTouch: true,
  });
  await page.goto(`${server.base}/enrol`);
  const help = page.getByTestId("install-help");
  await help.getByTestId("install-steps-apple").waitFor();
  assert.match(await help.textContent(), /Add to Home Screen/);
  assert.match(await help.textContent(), /add Haven first, then open it from the icon and enrol it there/);

  await enrolDevice(page, server.base);
  await help.getByTestId("install-steps-apple").waitFor();
  assert.match(await help.textContent(), /enrol it again there with a new code/);
  assert.match(await help.getByTestId("install-storage").textContent(), /Not guaranteed/);
  assert.deepEqual(errors, []);
});

test("an enrolled kiosk elsewhere is told how to install Haven", async (t) => {
  const { server, browser } = await serverAndBrowser(t);
  const { page, errors } = await pageWithStorage(browser, false);
  await page.goto(`${server.base}/policies`);
  await enrolDevice(page, server.base);
  const help = page.getByTestId("install-help");
  await help.waitFor();
  assert.equal(await help.getByTestId("install-steps-apple").count(), 0);
  assert.match(await help.textContent(), /Install app|Add to Home screen/);
  assert.deepEqual(errors, []);
});

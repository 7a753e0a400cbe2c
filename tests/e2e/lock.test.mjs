// A shared staff tablet: PIN unlock with no network, the wipe after five
// wrong PINs (and recovery by signing in online), the idle lock, and switching
// user without seeing the previous person's drafts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { enrolDevice, serverAndBrowser, signIn, STAFF, waitForServiceWorker } from "./support.mjs";

const NOTE = "Year 4 pupil said an older child sent them a link last night";

async function openDrafts(page) {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "My drafts" }).click();
  await page.getByLabel("Private note").waitFor();
}

async function unlockAs(page, name, pin) {
  await page.getByRole("button", { name }).click();
  await page.getByLabel(`PIN for ${name}`).fill(pin);
  await page.getByRole("button", { name: "Unlock" }).click();
}

test("a shared tablet unlocks offline by PIN, wipes after five wrong PINs, and keeps each person's drafts to them", async (t) => {
  const { server, browser } = await serverAndBrowser(t);
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.base}/policies`);
  await waitForServiceWorker(page);
  await enrolDevice(page, server.base, { kind: "shared_tablet", label: "Year 4 tablet" });

  // The teacher signs in online once, chooses a PIN and writes a draft.
  await signIn(page, server.base, STAFF.teacher, { pin: "402913" });
  // Staff pages are the full app: offline later, it must be cached.
  await waitForServiceWorker(page);
  await openDrafts(page);
  await page.getByLabel("Private note").fill(NOTE);
  await page.getByTestId("draft-status").filter({ hasText: "Saved on this device" }).waitFor();
  await page.getByTestId("draft-list").filter({ hasText: NOTE }).waitFor();
  // Stored encrypted: the words are nowhere in IndexedDB.
  const raw = await page.evaluate(async () => {
    const db = await new Promise((ok, no) => {
      const r = indexedDB.open("haven");
      r.onsuccess = () => ok(r.result);
      r.onerror = () => no(r.error);
    });
    const all = await new Promise((ok, no) => {
      const r = db.transaction("drafts").objectStore("drafts").getAll();
      r.onsuccess = () => ok(r.result);
      r.onerror = () => no(r.error);
    });
    return JSON.stringify(all, (k, v) => (v instanceof Uint8Array || v instanceof ArrayBuffer ? Array.from(new Uint8Array(v)) : v));
  });
  assert.ok(raw.length > 50, "a draft is stored");
  assert.ok(!raw.includes("older child"), "the draft is not stored in plaintext");

  // Switch user: the DSL signs in on the same tablet and sees none of it.
  await page.getByRole("link", { name: "Switch user" }).click();
  await page.getByRole("heading", { name: "Haven is locked" }).waitFor();
  assert.ok(!(await page.content()).includes("older child"), "nothing of the teacher's stays on screen");
  await page.getByRole("link", { name: "Sign in online instead" }).click();
  // The DSL can read incidents: a six-digit PIN is refused, with the reason.
  await page.goto(`${server.base}/signin`);
  await page.getByLabel("Email address").fill(STAFF.dsl.email);
  await page.getByLabel("Password").fill(STAFF.dsl.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Choose a PIN for this device" }).waitFor();
  await page.getByText("Use 10 digits or more").waitFor();
  await page.getByLabel("PIN", { exact: true }).fill("551177");
  await page.getByLabel("Type the PIN again").fill("551177");
  await page.getByRole("button", { name: "Save PIN" }).click();
  await page.locator("#pin-new-error").filter({ hasText: "at least 10 digits" }).waitFor();
  await page.getByLabel("PIN", { exact: true }).fill("5511772093");
  await page.getByLabel("Type the PIN again").fill("5511772093");
  await page.getByRole("button", { name: "Save PIN" }).click();
  await page.getByTestId("signed-in-as").waitFor();
  await openDrafts(page);
  await page.getByTestId("no-drafts").waitFor();
  assert.ok(!(await page.content()).includes("older child"), "the DSL does not see the teacher's draft");

  // The network goes; the tablet is reloaded; the teacher unlocks with their PIN.
  await server.stop();
  await context.setOffline(true);
  await page.reload();
  await page.getByRole("navigation", { name: "Main" }).waitFor();
  await page.getByRole("banner").getByRole("link", { name: "Unlock" }).click();
  await page.getByTestId("local-users").waitFor();
  await unlockAs(page, STAFF.teacher.name, "402913");
  await page.getByTestId("signed-in-as").filter({ hasText: STAFF.teacher.name }).waitFor();
  await openDrafts(page);
  await page.getByTestId("draft-list").filter({ hasText: NOTE }).waitFor();

  // Hide screen: locked at once, the draft gone from the page.
  await page.getByTestId("hide-screen").click();
  await page.getByRole("heading", { name: "Haven is locked" }).waitFor();
  assert.ok(!(await page.content()).includes("older child"));

  // Five wrong PINs wipe the teacher's key on this device.
  await page.getByRole("button", { name: STAFF.teacher.name }).click();
  for (const left of [4, 3, 2, 1]) {
    await page.getByLabel(`PIN for ${STAFF.teacher.name}`).fill("999999");
    await page.getByRole("button", { name: "Unlock" }).click();
    await page.getByTestId("unlock-error").filter({ hasText: `${left} ${left === 1 ? "try" : "tries"} left` }).waitFor();
  }
  await page.getByLabel(`PIN for ${STAFF.teacher.name}`).fill("999999");
  await page.getByRole("button", { name: "Unlock" }).click();
  await page.getByTestId("unlock-error").filter({ hasText: "Too many wrong PINs" }).waitFor();
  // The teacher can no longer be chosen; the DSL still can.
  await page.getByTestId("local-users").filter({ hasText: "sign in online to use Haven on this device again" }).waitFor();
  assert.equal(await page.getByRole("button", { name: STAFF.teacher.name }).count(), 0);
  await unlockAs(page, STAFF.dsl.name, "5511772093");
  await page.getByTestId("signed-in-as").filter({ hasText: STAFF.dsl.name }).waitFor();
});

test("an idle tablet locks itself after the trust's idle time", async (t) => {
  const { server, browser } = await serverAndBrowser(t);
  const context = await browser.newContext();
  const page = await context.newPage();
  // A controllable clock from the start, so five minutes pass in a moment.
  await page.clock.install();
  await page.goto(`${server.base}/policies`);
  await signIn(page, server.base, STAFF.teacher, { pin: "402913" });
  await openDrafts(page);
  await page.getByLabel("Private note").fill(NOTE);
  await page.getByTestId("draft-list").filter({ hasText: NOTE }).waitFor();

  // Four minutes idle: still unlocked.
  await page.clock.fastForward("04:00");
  await page.clock.runFor(6_000);
  assert.equal(await page.getByTestId("signed-in-as").count(), 1, "not locked before the idle time");
  // Past five minutes: locked, and the draft is gone from the screen.
  await page.clock.fastForward("01:30");
  await page.clock.runFor(6_000);
  await page.getByRole("link", { name: "Unlock" }).first().waitFor();
  // The header and the page update on their own ticks: wait for both.
  await page.getByTestId("signed-in-as").waitFor({ state: "detached" });
  assert.ok(!(await page.content()).includes("older child"), "the draft left the screen");
});

test("after a wipe, signing in online brings the person's drafts back", async (t) => {
  const { server, browser } = await serverAndBrowser(t);
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${server.base}/policies`);
  await signIn(page, server.base, STAFF.teacher, { pin: "402913" });
  await openDrafts(page);
  await page.getByLabel("Private note").fill(NOTE);
  await page.getByTestId("draft-list").filter({ hasText: NOTE }).waitFor();
  await page.getByTestId("hide-screen").click();
  await page.getByRole("button", { name: STAFF.teacher.name }).click();
  for (let i = 0; i < 5; i++) {
    await page.getByLabel(`PIN for ${STAFF.teacher.name}`).fill("111222");
    await page.getByRole("button", { name: "Unlock" }).click();
    await page.getByTestId("unlock-error").filter({ hasText: i < 4 ? "left" : "Too many" }).waitFor();
  }
  await page.getByRole("link", { name: "Sign in online instead" }).click();
  await signIn(page, server.base, STAFF.teacher, { pin: "402913" });
  await openDrafts(page);
  await page.getByTestId("draft-list").filter({ hasText: NOTE }).waitFor();
});

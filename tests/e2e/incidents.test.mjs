// Logging an e-safety incident on a classroom tablet with no network: the
// trust's guidance comes first (for a suspected illegal incident, the stop
// screen and no attachments), the incident waits on the device encrypted,
// and once online the DSL sees it, marked immediate, with nothing readable
// left on the tablet.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import {
  adminToken,
  axeViolations,
  enrolDevice,
  eventually,
  freePort,
  getJson,
  idbContents,
  launchBrowser,
  scratchDir,
  serverAndBrowser,
  signIn,
  STAFF,
  startServer,
  tabTo,
  waitForServiceWorker,
} from "./support.mjs";

const TABLET = { viewport: { width: 1024, height: 768 }, hasTouch: true };
const DESCRIPTION = "Pupil searched for and opened images that may be illegal on the library PC";

test("an illegal-type incident logged offline shows the stop screen, waits encrypted, and reaches the DSL marked immediate", async (t) => {
  const scratch = scratchDir();
  const port = await freePort();
  const database = join(scratch.dir, "haven.sqlite3");
  let server = await startServer({ port, database });
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await server.stop();
    scratch.cleanup();
  });
  const context = await browser.newContext(TABLET);
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${server.base}/policies`);
  await waitForServiceWorker(page);
  await enrolDevice(page, server.base, { kind: "shared_tablet", label: "Year 5 tablet" });
  await signIn(page, server.base, STAFF.teacher, { pin: "402913" });
  // Staff pages are the full app: offline later, it must be cached.
  await waitForServiceWorker(page);
  // The incident key and the rule tables are on the tablet after a sync.
  await eventually(
    async () => {
      // The reference store keeps the key and the rules under these names.
      const { reference } = await idbContents(page, ["reference"]);
      return reference.some((v) => v.spki) && reference.some((v) => v.tables);
    },
    30_000,
    "the incident key and rules on the tablet",
  );

  // The network goes: the server dies.
  await server.kill();
  // A reload locks Haven; the teacher unlocks with her PIN, offline.
  await page.goto(`${server.base}/unlock?next=/incidents/new`);
  await page.getByRole("button", { name: STAFF.teacher.name }).click();
  await page.getByLabel(`PIN for ${STAFF.teacher.name}`).fill("402913");
  await page.getByRole("button", { name: "Unlock" }).click();
  await page.getByRole("heading", { name: "Log an e-safety incident" }).waitFor();
  await page.getByLabel("A pupil, outside lessons").check();
  await page.getByLabel("Search").fill("illegal");
  await page.getByLabel(/could be illegal/).first().check();
  // Guidance first: the stop screen, and nothing else until it is read.
  const stop = page.getByTestId("stop-screen");
  await stop.waitFor();
  assert.match(await stop.textContent(), /do not take, print or save screenshots/);
  assert.equal(await page.getByLabel("What happened", { exact: true }).count(), 0, "details wait for the stop screen");
  await page.getByTestId("stop-understood").click();
  await page.getByLabel("Where?").fill("Library");
  await page.getByLabel("Pupil", { exact: true }).check();
  await page.getByLabel("Their name").fill("Sam Example");
  await page.getByLabel("What happened", { exact: true }).fill(DESCRIPTION);
  assert.equal(await page.getByTestId("attachments").count(), 0, "no attachments for suspected illegal material");
  // "Have you told the DSL in person?" must be answered.
  await page.getByRole("button", { name: "Submit incident" }).click();
  await page.locator("#error-summary").waitFor();
  assert.match(await page.locator("#error-summary").textContent(), /told the DSL in person/);
  await page.getByLabel("Yes", { exact: true }).check();
  for (const box of await page.locator("#actions-taken input[type=checkbox]").all()) await box.check();
  await page.getByRole("button", { name: "Submit incident" }).click();
  await page.getByTestId("incident-logged").waitFor();
  await page.getByTestId("incident-state").filter({ hasText: "Not yet received by the DSL" }).waitFor();

  // Signing out with it unsent warns first; "Cancel" keeps her signed in.
  const dialog = new Promise((resolve) =>
    page.once("dialog", async (d) => {
      resolve(d.message());
      await d.dismiss();
    }),
  );
  await page.getByRole("button", { name: "Sign out" }).click();
  assert.match(await dialog, /1 incident\(s\) you logged have not reached the DSL yet/);
  assert.equal(await page.getByTestId("signed-in-as").count(), 1, "still signed in after cancelling");

  // Nothing of it is readable in IndexedDB.
  const raw = JSON.stringify(await idbContents(page));
  assert.ok(raw.includes("illegal-material"), "the scan read the stores (the stub's type is there)");
  assert.ok(!raw.includes("Sam Example"), "the pupil's name is not stored readable");
  assert.ok(!raw.includes("library PC"), "the description is not stored readable");

  // Back online: the DSL sees it, marked immediate.
  server = await startServer({ port, database });
  await page.reload();
  const dsl = await adminToken(server.base, STAFF.dsl);
  const incidents = await eventually(
    async () => {
      const list = await getJson(`${server.base}/api/v1/incidents`, dsl);
      return list.length > 0 && list;
    },
    60_000,
    "the incident to reach the DSL",
  );
  assert.equal(incidents.length, 1);
  assert.equal(incidents[0].immediate, true);
  assert.equal(incidents[0].illegal, true);
  const detail = await getJson(`${server.base}/api/v1/incidents/${incidents[0].id}`, dsl);
  assert.equal(detail.record.description, DESCRIPTION);
  assert.equal(detail.record.told_dsl_in_person, true);
  // On the tablet, only the stub: received, with no readable or sealed copy.
  const stub = await eventually(
    async () => {
      const { incidents: all } = await idbContents(page, ["incidents"]);
      return all.length === 1 && all[0].sync.state === "synced" && all[0];
    },
    30_000,
    "the tablet to mark the incident received",
  );
  assert.equal(stub.author_copy ?? null, null, "the author's copy left the tablet");
  assert.equal(stub.incident_type, "illegal-material");
  assert.deepEqual(errors, [], "no uncaught errors in the page");
});

test("the incident pages pass axe, the guidance follows the choice, and the DSL follows an incident up", async (t) => {
  const { server, browser } = await serverAndBrowser(t);
  // axe is injected as a script, which the app's CSP would (rightly) refuse.
  const context = await browser.newContext({ ...TABLET, bypassCSP: true });
  const page = await context.newPage();
  const failures = [];
  const check = async (name) => {
    const violations = await axeViolations(page);
    if (violations.length) failures.push({ name, violations });
  };
  await page.goto(`${server.base}/policies`);
  await signIn(page, server.base, STAFF.teacher, { pin: "402913" });
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Incidents" }).click();
  await page.getByRole("heading", { name: "My incidents" }).waitFor();
  await check("my incidents (empty)");
  await page.getByRole("link", { name: "Log an incident" }).click();
  await page.getByLabel("A pupil, in a lesson").waitFor({ timeout: 30_000 });
  await check("incident form");
  await page.getByLabel("A pupil, in a lesson").check();
  // A rule-breaking but legal choice: the guidance, then the details.
  await page.getByLabel("Search").fill("proxy");
  await page.getByTestId("incident-types").getByRole("radio").first().check();
  await page.getByTestId("guidance").waitFor();
  assert.ok((await page.getByTestId("referrals").locator("li").count()) > 0, "referrals are listed");
  assert.ok((await page.getByTestId("route").count()) > 0, "reporting routes are listed");
  assert.equal(await page.getByTestId("stop-screen").count(), 0);
  await page.getByTestId("attachments").waitFor();
  await page.getByRole("button", { name: "Submit incident" }).click();
  await page.locator("#error-summary").waitFor();
  await check("incident form with guidance and errors");
  // Choosing an illegal type instead brings the stop screen.
  await page.getByLabel("Search").fill("illegal");
  await page.getByTestId("incident-types").getByRole("radio").first().check();
  await page.getByTestId("stop-screen").waitFor();
  assert.equal(await page.getByTestId("attachments").count(), 0);
  await check("stop screen");
  // Back to the proxy incident, completed and submitted.
  await page.getByLabel("Search").fill("proxy");
  await page.getByTestId("incident-types").getByRole("radio").first().check();
  await page.getByLabel("Where?").fill("ICT suite");
  await page.getByLabel("Pupil", { exact: true }).check();
  await page.getByLabel("Their name").fill("Robin Example");
  await page.getByTestId("add-person").click();
  await page.locator("#person2-pupil").check();
  await page.getByLabel("Person 2: name").fill("Alex Example");
  await page.getByLabel("Person 2: class or year").fill("6B");
  await page.getByLabel("What happened", { exact: true }).fill("Used a proxy site to reach a game");
  for (const box of await page.locator("#actions-taken input[type=checkbox]").all()) await box.check();
  const told = page.getByLabel("Yes", { exact: true });
  if (await told.count()) await told.check();
  await page.getByRole("button", { name: "Submit incident" }).click();
  await page.getByTestId("incident-logged").waitFor();
  await page.getByTestId("incident-state").filter({ hasText: "Received" }).waitFor({ timeout: 30_000 });
  await check("my incidents");

  // The DSL's log, the incident, a follow-up and the report.
  await signIn(page, server.base, STAFF.dsl, { pin: "5511772093" });
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" }).click();
  await page.getByRole("link", { name: "Incident log" }).click();
  await page.getByTestId("incident-row").first().waitFor();
  await check("incident log");
  await page.getByTestId("incident-row").first().getByRole("link").click();
  await page.getByTestId("incident-detail").waitFor();
  assert.match(await page.getByTestId("incident-detail").textContent(), /Robin Example \(Pupil\); Alex Example \(Pupil, 6B\)/);
  await check("incident detail");
  await page.getByLabel("What").selectOption("acknowledged");
  await page.getByRole("button", { name: "Add" }).click();
  await page.getByTestId("incident-status").filter({ hasText: "Acknowledged" }).waitFor();
  assert.match(await page.getByTestId("chronology").textContent(), /Status: Acknowledged/);
  await page.getByRole("link", { name: "Back to the incident log" }).click();
  await page.getByRole("link", { name: "Reports" }).click();
  await page.getByTestId("report-total").filter({ hasText: "1 incidents" }).waitFor();
  assert.ok(!(await page.content()).includes("Robin Example"), "the report names no one");
  assert.match(await page.locator("figure").filter({ hasText: "By term" }).textContent(), /(Autumn|Spring|Summer) 20\d\d/);
  await check("incident report");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" }).click();
  await page.getByRole("link", { name: "Incident log" }).click();
  await page.getByRole("link", { name: "One person's incidents" }).click();
  await page.getByLabel("Full name").fill("Robin Example");
  await page.getByRole("button", { name: "Find" }).click();
  await page.getByRole("button", { name: "Print" }).waitFor();
  await check("one person's incidents");
  assert.deepEqual(failures, [], JSON.stringify(failures, null, 2));
});

test("a teacher logs an incident with the keyboard alone", async (t) => {
  const { server, browser } = await serverAndBrowser(t);
  const page = await (await browser.newContext(TABLET)).newPage();
  await page.goto(`${server.base}/policies`);
  await signIn(page, server.base, STAFF.teacher);
  // From the menu to the form: links are followed with Enter.
  await tabTo(page, "a[href='/incidents']");
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "My incidents" }).waitFor();
  await tabTo(page, "a[href='/incidents/new']");
  await page.keyboard.press("Enter");
  // The form appears once the trust's rule tables are read from the device.
  await page.locator("input[name=involved]").first().waitFor({ timeout: 30_000 });
  // Radios: Tab reaches a group, Space chooses.
  await tabTo(page, "input[name=involved]");
  await page.keyboard.press("Space");
  await tabTo(page, "#type-search");
  await page.keyboard.type("proxy");
  await tabTo(page, "input[name=incident-type]");
  await page.keyboard.press("Space");
  await page.getByTestId("guidance").waitFor();
  await tabTo(page, "#location");
  await page.keyboard.type("ICT suite");
  await tabTo(page, "input[name=person-kind]");
  await page.keyboard.press("Space");
  await tabTo(page, "#person-name");
  await page.keyboard.type("Robin Example");
  await tabTo(page, "#description");
  await page.keyboard.type("Used a proxy site to reach a game");
  // Every recommended action done, each ticked with Space.
  const unticked = "#actions-taken input[type=checkbox]:not(:checked)";
  while (await page.locator(unticked).count()) {
    await tabTo(page, unticked);
    await page.keyboard.press("Space");
  }
  if (await page.locator("#told-dsl-yes").count()) {
    await tabTo(page, "#told-dsl-yes");
    await page.keyboard.press("Space");
  }
  await tabTo(page, "button[type=submit]");
  await page.keyboard.press("Enter");
  await page.getByTestId("incident-logged").waitFor();
  await page.getByTestId("incident-state").filter({ hasText: "Received" }).waitFor({ timeout: 30_000 });
  const dsl = await adminToken(server.base, STAFF.dsl);
  const [incident] = await getJson(`${server.base}/api/v1/incidents`, dsl);
  const detail = await getJson(`${server.base}/api/v1/incidents/${incident.id}`, dsl);
  assert.equal(detail.record.description, "Used a proxy site to reach a game");
  assert.equal(detail.record.location, "ICT suite");
});

test("a form opened before the incident key arrives appears once a sync brings it", async (t) => {
  const { server, browser } = await serverAndBrowser(t);
  const page = await (await browser.newContext(TABLET)).newPage();
  // The tablet has not got the key yet, as on a device that opens the form
  // straight after its first sign-in: the network holds it back from the
  // start (held from after sign-in, a sync already under way could still
  // store it first), and it is not in IndexedDB.
  let release;
  const held = new Promise((ok) => (release = ok));
  await page.route("**/api/v1/incidents/key", async (route) => {
    await held;
    await route.continue();
  });
  await page.goto(`${server.base}/policies`);
  await signIn(page, server.base, STAFF.teacher);
  await page.locator("a[href='/incidents']").first().waitFor();
  await page.evaluate(async () => {
    const db = await new Promise((ok, no) => {
      const r = indexedDB.open("haven");
      r.onsuccess = () => ok(r.result);
      r.onerror = () => no(r.error);
    });
    await new Promise((ok, no) => {
      const tx = db.transaction("reference", "readwrite");
      tx.objectStore("reference").delete("incident_key");
      tx.oncomplete = ok;
      tx.onerror = () => no(tx.error);
    });
    db.close();
  });
  await page.locator("a[href='/incidents']").first().click();
  await page.locator("a[href='/incidents/new']").first().click();
  await page.getByText("has not yet downloaded the trust's incident rules").waitFor();
  // The network lets the key through and a sync runs: the form replaces the
  // notice without anyone reloading.
  release();
  await page.evaluate(() => window.dispatchEvent(new Event("online")));
  await page.locator("input[name=involved]").first().waitFor({ timeout: 30_000 });
  const { reference } = await idbContents(page, ["reference"]);
  assert.ok(reference.some((v) => v.spki), "the key is kept for next time");
});

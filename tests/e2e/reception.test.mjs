// The reception kiosk end to end: visitors sign in and out with the server
// down, the fire roll call is right from the tablet alone and survives a
// reload, and everything reaches the server exactly once; a returning
// visitor signs again only when the agreement changes.
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
  OAKFIELD_ID,
  postJson,
  scratchDir,
  signIn,
  startServer,
  STAFF,
  tabTo,
  waitForServiceWorker,
} from "./support.mjs";

const TABLET = { viewport: { width: 1024, height: 768 } };
const PIN = "582046";

async function drawSignature(page) {
  const pad = page.getByTestId("signature-pad");
  await pad.scrollIntoViewIfNeeded();
  const box = await pad.boundingBox();
  await page.mouse.move(box.x + box.width * 0.1, box.y + box.height * 0.6);
  await page.mouse.down();
  for (let i = 1; i <= 12; i++) {
    await page.mouse.move(box.x + box.width * (0.1 + i * 0.06), box.y + box.height * (0.6 - 0.2 * Math.sin(i / 2)));
  }
  await page.mouse.up();
}

/** Signs a visitor in from the welcome screen; returns their badge code. */
async function signInVisitor(page, { name, organisation, host = STAFF.head.name, expectReturning = false, expectResign }) {
  await page.getByTestId("kiosk-sign-in").click();
  await page.getByLabel("Your full name").fill(name);
  await page.getByLabel("Organisation (optional)").fill(organisation);
  await page.getByLabel("You are a").selectOption("contractor");
  await page.getByLabel("Who are you visiting?").fill(host);
  await page.getByRole("button", { name: "Continue" }).click();
  if (expectReturning) {
    await page.getByTestId("returning-visitor").waitFor();
    assert.equal(await page.getByTestId("signature-pad").count(), 0, "a returning visitor is not asked to sign");
    await page.getByTestId("returning-yes").click();
  } else {
    await page.getByTestId("kiosk-agreement").waitFor();
    if (expectResign) {
      // Signed an earlier version here: the desk says what changed.
      const notice = page.getByTestId("resign-notice");
      await notice.waitFor();
      assert.match(await notice.textContent(), /This agreement changed on .+\. You signed version 1; please read and sign version 2\./);
      assert.equal((await notice.getByTestId("change-summary").textContent()).trim(), expectResign);
      await notice.getByText(/Show the changes to the text/).click();
      assert.match((await notice.locator("ins").allTextContents()).join(" "), /staff network/);
    } else {
      assert.equal(await page.getByTestId("resign-notice").count(), 0);
    }
    await drawSignature(page);
    await page.getByLabel(/I have read this agreement/).check();
    await page.getByRole("button", { name: "Continue" }).click();
  }
  await page.getByLabel("Photo ID seen").check();
  await page.getByRole("button", { name: "Sign in and print badge" }).click();
  await page.getByTestId("badge").waitFor();
  assert.equal(await page.getByTestId("badge-name").textContent(), name.trim());
  // The academy's default rule: ID seen but no DBS check means an escort.
  assert.equal(await page.getByTestId("badge-escort").textContent(), "ESCORT REQUIRED");
  const code = (await page.getByTestId("badge-code").textContent()).trim();
  assert.match(code, /^[0-9A-Z]{3}-[0-9A-Z]{3}$/);
  await page.getByTestId("badge-done").click();
  await page.getByTestId("kiosk-sign-in").waitFor();
  return code;
}

async function signOutByCode(page, code) {
  await page.getByTestId("kiosk-sign-out").click();
  await page.getByLabel("Badge code").fill(code.toLowerCase());
  await page.getByRole("button", { name: "Sign out with this code" }).click();
  await page.getByTestId("confirm-yes").click();
  await page.getByTestId("signed-out").waitFor();
  await page.goto(new URL("/kiosk", page.url()).href);
  await page.getByTestId("kiosk-sign-in").waitFor();
}

async function openRollCall(page) {
  await page.goto(new URL("/unlock?next=/kiosk/roll-call", page.url()).href);
  await page.getByRole("button", { name: STAFF.teacher.name }).click();
  await page.getByLabel(`PIN for ${STAFF.teacher.name}`).fill(PIN);
  await page.getByRole("button", { name: "Unlock" }).click();
  await page.getByTestId("roll-call-counts").waitFor();
}

async function rollCallNames(page) {
  return (await page.getByTestId("roll-call-name").allTextContents()).map((s) => s.trim()).sort();
}

/** A reception kiosk at Oakfield with the teacher's PIN on it, at the welcome screen. */
async function kiosk(t, contextOptions = {}) {
  const scratch = scratchDir();
  const port = await freePort();
  const database = join(scratch.dir, "haven.sqlite3");
  const server = { current: await startServer({ port, database }) };
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await server.current.stop();
    scratch.cleanup();
  });
  const context = await browser.newContext({ ...TABLET, ...contextOptions });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${server.current.base}/kiosk`);
  await waitForServiceWorker(page);
  await enrolDevice(page, server.current.base);
  await signIn(page, server.current.base, STAFF.teacher, { pin: PIN });
  await page.goto(`${server.current.base}/unlock`);
  await page.goto(`${server.current.base}/kiosk`);
  await page.getByRole("heading", { name: /Welcome to Oakfield/ }).waitFor();
  return { server, page, errors, restart: () => startServer({ port, database }) };
}

test("twenty visitors in and eight out with the server down: the roll call shows the twelve, and the server gets each once", async (t) => {
  const { server, page, errors, restart } = await kiosk(t);
  await server.current.kill();

  const visitors = Array.from({ length: 20 }, (_, i) => ({
    name: `Visitor${String(i).padStart(2, "0")} Surname${i}`,
    organisation: `Firm ${i}`,
  }));
  const codes = [];
  for (const v of visitors) codes.push(await signInVisitor(page, v));
  assert.equal(new Set(codes).size, 20, "every badge has its own code");
  // The network is up but the school's server is not: the desk says which.
  assert.equal(
    await page.getByTestId("kiosk-connection").textContent(),
    "Cannot reach the school: signing in and out still works",
  );

  // The public list shows first names and initials, never full names.
  await page.getByTestId("kiosk-sign-out").click();
  await page.getByTestId("sign-out-list").getByRole("button").first().waitFor();
  const publicList = await page.getByTestId("sign-out-list").textContent();
  assert.match(publicList, /Visitor00 S\./);
  assert.doesNotMatch(publicList, /Surname/);
  await page.goto(new URL("/kiosk", page.url()).href);

  for (const code of codes.slice(0, 8)) await signOutByCode(page, code);
  const stillHere = visitors.slice(8).map((v) => v.name).sort();

  // The roll call needs a PIN, shows exactly the twelve, and survives a reload.
  await page.goto(new URL("/kiosk/roll-call", page.url()).href);
  await page.getByRole("heading", { name: "Staff only" }).waitFor();
  await openRollCall(page);
  assert.deepEqual(await rollCallNames(page), stillHere);
  assert.match(await page.getByTestId("roll-call-counts").textContent(), /^12 visitors on site · 0 accounted for/);
  await page.getByLabel(`${stillHere[0]} accounted for`).check();
  await page.getByTestId("roll-call-counts").filter({ hasText: "1 accounted for" }).waitFor();
  await page.reload();
  await page.getByRole("heading", { name: "Staff only" }).waitFor();
  await openRollCall(page);
  assert.deepEqual(await rollCallNames(page), stillHere);
  assert.match(await page.getByTestId("roll-call-counts").textContent(), /12 visitors on site · 1 accounted for/);

  // The server comes back: 20 visits and 20 agreements, each exactly once.
  server.current = await restart();
  await page.reload();
  const token = await adminToken(server.current.base);
  const snapshot = await eventually(
    async () => {
      const s = await getJson(`${server.current.base}/api/v1/reception/${OAKFIELD_ID}`, token);
      return s.on_site.length === 12 && s.ended_recently.length === 8 && s;
    },
    60_000,
    "the visits to reach the server",
  );
  assert.deepEqual(snapshot.on_site.map((v) => v.visitor_name).sort(), stillHere);
  const ids = new Set([...snapshot.on_site.map((v) => v.id), ...snapshot.ended_recently]);
  assert.equal(ids.size, 20, "twenty distinct visits");
  const agreements = await eventually(
    async () => {
      const rows = await getJson(`${server.current.base}/api/v1/agreements`, token);
      return rows.length >= 20 && rows;
    },
    30_000,
    "the agreements to reach the server",
  );
  assert.equal(agreements.length, 20, "one agreement per visitor, none twice");
  assert.deepEqual(agreements.map((a) => a.signer_name).sort(), visitors.map((v) => v.name).sort());
  for (const a of agreements) assert.equal(a.mark.method, "drawn");
  // Pushing again (a reload starts a pass) adds nothing.
  await page.reload();
  await page.getByTestId("roll-call").or(page.getByRole("heading", { name: "Staff only" })).first().waitFor();
  const again = await getJson(`${server.current.base}/api/v1/agreements`, token);
  assert.equal(again.length, 20);
  assert.deepEqual(errors, [], "no uncaught errors in the page");
});

test("a returning visitor who signed the current version is not asked again, until a new version is published", async (t) => {
  const { server, page, errors } = await kiosk(t);
  const base = server.current.base;
  const ada = { name: "Ada Lovelace", organisation: "Analytical Engines Ltd" };
  const first = await signInVisitor(page, ada);
  await signOutByCode(page, first);
  // Same person, typed a little differently: recognised, no signature asked.
  await signInVisitor(page, { name: " ada  lovelace", organisation: "analytical engines ltd", expectReturning: true });
  // Someone else with the same name from another firm signs for themselves.
  await signInVisitor(page, { name: "Ada Lovelace", organisation: "Other Firm" });

  // A new version of the visitor agreement is published.
  const token = await adminToken(base);
  const listed = (await getJson(`${base}/api/v1/policies`)).find((p) => p.kind === "visitor_aua");
  const current = await getJson(`${base}/api/v1/policies/${listed.id}`);
  const next = await postJson(`${base}/api/v1/policies`, token, {
    policy_id: current.policy_id,
    title: current.title,
    kind: current.kind,
    audiences: current.audiences,
    owner: current.owner,
    body_markdown: `${current.body_markdown}\n\nGuests must not connect their own devices to the staff network.`,
    approved_by: current.approved_by,
    effective_date: current.effective_date,
    last_reviewed: current.last_reviewed,
    next_review_due: current.next_review_due,
    change_summary: "Guests may not connect their own devices to the staff network.",
  });
  assert.equal(next.version, current.version + 1);
  // The kiosk picks it up on its next sync (a reload starts one).
  await eventually(
    async () => {
      await page.reload();
      await page.getByTestId("kiosk-sign-in").waitFor();
      const { policies } = await idbContents(page, ["policies"]);
      return policies.some((p) => p.id === next.id);
    },
    30_000,
    "the new version to reach the kiosk",
  );
  await signInVisitor(page, { ...ada, expectResign: "Guests may not connect their own devices to the staff network." });

  const agreements = await eventually(
    async () => {
      const rows = await getJson(`${base}/api/v1/agreements`, token);
      return rows.length >= 3 && rows;
    },
    30_000,
    "the agreements to reach the server",
  );
  const adas = agreements.filter((a) => a.signer_name === "Ada Lovelace");
  assert.equal(adas.length, 3, "signed once, once for the other firm, once for the new version");
  assert.deepEqual(
    adas.map((a) => a.policy_version_id).sort(),
    [current.id, current.id, next.id].sort(),
  );
  assert.deepEqual(errors, [], "no uncaught errors in the page");
});

test("the kiosk's pages have no WCAG 2.2 A/AA violations", async (t) => {
  // axe is injected as a script, which the app's CSP would (rightly) refuse.
  const { page } = await kiosk(t, { bypassCSP: true });
  const failures = [];
  const check = async (name) => {
    const violations = await axeViolations(page);
    if (violations.length) failures.push({ name, violations });
  };
  await check("welcome");
  // The kiosk shows no way into the app: "Staff" leads only to the PIN.
  assert.equal(await page.getByRole("link", { name: "Policies" }).count(), 0);
  await page.getByTestId("kiosk-staff").click();
  await page.getByRole("heading", { name: "Haven is locked" }).waitFor();
  assert.equal(await page.getByRole("link", { name: "Policies" }).count(), 0, "no site menu on the kiosk's PIN screen");
  assert.equal(await page.getByRole("link", { name: "Sign in online instead" }).count(), 0);
  await check("staff PIN");
  await page.getByRole("link", { name: "Back to reception" }).click();
  await page.getByTestId("kiosk-sign-in").click();
  await page.getByLabel("Your full name").waitFor();
  await check("sign in: details");
  await page.getByRole("button", { name: "Continue" }).click();
  await page.locator("#error-summary").waitFor();
  await check("sign in: details with errors");
  await page.getByLabel("Your full name").fill("Grace Hopper");
  await page.getByLabel("Who are you visiting?").fill(STAFF.head.name);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByTestId("kiosk-agreement").waitFor();
  await check("sign in: agreement");
  await drawSignature(page);
  await page.getByLabel(/I have read this agreement/).check();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByLabel("Photo ID seen").waitFor();
  await check("sign in: reception checks");
  await page.getByRole("button", { name: "Sign in and print badge" }).click();
  await page.getByTestId("badge").waitFor();
  await check("badge");
  await page.getByTestId("badge-done").click();
  await page.getByTestId("kiosk-sign-out").click();
  await page.getByTestId("sign-out-list").getByRole("button").first().waitFor();
  await check("sign out");
  await page.goto(new URL("/kiosk/end-of-day", page.url()).href);
  await page.getByRole("heading", { name: "Staff only" }).waitFor();
  await check("staff only");
  await openRollCall(page);
  await page.getByTestId("roll-call-row").first().waitFor();
  await check("roll call");
  await page.goto(new URL("/kiosk/end-of-day", page.url()).href);
  await page.getByRole("heading", { name: "Staff only" }).waitFor();
  await page.getByRole("link", { name: "Unlock" }).click();
  await page.getByRole("button", { name: STAFF.teacher.name }).click();
  await page.getByLabel(`PIN for ${STAFF.teacher.name}`).fill(PIN);
  await page.getByRole("button", { name: "Unlock" }).click();
  await page.getByTestId("end-of-day").waitFor();
  await check("end of day");
  // Closing the visit at the end of the day empties the list.
  await page.getByTestId("close-all").click();
  await page.getByTestId("end-of-day-empty").waitFor();
  assert.deepEqual(failures, [], JSON.stringify(failures, null, 2));
});

test("a visitor's half-filled form goes back to the welcome screen after a minute untouched", async (t) => {
  const { page } = await kiosk(t);
  // A controllable clock, so a minute passes in a moment.
  await page.clock.install();
  await page.reload();
  await page.getByTestId("kiosk-sign-in").click();
  await page.getByLabel("Your full name").fill("Half Finished");
  await page.clock.fastForward("00:40");
  await page.clock.runFor(6_000);
  assert.equal(await page.getByLabel("Your full name").inputValue(), "Half Finished", "still there before the minute");
  await page.clock.fastForward("00:20");
  await page.clock.runFor(6_000);
  await page.getByTestId("kiosk-sign-in").waitFor();
  assert.ok(!(await page.content()).includes("Half Finished"), "the details left the screen");
});

test("a visitor signs in and out with the keyboard alone", async (t) => {
  const { page } = await kiosk(t);
  await tabTo(page, "[data-testid=kiosk-sign-in]");
  await page.keyboard.press("Enter");
  await tabTo(page, "#visitor-name");
  await page.keyboard.type("Kay Board");
  await tabTo(page, "#organisation");
  await page.keyboard.type("Keys Ltd");
  await tabTo(page, "#host");
  await page.keyboard.type(STAFF.head.name);
  await tabTo(page, "button[type=submit]");
  await page.keyboard.press("Enter");
  // The agreement: a typed signature (no drawing), agreed with the space bar.
  await page.getByTestId("kiosk-agreement").waitFor();
  await tabTo(page, "#signature");
  await page.keyboard.press("Space");
  await tabTo(page, "#agree");
  await page.keyboard.press("Space");
  await tabTo(page, "button[type=submit]");
  await page.keyboard.press("Enter");
  await tabTo(page, "#id-seen");
  await page.keyboard.press("Space");
  await tabTo(page, "button[type=submit]");
  await page.keyboard.press("Enter");
  await page.getByTestId("badge").waitFor();
  assert.equal(await page.getByTestId("badge-name").textContent(), "Kay Board");
  const code = (await page.getByTestId("badge-code").textContent()).trim();
  await tabTo(page, "[data-testid=badge-done]");
  await page.keyboard.press("Enter");

  await tabTo(page, "[data-testid=kiosk-sign-out]");
  await page.keyboard.press("Enter");
  await page.getByTestId("sign-out-list").getByRole("button").first().waitFor();
  await tabTo(page, "#badge-code");
  await page.keyboard.type(code);
  await page.keyboard.press("Enter");
  // The question takes the focus; its answer is the next stop.
  await page.waitForFunction(() => document.activeElement?.id === "confirm-title");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), "confirm-yes");
  await page.keyboard.press("Enter");
  await page.getByTestId("signed-out").waitFor();
  // Ended here; once the server has the end, gone from the kiosk altogether.
  const { visits } = await idbContents(page, ["visits"]);
  const mine = visits.filter((v) => v.record.visitor_name === "Kay Board");
  assert.ok(mine.length === 0 || (mine.length === 1 && mine[0].end), JSON.stringify(visits));
});

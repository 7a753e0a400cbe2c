// Personal data on a reception kiosk, minimised (issue 17, part 4): once the
// server has a visitor's agreement the kiosk keeps only a stub of it, and
// once it has their sign-out the visit is gone. Every IndexedDB store is
// scanned: the visitor who left is nowhere, no signer's name, answers or
// signature is left, and the visitor still on site is there only where the
// fire roll call reads, which still lists them with the server down. The
// visitor who left is still recognised when they come back, by a digest.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  adminToken,
  enrolDevice,
  eventually,
  getJson,
  idbContents,
  OAKFIELD_ID,
  serverAndBrowser,
  signIn,
  STAFF,
  waitForServiceWorker,
} from "./support.mjs";

const PIN = "582046";
const STAYS = { name: "Olivia Onsite", organisation: "Stayput Surveys" };
const LEAVES = { name: "Dorothea Departed", organisation: "Gonehome Glazing" };
/** What must not be left of the visitor who left, in any form. */
const LEFT_BEHIND = ["Dorothea", "Departed", "Gonehome", "Glazing", "Dorothea D."];

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

/** Signs a visitor in from the welcome screen, with the visitor agreement; returns their badge code. */
async function signInVisitor(page, { name, organisation }, { returning = false } = {}) {
  await page.getByTestId("kiosk-sign-in").click();
  await page.getByLabel("Your full name").fill(name);
  await page.getByLabel("Organisation (optional)").fill(organisation);
  await page.getByLabel("You are a").selectOption("contractor");
  await page.getByLabel("Who are you visiting?").fill(STAFF.head.name);
  await page.getByRole("button", { name: "Continue" }).click();
  if (returning) {
    await page.getByTestId("returning-visitor").waitFor();
    await page.getByTestId("returning-yes").click();
  } else {
    await page.getByTestId("kiosk-agreement").waitFor();
    await drawSignature(page);
    await page.getByLabel(/I have read this agreement/).check();
    await page.getByRole("button", { name: "Continue" }).click();
  }
  await page.getByLabel("Photo ID seen").check();
  await page.getByRole("button", { name: "Sign in and print badge" }).click();
  await page.getByTestId("badge").waitFor();
  const code = (await page.getByTestId("badge-code").textContent()).trim();
  await page.getByTestId("badge-done").click();
  await page.getByTestId("kiosk-sign-in").waitFor();
  return code;
}

async function signOutByCode(page, code) {
  await page.getByTestId("kiosk-sign-out").click();
  await page.getByLabel("Badge code").fill(code);
  await page.getByRole("button", { name: "Sign out with this code" }).click();
  await page.getByTestId("confirm-yes").click();
  await page.getByTestId("signed-out").waitFor();
  await page.goto(new URL("/kiosk", page.url()).href);
  await page.getByTestId("kiosk-sign-in").waitFor();
}

/** Each store whose values (JSON, nested values included) contain `text`, case-insensitively. */
function storesHolding(contents, text) {
  const needle = text.toLowerCase();
  return Object.entries(contents)
    .filter(([, values]) => JSON.stringify(values).toLowerCase().includes(needle))
    .map(([store]) => store)
    .sort();
}

test("a kiosk keeps only who is on site: the visitor who left and every signer's name are gone once the server has them, and the roll call still works offline", async (t) => {
  const { server, browser } = await serverAndBrowser(t);
  const base = server.base;
  const page = await browser.newPage({ viewport: { width: 1024, height: 768 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${base}/kiosk`);
  await waitForServiceWorker(page);
  await enrolDevice(page, base);
  await signIn(page, base, STAFF.teacher, { pin: PIN });
  await page.goto(`${base}/unlock`);
  await page.goto(`${base}/kiosk`);
  await page.getByRole("heading", { name: /Welcome to Oakfield/ }).waitFor();

  // One visitor signs in and stays; another signs in and leaves.
  await signInVisitor(page, STAYS);
  const leaving = await signInVisitor(page, LEAVES);
  await signOutByCode(page, leaving);

  // The server has both agreements, both visits and the one sign-out.
  const token = await adminToken(base);
  await eventually(
    async () => {
      const s = await getJson(`${base}/api/v1/reception/${OAKFIELD_ID}`, token);
      const agreements = await getJson(`${base}/api/v1/agreements`, token);
      return s.on_site.length === 1 && s.ended_recently.length === 1 && agreements.length === 2;
    },
    30_000,
    "the visits, the sign-out and the agreements on the server",
  );
  const onServer = await getJson(`${base}/api/v1/agreements`, token);
  assert.deepEqual(onServer.map((a) => a.signer_name).sort(), [LEAVES.name, STAYS.name].sort());

  // The kiosk has settled everything and fetched the roll call after it.
  const contents = await eventually(
    async () => {
      const all = await idbContents(page);
      const snapshot = all.reference.find((r) => r && r.snapshot && Array.isArray(r.snapshot.on_site));
      const settled =
        all.outbox.length === 0 &&
        all.visits.length === 1 &&
        all.agreements.length === 2 &&
        all.agreements.every((a) => a.sync.state === "synced" && a.receipt_code) &&
        snapshot &&
        snapshot.snapshot.ended_recently.length === 1;
      return settled && all;
    },
    30_000,
    "the kiosk to settle both pushes and refresh its roll call",
  );
  const stores = Object.keys(contents).sort();
  for (const expected of ["agreements", "meta", "outbox", "reference", "visits"]) {
    assert.ok(stores.includes(expected), `scanned ${expected}`);
  }

  // Nothing of the visitor who left, in any store.
  for (const text of LEFT_BEHIND) {
    assert.deepEqual(storesHolding(contents, text), [], `"${text}" is still on the kiosk`);
  }
  // No signer's name, answers or signature kept: the agreements are stubs
  // whose receipt codes are the server's.
  for (const field of ['"signer_name"', '"answers"', '"strokes"', '"mark"', '"visiting"']) {
    assert.deepEqual(storesHolding(contents, field), [], `${field} is still on the kiosk`);
  }
  const codes = new Set(onServer.map((a) => a.receipt_code));
  for (const stub of contents.agreements) {
    assert.deepEqual(Object.keys(stub.record).sort(), ["agreed", "device_id", "id", "policy_version_id", "signed_at"]);
    assert.ok(codes.has(stub.receipt_code), "the stub's receipt code is the record's");
  }
  // The visitor on site is there for the roll call, and only there.
  assert.deepEqual(storesHolding(contents, STAYS.name), ["reference", "visits"]);
  assert.equal(contents.visits[0].record.visitor_name, STAYS.name);
  assert.ok(!contents.visits[0].end, "not signed out");

  // The server goes down: the roll call lists the visitor on site from the
  // kiosk alone.
  await server.kill();
  await page.reload();
  await page.getByTestId("kiosk-sign-in").waitFor();
  await page.goto(new URL("/unlock?next=/kiosk/roll-call", page.url()).href);
  await page.getByRole("button", { name: STAFF.teacher.name }).click();
  await page.getByLabel(`PIN for ${STAFF.teacher.name}`).fill(PIN);
  await page.getByRole("button", { name: "Unlock" }).click();
  await page.getByTestId("roll-call-counts").waitFor();
  const names = (await page.getByTestId("roll-call-name").allTextContents()).map((s) => s.trim());
  assert.deepEqual(names, [STAYS.name]);
  assert.match(await page.getByTestId("roll-call-counts").textContent(), /^1 visitor(s)? on site/);

  // The visitor who left comes back, still offline: known by the digest
  // the kiosk kept, not asked to sign again.
  await page.goto(new URL("/kiosk", page.url()).href);
  await page.getByTestId("kiosk-sign-in").waitFor();
  await signInVisitor(page, { name: " dorothea  departed", organisation: "GONEHOME GLAZING" }, { returning: true });
  assert.deepEqual(errors, [], "no uncaught errors in the page");
});

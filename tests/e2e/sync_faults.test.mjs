// Sync under real faults: each test ends with the server holding exactly the
// device's records, once each.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { seedSignatures, pendingInDb } from "./seed.mjs";
import {
  adminToken,
  chromiumArgs,
  chromiumPath,
  enrolDevice,
  eventually,
  postJson,
  signIn,
  STAFF,
  freePort,
  getJson,
  launchBrowser,
  scratchDir,
  sleep,
  startServer,
} from "./support.mjs";
import { chromium } from "playwright-core";

/** A fresh server, and helpers to read what it holds. */
async function setup(t) {
  const scratch = scratchDir();
  const port = await freePort();
  const database = join(scratch.dir, "haven.sqlite3");
  const ctx = { scratch, port, database, server: await startServer({ port, database }) };
  ctx.token = await adminToken(ctx.server.base);
  const policies = await getJson(`${ctx.server.base}/api/v1/policies`);
  ctx.policy = policies.find((p) => p.kind === "visitor_aua");
  ctx.agreements = async () => getJson(`${ctx.server.base}/api/v1/agreements`, ctx.token);
  t.after(async () => {
    await ctx.server.stop();
    scratch.cleanup();
  });
  return ctx;
}

/**
 * Opens the app, enrols it (so it may push) and waits until it has stored
 * the policies (its first sync).
 */
async function openApp(page, base, { enrol = true } = {}) {
  await page.goto(`${base}/policies`);
  await page.getByTestId("policy-link").first().waitFor();
  if (enrol) {
    await enrolDevice(page, base);
    await page.goto(`${base}/policies`);
    await page.getByTestId("policy-link").first().waitFor();
  }
}

/** Slows every push down, so a fault can land in the middle of a sync. */
async function slowPushes(page, ms) {
  await page.route("**/api/v1/sync/push", async (route) => {
    await sleep(ms);
    await route.continue().catch(() => {});
  });
}

async function assertExactly(ctx, deviceId, count) {
  const rows = await ctx.agreements();
  const mine = rows.filter((r) => r.device_id === deviceId);
  assert.equal(mine.length, count, "every record on the server");
  assert.equal(new Set(mine.map((r) => r.id)).size, count, "each record once");
}

test("a 1,000-record sync survives the network going off and on repeatedly", async (t) => {
  const ctx = await setup(t);
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const context = await browser.newContext();
  const page = await context.newPage();
  await openApp(page, ctx.server.base);
  await slowPushes(page, 50);
  const deviceId = await seedSignatures(page, ctx.policy, 1000);

  await page.reload();
  await page.getByTestId("pending").waitFor();
  for (let i = 0; i < 12; i++) {
    await context.setOffline(i % 2 === 0);
    await sleep(150);
  }
  await context.setOffline(false);
  await page.evaluate(() => window.dispatchEvent(new Event("online")));

  await eventually(async () => (await pendingInDb(page)) === 0, 60_000, "the outbox to drain");
  await assertExactly(ctx, deviceId, 1000);
  await eventually(async () => (await page.getByTestId("pending").getAttribute("data-count")) === "0", 10_000, "the badge");
});

test("the server killed in the middle of a batch loses and duplicates nothing", async (t) => {
  const ctx = await setup(t);
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await browser.newPage();
  await openApp(page, ctx.server.base);
  await slowPushes(page, 200);
  const deviceId = await seedSignatures(page, ctx.policy, 1000);

  await page.reload();
  // Kill it once some, but not all, batches have landed.
  await eventually(async () => (await ctx.agreements()).length > 0, 30_000, "the first batch");
  await ctx.server.kill();
  const landed = (await pendingInDb(page));
  assert.ok(landed > 0, "the kill came before the sync finished");
  ctx.server = await startServer({ port: ctx.port, database: ctx.database });
  ctx.token = await adminToken(ctx.server.base);

  await page.evaluate(() => window.dispatchEvent(new Event("online")));
  await eventually(async () => (await pendingInDb(page)) === 0, 60_000, "the outbox to drain");
  await assertExactly(ctx, deviceId, 1000);
});

test("closing the browser during a sync and reopening it finishes the sync exactly once", async (t) => {
  const ctx = await setup(t);
  const profile = mkdtempSync(join(tmpdir(), "haven-profile-"));
  t.after(() => rmSync(profile, { recursive: true, force: true }));
  const launch = () =>
    chromium.launchPersistentContext(profile, { executablePath: chromiumPath, args: chromiumArgs });

  let context = await launch();
  let page = context.pages()[0] ?? (await context.newPage());
  await openApp(page, ctx.server.base);
  await slowPushes(page, 200);
  const deviceId = await seedSignatures(page, ctx.policy, 1000);
  await page.reload();
  await eventually(async () => (await ctx.agreements()).length > 0, 30_000, "the first batch");
  await context.close(); // mid-sync

  const partial = (await ctx.agreements()).length;
  assert.ok(partial < 1000, `the browser closed mid-sync (${partial} of 1000 had landed)`);

  context = await launch();
  t.after(() => context.close());
  page = context.pages()[0] ?? (await context.newPage());
  await page.goto(`${ctx.server.base}/sync`);
  await eventually(async () => (await pendingInDb(page)) === 0, 60_000, "the outbox to drain");
  await assertExactly(ctx, deviceId, 1000);
});

test("two tabs syncing at once send every record exactly once", async (t) => {
  const ctx = await setup(t);
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const context = await browser.newContext();
  const first = await context.newPage();
  await openApp(first, ctx.server.base);
  const second = await context.newPage();
  // Same browser, same device: enrolled once already.
  await openApp(second, ctx.server.base, { enrol: false });
  await context.route("**/api/v1/sync/push", async (route) => {
    await sleep(30);
    await route.continue().catch(() => {});
  });
  const deviceId = await seedSignatures(first, ctx.policy, 500);

  // Both tabs are told to sync at the same moment.
  await Promise.all([first, second].map((p) => p.evaluate(() => window.dispatchEvent(new Event("online")))));
  await eventually(async () => (await pendingInDb(first)) === 0, 60_000, "the outbox to drain");
  await assertExactly(ctx, deviceId, 500);
  // The tab that did not sync hears about it and shows nothing waiting.
  for (const page of [first, second]) {
    await eventually(async () => (await page.getByTestId("pending").getAttribute("data-count")) === "0", 15_000, "both tabs up to date");
  }
});

test("a record the server refuses stays on the device with the reason and does not block the queue", async (t) => {
  const ctx = await setup(t);
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await browser.newPage();
  await openApp(page, ctx.server.base);
  await ctx.server.kill();
  // One signature of text the server never published, then two good ones.
  const forged = { ...ctx.policy, text_sha256: "0".repeat(64) };
  const deviceId = await seedSignatures(page, forged, 1, "Forged");
  await seedSignatures(page, ctx.policy, 2, "Genuine");
  ctx.server = await startServer({ port: ctx.port, database: ctx.database });
  ctx.token = await adminToken(ctx.server.base);

  await page.goto(`${ctx.server.base}/sync`);
  await page.getByTestId("rejected-list").waitFor({ timeout: 30_000 });
  const text = await page.getByTestId("rejected-list").textContent();
  assert.match(text, /Forged 1/);
  assert.match(text, /is not the text of policy version/);
  await assertExactly(ctx, deviceId, 2);
  assert.equal(await pendingInDb(page), 0);
});

test("a staff session that ends mid-sync keeps the rest on the device until the next sign-in", async (t) => {
  const ctx = await setup(t);
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await browser.newPage();
  // Not enrolled: the teacher's own session is what the device pushes with.
  await openApp(page, ctx.server.base, { enrol: false });
  await signIn(page, ctx.server.base, STAFF.teacher);
  await slowPushes(page, 300);
  const deviceId = await seedSignatures(page, ctx.policy, 400);
  await page.goto(`${ctx.server.base}/sync`);
  await eventually(async () => (await ctx.agreements()).length > 0, 30_000, "the first batch");

  // The teacher signs out everywhere from another device: this session ends mid-sync.
  const other = await postJson(`${ctx.server.base}/api/v1/auth/login`, null, {
    email: STAFF.teacher.email,
    password: STAFF.teacher.password,
  });
  await postJson(`${ctx.server.base}/api/v1/auth/logout-everywhere`, other.token, {});

  await page.getByText(/sign-in has expired or was ended/).waitFor({ timeout: 30_000 });
  const landed = (await ctx.agreements()).filter((r) => r.device_id === deviceId).length;
  assert.ok(landed < 400, `the session ended mid-sync (${landed} of 400 had landed)`);
  assert.equal(await pendingInDb(page), 400 - landed, "the rest wait on the device, none lost");

  // Signing in again sends the rest, each once.
  await signIn(page, ctx.server.base, STAFF.teacher);
  await page.goto(`${ctx.server.base}/sync`);
  await eventually(async () => (await pendingInDb(page)) === 0, 60_000, "the outbox to drain");
  await assertExactly(ctx, deviceId, 400);
});

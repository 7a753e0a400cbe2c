// Sync under real faults: each test ends with the server holding exactly the
// device's records, once each.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { seedSignatures, seedChange, pendingInDb, outboxEntries } from "./seed.mjs";
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
  idbContents,
  launchBrowser,
  scratchDir,
  sleep,
  startServer,
} from "./support.mjs";
import { chromium } from "playwright-core";

/** A fresh server (`env` added to its environment), and helpers to read what it holds. */
async function setup(t, { env } = {}) {
  const scratch = scratchDir();
  const port = await freePort();
  const database = join(scratch.dir, "haven.sqlite3");
  const ctx = { scratch, port, database, server: await startServer({ port, database, env }) };
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

/**
 * The server holds exactly the device's records, each once, and the device
 * has nothing left to send: the same set of ids on both sides.
 */
async function assertSameOnBoth(ctx, page, deviceId, count) {
  await assertExactly(ctx, deviceId, count);
  const onServer = new Set((await ctx.agreements()).filter((r) => r.device_id === deviceId).map((r) => r.id));
  const { agreements } = await idbContents(page, ["agreements"]);
  const onDevice = agreements.filter((a) => a.record.device_id === deviceId);
  assert.equal(onDevice.length, count, "the device holds each record once");
  assert.deepEqual(new Set(onDevice.map((a) => a.record.id)), onServer, "the same records on both sides");
  assert.ok(onDevice.every((a) => a.sync.state === "synced"), "every record shows as synced on the device");
  assert.deepEqual(await outboxEntries(page), [], "the outbox is empty");
}

const PUSH_URL = "/api/v1/sync/push";

/**
 * Records every push the page sends: the mutation ids it carried and how it
 * ended ("ok", "failed" for a network failure, or the HTTP status).
 */
function watchPushes(page) {
  const pushes = [];
  const byRequest = new Map();
  page.on("request", (request) => {
    if (!request.url().endsWith(PUSH_URL) || request.method() !== "POST") return;
    const body = JSON.parse(request.postData());
    const push = {
      ids: body.mutations.map((m) => m.id),
      records: body.mutations.map((m) => m.change.record?.id),
      outcome: "in flight",
    };
    byRequest.set(request, push);
    pushes.push(push);
  });
  page.on("requestfailed", (request) => {
    const push = byRequest.get(request);
    if (push) push.outcome = "failed";
  });
  page.on("requestfinished", async (request) => {
    const push = byRequest.get(request);
    const response = await request.response();
    if (push) push.outcome = response?.ok() ? "ok" : `http ${response?.status()}`;
  });
  return pushes;
}

test("a 3,000-record sync survives the network going off and on repeatedly", async (t) => {
  const ctx = await setup(t);
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const context = await browser.newContext();
  const page = await context.newPage();
  await openApp(page, ctx.server.base);
  const pushes = watchPushes(page);
  // A gate on the way out: while the network is on, `budget` pushes may pass
  // and any after them wait; when it goes off, those waiting fail as a
  // dropped connection does, and so does every push until it comes back.
  // So each "on" lets exactly one batch through, and each "off" fails at
  // least one, whatever the machine's speed.
  let offline = false;
  let budget = 1;
  let wake = () => {};
  let changed = new Promise((resolve) => (wake = resolve));
  const setNetwork = async (off, allow = 0) => {
    await context.setOffline(off);
    offline = off;
    budget = allow;
    wake();
    changed = new Promise((resolve) => (wake = resolve));
  };
  await page.route(`**${PUSH_URL}`, async (route) => {
    while (!offline && budget === 0) await changed;
    if (offline) return route.abort("internetdisconnected");
    budget -= 1;
    await route.continue().catch(() => {});
  });
  // Enough that six batches growing to 500 leave some to send.
  const deviceId = await seedSignatures(page, ctx.policy, 3000);

  await page.reload();
  await page.getByTestId("pending").waitFor();
  const count = (outcome) => pushes.filter((p) => p.outcome === outcome).length;
  await eventually(() => count("ok") >= 1, 60_000, "the first batch");
  // Five times: the network goes off until a push has failed for it, then
  // comes back for one batch.
  for (let cycle = 0; cycle < 5; cycle++) {
    const failed = count("failed");
    await setNetwork(true);
    await eventually(() => count("failed") > failed, 60_000, `a push to fail while offline (cycle ${cycle})`);
    const ok = count("ok");
    await setNetwork(false, 1);
    await eventually(() => count("ok") > ok, 60_000, `a push to get through once back online (cycle ${cycle})`);
  }
  assert.ok((await pendingInDb(page)) > 0, "the network went off and on during the sync, not after it");
  await setNetwork(false, Infinity);
  await page.unroute(`**${PUSH_URL}`);

  await eventually(async () => (await pendingInDb(page)) === 0, 60_000, "the outbox to drain");
  await eventually(() => pushes.every((p) => p.outcome !== "in flight"), 10_000, "every push to end");
  const failures = pushes.filter((p) => p.outcome === "failed");
  assert.ok(failures.length >= 5, `pushes failed while offline (${failures.length} of ${pushes.length})`);
  assert.deepEqual(
    pushes.filter((p) => !["ok", "failed"].includes(p.outcome)),
    [],
    "no push got an HTTP error",
  );
  // Every batch that failed was sent again later and got through.
  for (const failure of failures) {
    const later = pushes.slice(pushes.indexOf(failure) + 1).filter((p) => p.outcome === "ok");
    assert.ok(
      failure.ids.every((id) => later.some((p) => p.ids.includes(id))),
      `the failed push of mutations ${failure.ids[0]}..${failure.ids.at(-1)} was retried`,
    );
  }
  t.diagnostic(`${pushes.length} pushes, ${failures.length} failed and were retried`);
  await assertSameOnBoth(ctx, page, deviceId, 3000);
  await eventually(async () => (await page.getByTestId("pending").getAttribute("data-count")) === "0", 10_000, "the badge");
});

test("the server killed inside a push's transaction loses and duplicates nothing", async (t) => {
  // A debug server waits inside each push's transaction, after its inserts
  // and before its commit, and says so in its log (push.rs,
  // pause_inside_push_for_tests): the kill lands there.
  const PAUSED = /pausing inside the push transaction/;
  const ctx = await setup(t, {
    env: { HAVEN_TEST_PUSH_PAUSE_MS: "5000", RUST_LOG: "warn,haven_server::store::push=info" },
  });
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await browser.newPage();
  await openApp(page, ctx.server.base);
  // From here on, the pushes the page sends and the pauses the server logs.
  const pushes = watchPushes(page);
  const from = ctx.server.output().length;
  const deviceId = await seedSignatures(page, ctx.policy, 1000);
  await page.reload();

  // The second push is paused inside its transaction, all its inserts done;
  // the first has committed (the device sends the next batch only after
  // the reply, so no third push exists yet).
  await ctx.server.waitForLog(PAUSED, { count: 2, from, ms: 60_000 });
  assert.equal(pushes.length, 2, "two pushes sent, each paused inside its transaction");
  const [first, killed] = pushes;
  assert.equal(first.outcome, "ok", "the first push was acknowledged");
  assert.equal(killed.outcome, "in flight", "the second push waits inside its transaction");
  // Keep the device off the server until its state after the crash is read.
  await page.route(`**${PUSH_URL}`, (route) => route.abort("connectionrefused"));
  await ctx.server.kill();
  // Before the restart, so that no resend of it (Chromium resends a request
  // whose kept-alive connection closes) can reach the new server.
  await eventually(() => killed.outcome === "failed", 30_000, "the device to see its push fail");

  ctx.server = await startServer({ port: ctx.port, database: ctx.database });
  ctx.token = await adminToken(ctx.server.base);
  const landed = new Set((await ctx.agreements()).filter((r) => r.device_id === deviceId).map((r) => r.id));
  assert.ok(
    killed.records.every((id) => !landed.has(id)),
    "nothing of the push killed inside its transaction is on the server",
  );
  assert.ok(
    first.records.every((id) => landed.has(id)),
    "the batch acknowledged before the kill is on the server",
  );
  assert.ok(landed.size < 1000, "the kill came before the sync finished");
  assert.equal(await pendingInDb(page), 1000 - landed.size, "what the server lacks waits on the device");
  t.diagnostic(
    `killed inside the push of mutations ${killed.ids[0]}..${killed.ids.at(-1)}; ${landed.size} records had landed`,
  );

  // Restarted without the pause, on the same database: the device sends the
  // rest, and the killed batch again.
  await page.unroute(`**${PUSH_URL}`);
  await page.evaluate(() => window.dispatchEvent(new Event("online")));
  await eventually(async () => (await pendingInDb(page)) === 0, 60_000, "the outbox to drain");
  await assertSameOnBoth(ctx, page, deviceId, 1000);
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

test("a 2,000-record backlog goes in batches that grow while replies are quick, the badge counting down, each record once", async (t) => {
  const ctx = await setup(t);
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const context = await browser.newContext();
  const page = await context.newPage();
  await openApp(page, ctx.server.base);
  const pushes = watchPushes(page);
  const deviceId = await seedSignatures(page, ctx.policy, 2000);
  // What the badge says, each time it changes.
  await page.addInitScript(() => {
    window.__counts = [];
    new MutationObserver(() => {
      const n = document.querySelector("[data-testid=pending]")?.dataset.count;
      if (n !== undefined && window.__counts.at(-1) !== n) window.__counts.push(n);
    }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-count"] });
  });
  await page.reload();
  await eventually(async () => (await pendingInDb(page)) === 0, 60_000, "the outbox to drain");
  await eventually(() => pushes.every((p) => p.outcome !== "in flight"), 10_000, "every push to end");
  await assertSameOnBoth(ctx, page, deviceId, 2000);

  // haven_core::sync::machine: 100 first, then larger once replies come
  // back quickly (loopback does), never over the server's 500. (The exact
  // doubling is the machine's unit tests'.)
  const sizes = pushes.map((p) => p.ids.length);
  assert.equal(sizes[0], 100, `batch sizes ${sizes}`);
  assert.ok(Math.max(...sizes) > 100 && Math.max(...sizes) <= 500, `batch sizes ${sizes}`);
  assert.equal(sizes.reduce((a, b) => a + b, 0), 2000, "no record sent twice");
  // Sent in order, with no gap: each batch starts where the last ended.
  const ids = pushes.flatMap((p) => p.ids);
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
  assert.equal(new Set(ids).size, ids.length);
  // The badge went down as batches were answered, not in one step at the end.
  const counts = (await page.evaluate(() => window.__counts)).map(Number);
  assert.equal(counts.at(-1), 0);
  assert.ok(
    counts.filter((n) => n > 0 && n < 2000).length >= 3,
    `the badge counted down through the batches: ${counts}`,
  );
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

test("a record the server will always refuse, then 100 more: all 100 arrive while the refused one is shown with its reason", async (t) => {
  const ctx = await setup(t);
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await browser.newPage();
  await openApp(page, ctx.server.base);
  await ctx.server.kill();
  // First in the queue, a signature of text the server never published (its
  // policy version is real, the hash of the text signed is not), then 100
  // good ones behind it.
  const forged = { ...ctx.policy, text_sha256: "0".repeat(64) };
  const deviceId = await seedSignatures(page, forged, 1, "Forged");
  await seedSignatures(page, ctx.policy, 100, "Genuine");
  const [refusedEntry] = await outboxEntries(page);
  assert.equal(refusedEntry.mutation.change.record.signer_name, "Forged 1");
  ctx.server = await startServer({ port: ctx.port, database: ctx.database });
  ctx.token = await adminToken(ctx.server.base);

  await page.goto(`${ctx.server.base}/sync`);
  await eventually(async () => (await pendingInDb(page)) === 0, 60_000, "the 100 to be sent");
  await assertExactly(ctx, deviceId, 100);
  const onServer = (await ctx.agreements()).filter((r) => r.device_id === deviceId);
  assert.ok(onServer.every((r) => r.signer_name.startsWith("Genuine ")), "the refused record is not on the server");

  // The refused one stays on the device, in the outbox, with the server's reason…
  const entries = await outboxEntries(page);
  assert.equal(entries.length, 1, "only the refused record is left in the outbox");
  const [kept] = entries;
  assert.equal(kept.state, "rejected");
  assert.equal(kept.mutation.change.record.id, refusedEntry.mutation.change.record.id);
  assert.ok(kept.code, "the refusal has a code");
  assert.match(kept.reason, /is not the text of policy version/);
  const { agreements } = await idbContents(page, ["agreements"]);
  const record = agreements.find((a) => a.record.id === kept.mutation.change.record.id);
  assert.equal(record.sync.state, "rejected");
  assert.equal(agreements.filter((a) => a.sync.state === "synced").length, 100);

  // …and the status page shows it, with that reason, once everything else is in.
  const list = page.getByTestId("rejected-list");
  await list.waitFor({ timeout: 30_000 });
  assert.equal(await list.getByRole("listitem").count(), 1);
  const text = await list.textContent();
  assert.match(text, /Signature by Forged 1/);
  assert.ok(text.includes(kept.reason), `the page gives the server's reason: ${text}`);
  await eventually(async () => (await page.getByTestId("status-pending").textContent()) === "0", 10_000, "nothing waiting");
});

test("a refused visitor sign-out is kept and shown on the sync page with its reason, not only signatures", async (t) => {
  const ctx = await setup(t);
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await browser.newPage();
  await openApp(page, ctx.server.base);
  // A sign-out of a visit the server never received.
  await seedChange(page, (deviceId, now) => ({
    type: "end_visit",
    record: { id: crypto.randomUUID(), visit_id: crypto.randomUUID(), device_id: deviceId, signed_out_at: now, method: "list" },
  }));
  await page.goto(`${ctx.server.base}/sync`);
  const list = page.getByTestId("rejected-list");
  await list.waitFor({ timeout: 30_000 });
  const text = await list.textContent();
  assert.match(text, /Visitor sign-out/);
  assert.match(text, /the server has no visit/);
  const [kept] = await outboxEntries(page);
  assert.equal(kept.state, "rejected");
  assert.equal(kept.code, "unknown_visit");
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

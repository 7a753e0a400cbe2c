// Drains a large outbox from headless Chromium to a server on loopback, in one
// browser: Haven's PWA to the release haven_server, and PouchDB
// (pouchdb-browser) replicating the same documents to pouchdb-server. Each
// side runs BENCH_RUNS times, alternating which goes first; the medians and
// their ratio are printed. Asserts nothing about speed. Run by
// `cargo xtask bench`, or by hand after a release build of the PWA into dist/,
// `cargo build --release -p haven_server` and `npm ci` here:
//
//   node bench/sync_drain.mjs
//
// Environment: HAVEN_SERVER_BIN (target/release/haven_server), HAVEN_DIST
// (dist), CHROMIUM (/usr/bin/chromium), BENCH_RECORDS (10000), BENCH_RUNS (3),
// BENCH_TIMEOUT_S (900) and HAVEN_BENCH_OUT, a file to which
// `label<TAB>value` summary lines are appended.
//
// The clocks. Both sides are timed by the page's own monotonic clock
// (`performance.now()`), and each from where its user starts waiting:
// - Haven from the start of the page load: the app starts, pulls, then
//   pushes. Its clock is the reloaded page's, which starts at navigation.
// - PouchDB from the call to `replicate.to` to its promise settling.
//
// Haven: the app is loaded and left to make its device and fetch the policies;
// the server is stopped; BENCH_RECORDS signatures of the visitor agreement are
// written straight into the app's IndexedDB in exactly the shapes the app
// writes (agreement + outbox entry per signature, the device's next mutation
// numbers, the counter bumped, one transaction); the server is started again
// on the same port and database, the page is reloaded (a sync pass runs on
// start), and the clock runs until the badge shows nothing waiting and the
// outbox in IndexedDB is empty. The server must then hold exactly
// BENCH_RECORDS agreements from this device.
//
// PouchDB: a page on pouchdb-server's own origin (so neither side pays for
// CORS) loads pouchdb-browser, puts the same documents into a local database
// (IndexedDB), and `db.replicate.to(origin + "/bench")` is timed with
// PouchDB's defaults (batches of 100).
//
// Durability, which the two servers do not share: haven_server commits each
// push in one SQLite transaction with `synchronous = FULL` (on disk before the
// reply). pouchdb-server's LevelDB (leveldown) writes without fsync by
// default, so its acknowledged documents can be lost in a power cut. In the
// browser, Haven deletes acknowledged entries in IndexedDB's default
// (relaxed) durability, as PouchDB writes its checkpoints; an entry a crash
// brings back is sent again and answered from the server's record of it.

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import * as esbuild from "esbuild";
import { enrolDevice } from "../tests/e2e/support.mjs";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCH_DIR, "..");
const SERVER_BIN = resolve(ROOT, process.env.HAVEN_SERVER_BIN ?? "target/release/haven_server");
const DIST = resolve(ROOT, process.env.HAVEN_DIST ?? "dist");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const RECORDS = positive("BENCH_RECORDS", 10_000);
const RUNS = positive("BENCH_RUNS", 3);
const TIMEOUT_S = positive("BENCH_TIMEOUT_S", 900);
const OUT = process.env.HAVEN_BENCH_OUT;
const ADMIN = { email: "admin@riverside.example", password: "haven-demo-2026" };
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function positive(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name}=${raw} is not a positive whole number`);
  return n;
}

// ---- processes and folders that must not outlive the bench ----------------

const children = new Set();
const scratchDirs = new Set();
let browser = null;

function cleanUpNow() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
}
process.on("exit", cleanUpNow);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    console.error(`\nsync drain bench: ${signal}, stopping`);
    process.exit(130);
  });
}
const watchdog = setTimeout(() => {
  console.error(`\nsync drain bench: gave up after ${TIMEOUT_S} s`);
  process.exit(1);
}, TIMEOUT_S * 1000);
watchdog.unref();

function scratchDir() {
  const dir = mkdtempSync(join(tmpdir(), "haven-bench-"));
  scratchDirs.add(dir);
  return dir;
}

/** Starts a process, keeps its output for error messages, and tracks it. */
function startProcess(what, command, args, options = {}) {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
  children.add(child);
  let output = "";
  const keep = (d) => {
    output = (output + d).slice(-8_000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = new Promise((resolve) => child.on("exit", resolve));
  child.on("error", (e) => keep(`\n${e}`));
  return {
    child,
    output: () => output,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
      children.delete(child);
    },
    what,
  };
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Milliseconds from sending a request to the last byte of its reply. */
function httpTime(request) {
  const t = request.timing();
  return t.requestStart >= 0 && t.responseEnd >= t.requestStart ? t.responseEnd - t.requestStart : 0;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `url` until it answers 2xx, the process dies, or `ms` pass. */
async function waitForHttp(proc, url, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (proc.child.exitCode !== null) throw new Error(`${proc.what} exited early:\n${proc.output()}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${proc.what} did not answer ${url}:\n${proc.output()}`);
    await sleep(50);
  }
}

/** Polls `check` until it returns something truthy. */
async function eventually(what, check, ms = 30_000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${last}`);
    await sleep(100);
  }
}

async function json(url, init = {}) {
  const res = await fetch(url, init);
  const text = await res.text();
  if (!res.ok) throw new Error(`${init.method ?? "GET"} ${url}: ${res.status} ${text}`);
  return JSON.parse(text);
}

// ---- what runs in the page -------------------------------------------------

/**
 * Helpers for the pages, installed with `addInitScript` before the first
 * navigation (the app's Content Security Policy forbids inline scripts and
 * eval, which init scripts are not subject to).
 */
const PAGE_HELPERS = `
  // UUID v7 as the app makes them: 48-bit milliseconds, version 7, random rest.
  window.__benchUuidV7 = () => {
    const b = crypto.getRandomValues(new Uint8Array(16));
    let ms = Date.now();
    for (let i = 5; i >= 0; i--) { b[i] = ms % 256; ms = Math.floor(ms / 256); }
    b[6] = (b[6] & 0x0f) | 0x70;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  };
  // The fields of signature number i, the same on both sides.
  window.__benchSignatureFields = (policy, deviceId, i, now) => ({
    policy_version_id: policy.id,
    policy_text_sha256: policy.text_sha256,
    signer_name: "Bench Visitor " + String(i + 1).padStart(6, "0"),
    agreed: true,
    signed_at: now + i,
    device_id: deviceId,
  });
`;

// ---- Haven -----------------------------------------------------------------

async function startHaven(port, database) {
  const proc = startProcess(
    "haven_server",
    SERVER_BIN,
    ["--bind", `127.0.0.1:${port}`, "--database", database, "--static-dir", DIST, "--demo"],
    // One log line per push would time the terminal, not the server.
    { env: { ...process.env, RUST_LOG: "warn" } },
  );
  await waitForHttp(proc, `http://127.0.0.1:${port}/api/v1/health`);
  return proc;
}

/** Reads the app's IndexedDB: the device, whether a pass finished, outbox size. */
async function havenDeviceState(page) {
  return page.evaluate(async () => {
    // Opening a database that does not exist yet would create it empty, before
    // the app's upgrade could make its stores: only open the app's own.
    const known = await indexedDB.databases();
    if (!known.some((d) => d.name === "haven" && d.version >= 1)) return null;
    const db = await new Promise((resolve, reject) => {
      const req = indexedDB.open("haven");
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    try {
      const names = [...db.objectStoreNames];
      if (!["agreements", "outbox", "meta", "policies"].every((n) => names.includes(n))) return null;
      const tx = db.transaction(["meta", "outbox", "policies"]);
      const get = (store, key) =>
        new Promise((resolve, reject) => {
          const req = key === undefined ? tx.objectStore(store).count() : tx.objectStore(store).get(key);
          req.onsuccess = () => resolve(req.result);
          req.onerror = () => reject(req.error);
        });
      return {
        device: (await get("meta", "device")) ?? null,
        lastSyncAt: (await get("meta", "last_sync_at")) ?? null,
        outbox: await get("outbox"),
        policies: await get("policies"),
      };
    } finally {
      db.close();
    }
  });
}

async function benchHaven(policy) {
  const dir = scratchDir();
  const database = join(dir, "haven.sqlite3");
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let server = await startHaven(port, database);
  const context = await browser.newContext();
  try {
    await context.addInitScript({ content: PAGE_HELPERS });
    const page = await context.newPage();
    const pageErrors = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));

    // First visit: the app makes its device and stores the policies; it is
    // enrolled (as a reception kiosk would be) so that it may push.
    await page.goto(`${base}/`);
    await enrolDevice(page, base);
    await page.goto(`${base}/`);
    await eventually(
      "the app's first sync pass",
      async () => {
        const s = await havenDeviceState(page);
        return s && s.device && s.lastSyncAt && s.policies >= 1 && s;
      },
      60_000,
    );

    // Nothing can sync while the outbox is filled.
    await server.stop();
    const seeded = await page.evaluate(
      async ({ count, policy }) => {
        const db = await new Promise((resolve, reject) => {
          const req = indexedDB.open("haven");
          req.onsuccess = () => resolve(req.result);
          req.onerror = () => reject(req.error);
        });
        const started = performance.now();
        const tx = db.transaction(["agreements", "outbox", "meta"], "readwrite");
        const done = new Promise((resolve, reject) => {
          tx.oncomplete = resolve;
          tx.onerror = () => reject(tx.error);
          tx.onabort = () => reject(tx.error ?? new Error("aborted"));
        });
        const meta = tx.objectStore("meta");
        const device = await new Promise((resolve, reject) => {
          const req = meta.get("device");
          req.onsuccess = () => resolve(req.result);
          req.onerror = () => reject(req.error);
        });
        const first = device.next_mutation_id;
        const now = Date.now();
        const agreements = tx.objectStore("agreements");
        const outbox = tx.objectStore("outbox");
        for (let i = 0; i < count; i++) {
          const id = first + i;
          const record = { id: window.__benchUuidV7(), ...window.__benchSignatureFields(policy, device.device_id, i, now) };
          // The shapes of src/db: StoredAgreement and haven_core's OutboxEntry.
          agreements.add({ record, mutation_id: id, sync: { state: "pending" } });
          outbox.add({
            mutation: { id, change: { type: "create_agreement", record } },
            state: "pending",
            queued_at: now,
          });
        }
        meta.put({ ...device, next_mutation_id: first + count }, "device");
        await done;
        db.close();
        return { deviceId: device.device_id, first, ms: performance.now() - started };
      },
      { count: RECORDS, policy },
    );

    // Watch the badge from the moment the reloaded document exists.
    // The clock stops once the badge shows nothing waiting and the outbox in
    // IndexedDB is empty too: every reply stored, not only received. (A
    // count asked for then runs after the app's transactions already begun.)
    await page.addInitScript(() => {
      // Milliseconds since this page's navigation began.
      const state = { pendingSeenAt: null, badgeZeroAt: null, doneAt: null, max: 0 };
      window.__benchDrain = state;
      const now = () => performance.now();
      const outboxCount = () =>
        new Promise((resolve, reject) => {
          const req = indexedDB.open("haven");
          req.onerror = () => reject(req.error);
          req.onsuccess = () => {
            const db = req.result;
            const count = db.transaction("outbox").objectStore("outbox").count();
            count.onsuccess = () => {
              db.close();
              resolve(count.result);
            };
            count.onerror = () => reject(count.error);
          };
        });
      const untilEmpty = async () => {
        while ((await outboxCount()) > 0) await new Promise((r) => setTimeout(r, 5));
        state.doneAt = now();
      };
      const check = () => {
        const el = document.querySelector("[data-testid=pending]");
        if (!el) return;
        const n = Number(el.dataset.count);
        if (n > state.max) state.max = n;
        if (n > 0 && state.pendingSeenAt === null) state.pendingSeenAt = now();
        if (n === 0 && state.pendingSeenAt !== null && state.badgeZeroAt === null) {
          state.badgeZeroAt = now();
          untilEmpty();
        }
      };
      new MutationObserver(check).observe(document, {
        subtree: true,
        childList: true,
        attributes: true,
        attributeFilter: ["data-count"],
      });
    });

    server = await startHaven(port, database);
    const pushes = { first: null, last: null, count: 0, failed: 0, httpMs: 0 };
    page.on("request", (r) => {
      if (r.url().endsWith("/api/v1/sync/push")) {
        pushes.first ??= Date.now();
        pushes.count += 1;
      }
    });
    page.on("requestfinished", (r) => {
      if (r.url().endsWith("/api/v1/sync/push")) {
        pushes.last = Date.now();
        pushes.httpMs += httpTime(r);
      }
    });
    page.on("requestfailed", (r) => {
      if (r.url().endsWith("/api/v1/sync/push")) pushes.failed += 1;
    });

    await page.reload();
    const drain = await eventually(
      "the app to show nothing waiting",
      async () => {
        const d = await page.evaluate(() => window.__benchDrain);
        return d && d.doneAt && d;
      },
      TIMEOUT_S * 1000,
    ).catch(async (e) => {
      const problem = await page
        .locator("[data-testid=sync-status]")
        .textContent()
        .catch(() => "?");
      throw new Error(`${e.message}\nsync status: ${problem}\npage errors: ${pageErrors.join("; ")}`);
    });

    // What the server holds, and what is left on the device.
    const { token } = await json(`${base}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(ADMIN),
    });
    const rows = await json(`${base}/api/v1/agreements`, { headers: { authorization: `Bearer ${token}` } });
    const stored = rows.filter((r) => (r.record?.device_id ?? r.device_id) === seeded.deviceId).length;
    const after = await havenDeviceState(page);
    if (stored !== RECORDS) throw new Error(`the server holds ${stored} agreements from the device, expected ${RECORDS}`);
    if (after.outbox !== 0) throw new Error(`${after.outbox} outbox entries are left on the device`);
    if (drain.max !== RECORDS) throw new Error(`the badge showed at most ${drain.max} waiting, expected ${RECORDS}`);
    if (pageErrors.length) throw new Error(`errors in the page: ${pageErrors.join("; ")}`);

    return {
      seedMs: seeded.ms,
      fromLoadMs: drain.doneAt,
      fromBadgeMs: drain.doneAt - drain.pendingSeenAt,
      lastReplyMs: pushes.last - pushes.first,
      pushes: pushes.count,
      failedPushes: pushes.failed,
      httpMs: pushes.httpMs,
    };
  } finally {
    await context.close();
    await server.stop();
  }
}

// ---- PouchDB -----------------------------------------------------------------

function version(pkg) {
  return JSON.parse(readFileSync(join(BENCH_DIR, "node_modules", pkg, "package.json"), "utf8")).version;
}

/** pouchdb-browser bundled into one script that sets `window.PouchDB`. */
async function pouchBundle() {
  const result = await esbuild.build({
    entryPoints: [join(BENCH_DIR, "node_modules/pouchdb-browser/lib/index.es.js")],
    bundle: true,
    format: "iife",
    globalName: "__PouchModule",
    platform: "browser",
    minify: true,
    write: false,
    logLevel: "warning",
  });
  return `${result.outputFiles[0].text}\nwindow.PouchDB = __PouchModule.default;`;
}

async function benchPouch(policy) {
  const dir = scratchDir();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  // Request logging off, as haven_server runs with RUST_LOG=warn.
  writeFileSync(join(dir, "config.json"), JSON.stringify({ log: { level: "error" } }));
  const server = startProcess(
    "pouchdb-server",
    process.execPath,
    [
      join(BENCH_DIR, "node_modules/pouchdb-server/bin/pouchdb-server"),
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--dir",
      join(dir, "db"),
      "--config",
      join(dir, "config.json"),
      "--no-stdout-logs",
      "--no-color",
    ],
    { cwd: dir },
  );
  const context = await browser.newContext();
  try {
    await context.addInitScript({ content: PAGE_HELPERS });
    await waitForHttp(server, `${base}/`);
    const info = await json(`${base}/`);
    await json(`${base}/bench`, { method: "PUT" });
    const script = await pouchBundle();

    const page = await context.newPage();
    const pageErrors = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    let requests = 0;
    let httpMs = 0;
    page.on("request", (r) => {
      if (r.url().startsWith(`${base}/bench`)) requests += 1;
    });
    page.on("requestfinished", (r) => {
      if (r.url().startsWith(`${base}/bench`)) httpMs += httpTime(r);
    });
    // A page on the server's own origin: replication is same-origin, as Haven's is.
    await page.goto(`${base}/`);
    await page.addScriptTag({ content: script });
    const deviceId = await page.evaluate(() => window.__benchUuidV7());
    const result = await page.evaluate(
      async ({ count, policy, deviceId }) => {
        const db = new window.PouchDB("haven-bench");
        const now = Date.now();
        const seedStarted = performance.now();
        for (let start = 0; start < count; start += 1000) {
          const docs = [];
          for (let i = start; i < Math.min(count, start + 1000); i++) {
            docs.push({ _id: window.__benchUuidV7(), ...window.__benchSignatureFields(policy, deviceId, i, now) });
          }
          const res = await db.bulkDocs(docs);
          const bad = res.find((r) => r.error);
          if (bad) throw new Error(`bulkDocs: ${JSON.stringify(bad)}`);
        }
        const seedMs = performance.now() - seedStarted;
        const local = await db.info();
        const started = performance.now();
        const rep = await db.replicate.to(`${location.origin}/bench`);
        const replicateMs = performance.now() - started;
        return {
          seedMs,
          replicateMs,
          localDocs: local.doc_count,
          adapter: db.adapter,
          ok: rep.ok,
          docsWritten: rep.docs_written,
          errors: rep.errors.length,
        };
      },
      { count: RECORDS, policy, deviceId },
    );
    const remote = await json(`${base}/bench`);
    if (!result.ok || result.errors) throw new Error(`replication failed: ${JSON.stringify(result)}`);
    if (remote.doc_count !== RECORDS) throw new Error(`pouchdb-server holds ${remote.doc_count} documents, expected ${RECORDS}`);
    if (pageErrors.length) throw new Error(`errors in the page: ${pageErrors.join("; ")}`);
    return { ...result, requests, httpMs, backend: remote.backend_adapter ?? info["pouchdb-adapters"]?.join(",") };
  } finally {
    await context.close();
    await server.stop();
  }
}

// ---- the run -------------------------------------------------------------------

function demoPolicy() {
  // The visitor agreement as the server lists it: its version id and text digest.
  return (async () => {
    const dir = scratchDir();
    const port = await freePort();
    const server = await startHaven(port, join(dir, "haven.sqlite3"));
    try {
      const list = await json(`http://127.0.0.1:${port}/api/v1/policies`);
      const visitor = list.find((p) => p.kind === "visitor_aua");
      if (!visitor) throw new Error("the demo data has no visitor agreement");
      return { id: visitor.id, text_sha256: visitor.text_sha256 };
    } finally {
      await server.stop();
    }
  })();
}

const rate = (ms) => (RECORDS / (ms / 1000)).toFixed(0);
const secs = (ms) => (ms / 1000).toFixed(2);
const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function main() {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const policy = await demoPolicy();
    const havens = [];
    const pouches = [];
    for (let run = 0; run < RUNS; run++) {
      // Alternate which goes first, so neither always meets a cold disk cache.
      const order = run % 2 === 0 ? ["Haven", "PouchDB"] : ["PouchDB", "Haven"];
      for (const side of order) {
        console.error(`sync drain bench: run ${run + 1} of ${RUNS}, ${side}`);
        if (side === "Haven") havens.push(await benchHaven(policy));
        else pouches.push(await benchPouch(policy));
      }
    }
    const haven = median(havens.map((h) => h.fromLoadMs));
    const pouch = median(pouches.map((p) => p.replicateMs));
    const ratio = pouch / haven;
    const list = (xs) => xs.map((ms) => secs(ms)).join(", ");
    const rows = [
      ["Haven PWA -> haven_server, page load to outbox empty", haven],
      ["Haven PWA -> haven_server, badge shows the backlog to outbox empty", median(havens.map((h) => h.fromBadgeMs))],
      [`PouchDB ${version("pouchdb-browser")} -> pouchdb-server ${version("pouchdb-server")}, replicate.to`, pouch],
    ];
    console.log(`\nSync drain: ${RECORDS} queued records, headless Chromium ${browser.version()} -> 127.0.0.1, median of ${RUNS}`);
    console.log(`${"".padEnd(78)} ${"time".padStart(9)} ${"records/s".padStart(10)}`);
    for (const [label, ms] of rows) {
      console.log(`  ${label.padEnd(76)} ${`${secs(ms)} s`.padStart(9)} ${rate(ms).padStart(10)}`);
    }
    console.log(`  ${"Haven / PouchDB (records/s, page load vs replicate.to)".padEnd(76)} ${`${ratio.toFixed(2)}x`.padStart(9)}`);
    console.log(`  Runs, in order: Haven ${list(havens.map((h) => h.fromLoadMs))} s; PouchDB ${list(pouches.map((p) => p.replicateMs))} s.`);
    const h = havens[havens.length - 1];
    const p = pouches[pouches.length - 1];
    console.log(
      `  Haven (last run): ${h.pushes} pushes (${h.failedPushes} failed), ${secs(h.httpMs)} s of it ` +
        `waiting on HTTP; last reply ${secs(h.lastReplyMs)} s after the first; seeding IndexedDB took ${secs(h.seedMs)} s.`,
    );
    console.log(
      `  PouchDB (last run): ${p.requests} requests (${secs(p.httpMs)} s waiting on HTTP), ` +
        `${p.docsWritten} docs written, local adapter ${p.adapter}, ` +
        `server backend ${p.backend}; seeding took ${secs(p.seedMs)} s.`,
    );
    console.log(
      "  Durability: haven_server commits each push with SQLite synchronous=FULL (fsync before the reply); " +
        "pouchdb-server's LevelDB does not fsync by default.",
    );

    if (OUT) {
      appendFileSync(
        OUT,
        [
          `Haven PWA -> haven_server, ${RECORDS} records, page load to drained\t${rate(haven)} records/s (${secs(haven)} s, median of ${RUNS})`,
          `PouchDB -> pouchdb-server, ${RECORDS} docs, replicate.to\t${rate(pouch)} records/s (${secs(pouch)} s, median of ${RUNS})`,
          `Haven / PouchDB\t${ratio.toFixed(2)}x`,
          "",
        ].join("\n"),
      );
    }
  } finally {
    await browser.close();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`\nsync drain bench: ${e.stack ?? e}`);
    process.exit(1);
  },
);

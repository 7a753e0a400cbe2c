// Shared pieces for the end-to-end tests: the real server binary on loopback
// with a fresh SQLite file, and the system Chromium driven by playwright-core.
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const SERVER_BIN = process.env.HAVEN_SERVER_BIN ?? "target/debug/haven_server";
const DIST = process.env.HAVEN_DIST ?? "dist";
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

export const ADMIN = { email: "admin@riverside.example", password: "haven-demo-2026" };

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** A scratch folder for one test's database, removed by `cleanup()`. */
export function scratchDir() {
  const dir = mkdtempSync(join(tmpdir(), "haven-e2e-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Starts haven_server and waits until /api/v1/health answers. `env` is added
 * to its environment (a test hook such as `HAVEN_TEST_PUSH_PAUSE_MS`, or a
 * `RUST_LOG` level other than "warn" so `waitForLog` can see info lines).
 */
export async function startServer({ port, database, staticDir = DIST, env = {} }) {
  const proc = spawn(
    SERVER_BIN,
    // The e2e tests sign in as the demo accounts.
    ["--bind", `127.0.0.1:${port}`, "--database", database, "--static-dir", staticDir, "--demo"],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, RUST_LOG: "warn", ...env } },
  );
  let output = "";
  proc.stdout.on("data", (d) => (output += d));
  proc.stderr.on("data", (d) => (output += d));
  const exited = new Promise((resolve) => proc.on("exit", resolve));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`haven_server exited early:\n${output}`);
    try {
      const res = await fetch(`${base}/api/v1/health`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`haven_server did not start:\n${output}`);
    await sleep(100);
  }
  return {
    base,
    /** Everything it has written to stdout and stderr so far. */
    output: () => output,
    /**
     * Waits until its output holds `count` lines matching `pattern` (counted
     * from character `from` of the output, so a test can ignore what came
     * before some step); returns how many it found.
     */
    async waitForLog(pattern, { count = 1, from = 0, ms = 30_000 } = {}) {
      return eventually(
        () => {
          if (proc.exitCode !== null) throw new Error(`haven_server exited:\n${output}`);
          const n = output.slice(from).split("\n").filter((line) => pattern.test(line)).length;
          return n >= count ? n : false;
        },
        ms,
        `${count} server log line(s) matching ${pattern}`,
      );
    },
    /** Kills the process outright, as a crash or a pulled plug would. */
    async kill() {
      proc.kill("SIGKILL");
      await exited;
    },
    /** Asks it to shut down gracefully. */
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      await exited;
    },
  };
}

/**
 * A fresh server (with its own SQLite file) and browser for one test, both
 * stopped and the folder removed when the test ends.
 */
export async function serverAndBrowser(t) {
  const scratch = scratchDir();
  const port = await freePort();
  const server = await startServer({ port, database: join(scratch.dir, "haven.sqlite3") });
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await server.stop();
    scratch.cleanup();
  });
  return { server, browser, scratch };
}

export const chromiumPath = CHROMIUM;
export const distDir = DIST;
export const chromiumArgs = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export async function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, args: chromiumArgs });
}

export async function adminToken(base, person = ADMIN) {
  const res = await fetch(`${base}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: person.email, password: person.password }),
  });
  if (!res.ok) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  return (await res.json()).token;
}

export async function getJson(url, token) {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Polls `check` until it returns a truthy value or `ms` pass. */
export async function eventually(check, ms = 30_000, what = "condition") {
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
    await sleep(250);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until a service worker controls the page and has cached the page's
 * own build (the full app is cached the first time one of its pages is
 * opened), so reloads work offline.
 */
export async function waitForServiceWorker(page) {
  await page.evaluate(serviceWorkerHasTheBuild);
}

/**
 * Runs in the page: resolves once a service worker controls it and has
 * cached the page's own build. Shared with the engine journeys' driver.
 */
export async function serviceWorkerHasTheBuild() {
  await navigator.serviceWorker.ready;
  if (!navigator.serviceWorker.controller) {
    await new Promise((r) => navigator.serviceWorker.addEventListener("controllerchange", r, { once: true }));
  }
  const files = [...document.querySelectorAll("link[rel=modulepreload], link[rel=preload]")].map(
    (link) => new URL(link.href).pathname,
  );
  for (;;) {
    const hits = await Promise.all(files.map((f) => caches.match(f)));
    if (hits.every(Boolean)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Demo staff, all with the demo password. */
export const STAFF = {
  teacher: { email: "teacher@oakfield.example", password: ADMIN.password, name: "Tom Reilly" },
  dsl: { email: "dsl@oakfield.example", password: ADMIN.password, name: "Grace Mensah" },
  head: { email: "head@oakfield.example", password: ADMIN.password, name: "Helen Okafor" },
};

export const OAKFIELD_ID = "01980a00-0000-7000-8000-000000000302";

export async function postJson(url, token, body) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? null : res.json();
}

/**
 * Enrols the page's device as an Oakfield reception kiosk through the app's
 * own /enrol page, with a code made by the demo admin, so it may push.
 */
export async function enrolDevice(page, base, { kind = "reception_kiosk", label = "Front desk" } = {}) {
  const token = await adminToken(base);
  const { code } = await postJson(`${base}/api/v1/devices/codes`, token, { academy_id: OAKFIELD_ID, kind, label });
  await page.goto(`${base}/enrol`);
  await page.getByLabel("Enrolment code").fill(code);
  await page.getByRole("button", { name: "Enrol" }).click();
  await page.getByTestId("enrolled").waitFor();
  return code;
}

/** Signs a staff member in through /signin, choosing `pin` (or "Not now"). */
export async function signIn(page, base, person, { pin } = {}) {
  await page.goto(`${base}/signin`);
  await page.getByLabel("Email address").fill(person.email);
  await page.getByLabel("Password").fill(person.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Choose a PIN for this device" }).waitFor();
  if (pin) {
    await page.getByLabel("PIN", { exact: true }).fill(pin);
    await page.getByLabel("Type the PIN again").fill(pin);
    await page.getByRole("button", { name: "Save PIN" }).click();
  } else {
    await page.getByRole("button", { name: "Not now" }).click();
  }
  await page.getByTestId("signed-in-as").waitFor();
}

const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
const AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"];

/** axe-core's WCAG 2.2 A/AA violations on the page (needs a context with `bypassCSP`). */
export async function axeViolations(page) {
  await page.addScriptTag({ path: AXE });
  return page.evaluate(async (tags) => {
    const result = await window.axe.run(document, { runOnly: { type: "tag", values: tags } });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5),
    }));
  }, AXE_TAGS);
}

/**
 * What the app's IndexedDB holds: `{ store: [values] }` for the named stores
 * (every store if none are named), read in the page as the app stores them.
 */
export async function idbContents(page, stores = []) {
  return page.evaluate(async (wanted) => {
    const db = await new Promise((ok, no) => {
      const r = indexedDB.open("haven");
      r.onsuccess = () => ok(r.result);
      r.onerror = () => no(r.error);
    });
    const names = wanted.length ? wanted : [...db.objectStoreNames];
    const out = {};
    for (const name of names) {
      out[name] = await new Promise((ok) => {
        const r = db.transaction(name).objectStore(name).getAll();
        r.onsuccess = () => ok(r.result);
      });
    }
    db.close();
    return out;
  }, stores);
}

/**
 * Presses Tab (as a keyboard user does) until the focused element matches
 * `css`; fails if `max` presses never reach it.
 */
export async function tabTo(page, css, { max = 80 } = {}) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    if (await page.evaluate((c) => document.activeElement?.matches(c) ?? false, css)) return;
  }
  const at = await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 120));
  throw new Error(`${max} presses of Tab never reached ${css}; focus is on ${at}`);
}

/** RFC 6238 code for a base32 secret, as an authenticator app makes it. */
export function totp(secret, now = Date.now()) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(now / 30_000)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[19] & 0xf;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(code).padStart(6, "0");
}

/**
 * Everything in every IndexedDB store of the page's origin, as one string:
 * values serialised whole, and the bytes of any binary value (ArrayBuffer,
 * typed array, Blob) read as text too, so a secret kept as bytes is found.
 */
export async function idbText(page) {
  return page.evaluate(async () => {
    const dbs = (await indexedDB.databases()).map((d) => d.name);
    const parts = [];
    const decoder = new TextDecoder("latin1");
    const walk = async (v) => {
      if (v instanceof Blob) return decoder.decode(await v.arrayBuffer());
      if (v instanceof ArrayBuffer) return decoder.decode(v);
      if (ArrayBuffer.isView(v)) return decoder.decode(v.buffer);
      if (Array.isArray(v)) return Promise.all(v.map(walk));
      if (v && typeof v === "object" && !(v instanceof CryptoKey)) {
        const out = {};
        for (const [k, x] of Object.entries(v)) out[k] = await walk(x);
        return out;
      }
      return v;
    };
    for (const name of dbs) {
      const db = await new Promise((ok, no) => {
        const r = indexedDB.open(name);
        r.onsuccess = () => ok(r.result);
        r.onerror = () => no(r.error);
      });
      for (const store of db.objectStoreNames) {
        const [keys, values] = await Promise.all(
          ["getAllKeys", "getAll"].map(
            (m) =>
              new Promise((ok) => {
                const r = db.transaction(store).objectStore(store)[m]();
                r.onsuccess = () => ok(r.result);
              }),
          ),
        );
        parts.push(JSON.stringify({ store, keys: await walk(keys), values: await walk(values) }));
      }
      db.close();
    }
    return parts.join("\n");
  });
}

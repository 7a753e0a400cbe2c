// What bench/lighthouse.mjs and bench/reader_open.mjs share: the release
// server on a free loopback port with a scratch database, processes and
// folders that never outlive the script, a watchdog, and small HTTP helpers.
// (bench/sync_drain.mjs predates this file and keeps its own copies.)

import { spawn } from "node:child_process";
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(BENCH_DIR, "..");
export const SERVER_BIN = resolve(ROOT, process.env.HAVEN_SERVER_BIN ?? "target/release/haven_server");
export const DIST = resolve(ROOT, process.env.HAVEN_DIST ?? "dist");
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
export const ADMIN = { email: "admin@riverside.example", password: "haven-demo-2026" };
/** Chromium flags for every bench: quiet, no GPU, no calls home. */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function positive(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name}=${raw} is not a positive whole number`);
  return n;
}

/** Appends `label<TAB>value` lines to HAVEN_BENCH_OUT, if set (the xtask summary). */
export function report(lines) {
  const out = process.env.HAVEN_BENCH_OUT;
  if (out) appendFileSync(out, lines.map((l) => `${l}\n`).join(""));
}

// ---- processes and folders that must not outlive the bench ----------------

const children = new Set();
const scratchDirs = new Set();

function cleanUpNow() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
}

/** Stops children and removes scratch folders on exit, a signal, or after `seconds`. */
export function guard(name, seconds) {
  process.on("exit", cleanUpNow);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => {
      console.error(`\n${name}: ${signal}, stopping`);
      process.exit(130);
    });
  }
  const watchdog = setTimeout(() => {
    console.error(`\n${name}: gave up after ${seconds} s`);
    process.exit(1);
  }, seconds * 1000);
  watchdog.unref();
}

export function scratchDir() {
  const dir = mkdtempSync(join(tmpdir(), "haven-bench-"));
  scratchDirs.add(dir);
  return dir;
}

/** Starts a process, keeps the end of its output for error messages, and tracks it. */
export function startProcess(what, command, args, options = {}) {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
  children.add(child);
  let output = "";
  const keep = (d) => {
    output = (output + d).slice(-8_000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  child.on("error", (e) => keep(`\n${e}`));
  return {
    child,
    what,
    exited,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
      children.delete(child);
    },
  };
}

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

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `url` until it answers 2xx, the process dies, or `ms` pass. */
export async function waitForHttp(proc, url, ms = 30_000) {
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
export async function eventually(what, check, ms = 30_000) {
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

export async function json(url, init = {}) {
  const res = await fetch(url, init);
  const text = await res.text();
  if (!res.ok) throw new Error(`${init.method ?? "GET"} ${url}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/** The release server with demo data on `port`, its SQLite file at `database`. */
export async function startHaven(port, database) {
  const proc = startProcess(
    "haven_server",
    SERVER_BIN,
    ["--bind", `127.0.0.1:${port}`, "--database", database, "--static-dir", DIST, "--demo"],
    { env: { ...process.env, RUST_LOG: "warn" } },
  );
  await waitForHttp(proc, `http://127.0.0.1:${port}/api/v1/health`);
  return proc;
}

/** The demo admin's bearer token. */
export async function adminToken(base) {
  const { token } = await json(`${base}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(ADMIN),
  });
  return token;
}

/** The value at quantile `q` (0..1) of `values`, nearest rank. */
export function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1];
}

/** The median, averaging the middle two of an even count. */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

// Lighthouse (npm `lighthouse`, its default mobile preset: a mid-range phone
// on a slow 4G connection, simulated) against the release haven_server with a
// scratch database and the demo data, in the system Chromium. Six pages: the
// home page, the online safety policy in the reader, the visitor agreement's
// sign page, a parent's invitation link (a new one each run, since the app
// uses it up), a receipt check, and /kiosk (the reception welcome screen; the
// server's demo data enrols no kiosk, so it shows the "enrol this device"
// prompt). All but the kiosk load the reader build (see
// crates/haven_core/src/shell.rs); the policy, sign, invitation and receipt
// pages arrive with their content in the HTML (http/prerender.rs). Prints
// the performance, accessibility and best-practices scores and
// LCP, TBT and CLS per page; judges none of them. Run by `cargo xtask bench`,
// or by hand after a release build of the PWA into dist/,
// `cargo build --release -p haven_server` and `npm ci --ignore-scripts` here:
//
//   node bench/lighthouse.mjs
//
// Environment: HAVEN_SERVER_BIN, HAVEN_DIST, CHROMIUM (as in sync_drain.mjs),
// LIGHTHOUSE_RUNS (3: each figure is the median of the runs, as one run
// varies by several points on a small machine),
// LIGHTHOUSE_REPORTS (a folder for the JSON and HTML reports; default a
// scratch folder that is removed), BENCH_TIMEOUT_S (600), HAVEN_BENCH_OUT.
//
// Lighthouse starts a fresh Chromium profile for every run, and Haven is
// offline-first: a policy page shows its text only after the first sync has
// stored the policies in IndexedDB. So the reader and sign pages are measured
// as a first-time visitor meets them (the app starts, syncs, then renders the
// policy), not as a returning reader (see reader_open.mjs for that).
//
// Nothing leaves the machine: Chromium resolves no host but 127.0.0.1 (every
// other name fails to resolve), Lighthouse's error reporting is off, and
// CHROME_PATH points Lighthouse at the system Chromium, so it downloads none.

import { mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  BENCH_DIR,
  adminToken,
  CHROMIUM,
  ROOT,
  freePort,
  guard,
  json,
  median,
  positive,
  report,
  scratchDir,
  startHaven,
  startProcess,
} from "./support.mjs";

const RUNS = positive("LIGHTHOUSE_RUNS", 3);
const TIMEOUT_S = positive("BENCH_TIMEOUT_S", 600);
const REPORTS = process.env.LIGHTHOUSE_REPORTS ? resolve(ROOT, process.env.LIGHTHOUSE_REPORTS) : null;
const LIGHTHOUSE_CLI = join(BENCH_DIR, "node_modules/lighthouse/cli/index.js");
/** crates/haven_server/src/demo.rs: ONLINE_SAFETY_VERSION_ID, VISITOR_AUA_VERSION_ID. */
const ONLINE_SAFETY_VERSION_ID = "01980a00-0000-7000-8000-000000000101";
const VISITOR_AUA_VERSION_ID = "01980a00-0000-7000-8000-000000000103";
const CHROME_FLAGS = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  // Every host name but the bench server's fails to resolve.
  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
];

guard("lighthouse bench", TIMEOUT_S);

function version() {
  return JSON.parse(readFileSync(join(BENCH_DIR, "node_modules/lighthouse/package.json"), "utf8")).version;
}

/** One Lighthouse run of `url`; returns the parsed JSON report. */
async function lighthouse(url, outBase) {
  const proc = startProcess(
    "lighthouse",
    process.execPath,
    [
      LIGHTHOUSE_CLI,
      url,
      "--output=json",
      "--output=html",
      `--output-path=${outBase}`,
      "--only-categories=performance,accessibility,best-practices",
      `--chrome-flags=${CHROME_FLAGS.join(" ")}`,
      "--disable-full-page-screenshot",
      "--no-enable-error-reporting",
      "--max-wait-for-load=60000",
      "--quiet",
    ],
    { env: { ...process.env, CHROME_PATH: CHROMIUM } },
  );
  const { code, signal } = await proc.exited;
  if (code !== 0) throw new Error(`lighthouse ${url} exited with ${code ?? signal}:\n${proc.output()}`);
  const lhr = JSON.parse(readFileSync(`${outBase}.report.json`, "utf8"));
  if (lhr.runtimeError) throw new Error(`lighthouse ${url}: ${lhr.runtimeError.code} ${lhr.runtimeError.message}`);
  return lhr;
}

/** The figures the table shows, from one report. */
function figures(lhr) {
  const score = (c) => (lhr.categories[c]?.score == null ? NaN : lhr.categories[c].score * 100);
  const value = (a) => lhr.audits[a]?.numericValue ?? NaN;
  return {
    performance: score("performance"),
    accessibility: score("accessibility"),
    bestPractices: score("best-practices"),
    lcp: value("largest-contentful-paint"),
    tbt: value("total-blocking-time"),
    cls: value("cumulative-layout-shift"),
    fcp: value("first-contentful-paint"),
    warnings: lhr.runWarnings ?? [],
    failed: [
      ...Object.values(lhr.categories)
        .filter((c) => c.id !== "performance")
        .flatMap((c) => c.auditRefs.filter((r) => r.weight > 0).map((r) => lhr.audits[r.id]))
        .filter((a) => a && a.score !== null && a.score < 1)
        .map((a) => a.id),
    ],
  };
}

function medianOf(runs) {
  const keys = ["performance", "accessibility", "bestPractices", "lcp", "tbt", "cls", "fcp"];
  const out = Object.fromEntries(keys.map((k) => [k, median(runs.map((r) => r[k]))]));
  out.warnings = [...new Set(runs.flatMap((r) => r.warnings))];
  out.failed = [...new Set(runs.flatMap((r) => r.failed))];
  return out;
}

/**
 * One Lighthouse run, tried once more if Chrome's trace missed the page's
 * start (NO_NAVSTART, Lighthouse's own flake on a busy machine). An invitation
 * link used up by a failed run is not retried.
 */
async function lighthouseOnce(url, out) {
  try {
    return await lighthouse(url, out);
  } catch (e) {
    if (!String(e).includes("NO_NAVSTART") || url.includes("/join/")) throw e;
    console.error(`lighthouse bench: ${url}: the trace missed the page's start; running it again`);
    return lighthouse(url, out);
  }
}

/** `count` parent invitation links (paths), one parent each, from the demo admin. */
async function invitationLinks(base, count) {
  const token = await adminToken(base);
  let csv = "Pupil name,Class,Academy,Parent/carer name,Email\n";
  for (let i = 0; i < count; i++) {
    csv += `Pupil ${i},Year 3,Oakfield Primary Academy,Parent ${i},parent${i}@example.org\n`;
  }
  const report = await json(`${base}/api/v1/parent-invitations/import`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ csv }),
  });
  return report.invitations.map((i) => i.link_path);
}

async function main() {
  const dir = scratchDir();
  const reports = REPORTS ?? join(dir, "reports");
  mkdirSync(reports, { recursive: true });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = await startHaven(port, join(dir, "haven.sqlite3"));
  try {
    // The demo ids the pages use must be the server's.
    const list = await json(`${base}/api/v1/policies`);
    for (const [id, kind] of [
      [ONLINE_SAFETY_VERSION_ID, "esafety_policy"],
      [VISITOR_AUA_VERSION_ID, "visitor_aua"],
    ]) {
      if (!list.some((p) => p.id === id && p.kind === kind)) {
        throw new Error(`the demo data has no ${kind} version ${id}; see crates/haven_server/src/demo.rs`);
      }
    }
    // A parent's link is used up by the app that opens it: one per run.
    const links = await invitationLinks(base, RUNS);
    const pages = [
      // All but the kiosk are the reader build; the kiosk is the full app.
      ["home", "/"],
      ["policy (online safety)", `/policies/${ONLINE_SAFETY_VERSION_ID}`],
      ["sign (visitor agreement)", `/sign/${VISITOR_AUA_VERSION_ID}`],
      ["invitation (a parent's link)", (run) => links[run]],
      // No record has this code: the page and its answer are what is measured.
      ["verify (a receipt code)", "/verify/K7M2QX"],
      ["kiosk (not enrolled, full app)", "/kiosk"],
    ];
    const rows = [];
    for (const [name, at] of pages) {
      const runs = [];
      const path = typeof at === "function" ? "/join/…" : at;
      for (let i = 0; i < RUNS; i++) {
        const slug = name.split(" ")[0];
        const url = `${base}${typeof at === "function" ? at(i) : at}`;
        console.error(`lighthouse bench: ${path} (run ${i + 1} of ${RUNS})`);
        runs.push(figures(await lighthouseOnce(url, join(reports, `${slug}-${i + 1}`))));
      }
      rows.push({ name, path, ...medianOf(runs) });
    }

    const n = (v, digits = 0) => (Number.isNaN(v) ? "?" : v.toFixed(digits));
    console.log(
      `\nLighthouse ${version()}, mobile preset (simulated slow 4G, 4x CPU slowdown), headless Chromium, ` +
        `release server on 127.0.0.1, fresh profile per run` +
        (RUNS > 1 ? `, median of ${RUNS} runs` : ""),
    );
    console.log(
      `  ${"page".padEnd(36)} ${"perf".padStart(5)} ${"a11y".padStart(5)} ${"best".padStart(5)} ` +
        `${"LCP ms".padStart(7)} ${"TBT ms".padStart(7)} ${"CLS".padStart(6)} ${"FCP ms".padStart(7)}`,
    );
    for (const r of rows) {
      console.log(
        `  ${r.name.padEnd(36)} ${n(r.performance).padStart(5)} ${n(r.accessibility).padStart(5)} ` +
          `${n(r.bestPractices).padStart(5)} ${n(r.lcp).padStart(7)} ${n(r.tbt).padStart(7)} ` +
          `${n(r.cls, 3).padStart(6)} ${n(r.fcp).padStart(7)}`,
      );
    }
    for (const r of rows) {
      if (r.failed.length) console.log(`  ${r.path}: accessibility/best-practices audits below 100: ${r.failed.join(", ")}`);
      for (const w of r.warnings) console.log(`  ${r.path}: warning: ${w}`);
    }
    console.log(
      "  The app is offline-first: with a fresh profile the app shows a policy only after " +
        "the first sync has stored it in IndexedDB; until then the policy, sign, invitation and receipt pages show the server's copy.",
    );
    if (REPORTS) console.log(`  Reports: ${REPORTS}`);

    report(
      rows.map(
        (r) =>
          `Lighthouse ${r.path}\tperf ${n(r.performance)}, a11y ${n(r.accessibility)}, best ${n(r.bestPractices)}; ` +
          `LCP ${n(r.lcp)} ms, TBT ${n(r.tbt)} ms, CLS ${n(r.cls, 3)}`,
      ),
    );
  } finally {
    await server.stop();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`\nlighthouse bench: ${e.stack ?? e}`);
    process.exit(1);
  },
);

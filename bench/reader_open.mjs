// Time to open and render a 50 KB policy in the reader from IndexedDB:
// release build, headless Chromium, median and p95 of 20. Run by
// `cargo xtask bench`, or by hand after a release build of the PWA into
// dist/ and `cargo build --release -p haven_server`:
//
//   node bench/reader_open.mjs
//
// Environment: HAVEN_SERVER_BIN, HAVEN_DIST, CHROMIUM (as in sync_drain.mjs),
// READER_RUNS (20), READER_POLICY_BYTES (51200), BENCH_TIMEOUT_S (600),
// HAVEN_BENCH_OUT.
//
// The release server starts with a scratch database and the demo data; the
// demo admin publishes a policy of exactly READER_POLICY_BYTES of Markdown
// (numbered headings, paragraphs, lists and tables, made here, the same every
// time). The app is loaded once online, so its first sync stores every policy
// in IndexedDB and the service worker caches the shell. Then, after one
// unmeasured warm-up each, READER_RUNS times:
//
// 1. in-app: from the library (`/policies`), a click on the policy's link to
//    `[data-testid=policy-body]` holding the policy's last paragraph (the
//    router's navigation, the IndexedDB read, the Markdown rendering and the
//    DOM insertion);
// 2. offline reload: the server stopped, a fresh navigation to
//    `/policies/<id>`, from navigation start (the service worker serves the
//    shell, the wasm starts, the app opens IndexedDB) to the same point.
//
// A MutationObserver installed before any page script (an init script, which
// the app's Content Security Policy does not govern) records the moment with
// performance.now().

import { chromium } from "playwright-core";
import { join } from "node:path";
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  adminToken,
  eventually,
  freePort,
  guard,
  json,
  median,
  positive,
  quantile,
  report,
  scratchDir,
  startHaven,
} from "./support.mjs";

const RUNS = positive("READER_RUNS", 20);
const POLICY_BYTES = positive("READER_POLICY_BYTES", 50 * 1024);
const TIMEOUT_S = positive("BENCH_TIMEOUT_S", 600);
const SENTINEL = "End of the reader bench policy.";

guard("reader bench", TIMEOUT_S);

// ---- the policy ---------------------------------------------------------------

const TOPICS = [
  "Scope and aims",
  "Roles and responsibilities",
  "Filtering and monitoring",
  "Reporting a concern",
  "Mobile phones and personal devices",
  "Social media",
  "Online bullying",
  "Data protection",
  "Remote learning",
  "Training and awareness",
  "Incidents involving staff",
  "Review of this policy",
];
const WORDS = (
  "staff pupils parents governors trustees academy trust designated safeguarding lead online safety " +
  "filtering monitoring report concern record device account password network school day lesson " +
  "headteacher referral sanction review training incident evidence consent image message platform"
).split(" ");

/** A sentence of `n` words, the same for the same `seed`. */
function sentence(seed, n) {
  const words = [];
  for (let i = 0; i < n; i++) words.push(WORDS[(seed * 7 + i * 13 + ((seed * i) % 5)) % WORDS.length]);
  const s = words.join(" ");
  return `${s[0].toUpperCase()}${s.slice(1)}.`;
}

function paragraph(seed) {
  return [0, 1, 2, 3].map((i) => sentence(seed * 4 + i, 10 + ((seed + i) % 8))).join(" ");
}

function table(seed) {
  const rows = [
    "| Incident | Who is told | By when | How |",
    "| :--- | :--- | :---: | :--- |",
  ];
  for (let r = 0; r < 6; r++) {
    rows.push(
      `| ${sentence(seed + r, 5).slice(0, -1)} | ${WORDS[(seed + r) % WORDS.length]} lead | ` +
        `${["At once", "Same day", "Within 24 hours", "Next working day"][r % 4]} | ${sentence(seed * 3 + r, 4)} |`,
    );
  }
  return rows.join("\n");
}

/** Policy Markdown of exactly `bytes` bytes (UTF-8), ending with SENTINEL. */
function policyMarkdown(bytes) {
  const parts = [`This policy exists to measure the reader: ${paragraph(0)}`];
  const size = () => Buffer.byteLength(parts.join("\n\n"));
  const ending = `${SENTINEL}`;
  for (let s = 1; ; s++) {
    const section = [
      `## ${s}. ${TOPICS[(s - 1) % TOPICS.length]}`,
      paragraph(s),
      `### ${s}.1 What this means`,
      paragraph(s + 100),
      [0, 1, 2, 3].map((i) => `- ${sentence(s * 10 + i, 8)}`).join("\n"),
      `### ${s}.2 Who does what`,
      table(s),
      paragraph(s + 200),
    ].join("\n\n");
    // Stop when the next section would not leave room for the ending.
    if (size() + Buffer.byteLength(section) + 2 + ending.length + 200 > bytes) break;
    parts.push(section);
  }
  // Pad the last paragraph with words so the body is exactly `bytes` long.
  const room = bytes - size() - 2 - Buffer.byteLength(ending) - 1;
  let filler = "";
  for (let i = 0; filler.length < room; i++) filler += `${WORDS[i % WORDS.length]} `;
  parts.push(`${filler.slice(0, room).trimEnd().padEnd(room, ".")} ${ending}`);
  const markdown = parts.join("\n\n");
  if (Buffer.byteLength(markdown) !== bytes) {
    throw new Error(`made ${Buffer.byteLength(markdown)} bytes of Markdown, wanted ${bytes}`);
  }
  return markdown;
}

async function publish(base, markdown) {
  const token = await adminToken(base);
  return json(`${base}/api/v1/policies`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({
      title: `Reader bench policy (${(POLICY_BYTES / 1024).toFixed(0)} KB)`,
      kind: "other",
      audiences: [],
      body_markdown: markdown,
      approved_by: "Bench",
      effective_date: "2026-09-01",
      last_reviewed: "2026-07-14",
      next_review_due: "2027-07-31",
    }),
  });
}

// ---- the page -------------------------------------------------------------------

/** Records when the reader's body holds the policy's last paragraph. */
const OBSERVER = `
  window.__reader = { shownAt: null, startedAt: 0 };
  const check = () => {
    const state = window.__reader;
    if (state.shownAt !== null) return;
    const body = document.querySelector("[data-testid=policy-body]");
    const last = body && body.lastElementChild;
    if (last && last.textContent.includes(${JSON.stringify(SENTINEL)})) state.shownAt = performance.now();
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true });
`;

/** Whether the app's IndexedDB holds policy version `id`. */
async function stored(page, id) {
  return page.evaluate(async (id) => {
    const known = await indexedDB.databases();
    if (!known.some((d) => d.name === "haven" && d.version >= 1)) return false;
    const db = await new Promise((resolve, reject) => {
      const req = indexedDB.open("haven");
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    try {
      if (![...db.objectStoreNames].includes("policies")) return false;
      const found = await new Promise((resolve, reject) => {
        const req = db.transaction("policies").objectStore("policies").get(id);
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      return Boolean(found);
    } finally {
      db.close();
    }
  }, id);
}

async function waitShown(page, what) {
  await page.waitForFunction(() => window.__reader && window.__reader.shownAt !== null, null, {
    timeout: 60_000,
    polling: 20,
  }).catch((e) => {
    throw new Error(`${what}: the policy body never showed the policy (${e.message})`);
  });
  return page.evaluate(() => window.__reader.shownAt - window.__reader.startedAt);
}

async function main() {
  const dir = scratchDir();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let server = await startHaven(port, join(dir, "haven.sqlite3"));
  const markdown = policyMarkdown(POLICY_BYTES);
  const policy = await publish(base, markdown);
  const url = `/policies/${policy.id}`;

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const context = await browser.newContext();
    await context.addInitScript({ content: OBSERVER });
    const page = await context.newPage();
    const pageErrors = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));

    // Online once: the first sync stores the policies, the service worker the shell.
    await page.goto(`${base}/`);
    await eventually("the first sync to store the bench policy", () => stored(page, policy.id), 60_000);
    await page.evaluate(() =>
      Promise.race([
        navigator.serviceWorker.ready.then(() => true),
        new Promise((_, reject) => setTimeout(() => reject(new Error("no service worker after 30 s")), 30_000)),
      ]),
    );

    // 1. In-app: library -> reader, by a click on the policy's link.
    const link = `a[href="${url}"]`;
    await page.goto(`${base}/policies`);
    const inApp = [];
    for (let i = 0; i <= RUNS; i++) {
      await page.waitForSelector(link, { timeout: 30_000 });
      await page.evaluate((link) => {
        window.__reader.shownAt = null;
        window.__reader.startedAt = performance.now();
        document.querySelector(link).click();
      }, link);
      const ms = await waitShown(page, "in-app navigation");
      if (i > 0) inApp.push(ms);
      await page.evaluate(() => history.back());
    }

    // 2. Offline: the server stopped, a fresh navigation to the reader each time.
    await server.stop();
    server = null;
    const offline = [];
    for (let i = 0; i <= RUNS; i++) {
      await page.goto(`${base}${url}`, { waitUntil: "commit" });
      const ms = await waitShown(page, "offline reload");
      if (i > 0) offline.push(ms);
    }
    const htmlBytes = await page.evaluate(
      () => new Blob([document.querySelector("[data-testid=policy-body]").innerHTML]).size,
    );
    if (pageErrors.length) throw new Error(`errors in the page: ${pageErrors.join("; ")}`);

    const f = (ms) => `${ms.toFixed(0)} ms`;
    const rows = [
      ["in-app: library link click -> body rendered", inApp],
      ["offline reload: navigation start -> body rendered", offline],
    ];
    console.log(
      `\nReader: a ${(POLICY_BYTES / 1024).toFixed(0)} KB policy (${POLICY_BYTES} bytes of Markdown, ` +
        `${htmlBytes} bytes of HTML) from IndexedDB, headless Chromium ${browser.version()}, ` +
        `release build, ${RUNS} runs after a warm-up`,
    );
    console.log(`  ${"".padEnd(52)} ${"median".padStart(8)} ${"p95".padStart(8)} ${"min".padStart(8)} ${"max".padStart(8)}`);
    for (const [label, values] of rows) {
      console.log(
        `  ${label.padEnd(52)} ${f(median(values)).padStart(8)} ${f(quantile(values, 0.95)).padStart(8)} ` +
          `${f(Math.min(...values)).padStart(8)} ${f(Math.max(...values)).padStart(8)}`,
      );
    }
    report(
      rows.map(
        ([label, values]) =>
          `Reader, ${(POLICY_BYTES / 1024).toFixed(0)} KB policy, ${label.split(":")[0]}\t` +
          `median ${f(median(values))}, p95 ${f(quantile(values, 0.95))} (${RUNS} runs)`,
      ),
    );
  } finally {
    await browser.close();
    if (server) await server.stop();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`\nreader bench: ${e.stack ?? e}`);
    process.exit(1);
  },
);

// Time from the tap on "Sign" to the record durably stored in IndexedDB:
// release build, headless Chromium, p50 and p95 over SIGN_RUNS (200)
// signatures. Run by `cargo xtask bench`, or by hand after a release build of
// the PWA into dist/ and `cargo build --release -p haven_server`:
//
//   node bench/sign_latency.mjs
//
// Environment: HAVEN_SERVER_BIN, HAVEN_DIST, CHROMIUM, SIGN_RUNS (200),
// BENCH_TIMEOUT_S (600), HAVEN_BENCH_OUT.
//
// The app marks the tap (`performance.mark("haven-sign-tap")`, first thing in
// the form's submit handler) and measures to the moment the strict-durability
// IndexedDB transaction that holds the agreement, its outbox entry and the
// mutation counter has committed (`performance.measure("haven-sign-stored")`,
// when `db::record_signature` resolves). So the figure is what a person
// waits for between the tap and "Saved", the form's validation, the record's
// digest and the disk flush included, and Playwright's own overhead not.
// Each run signs with a drawn signature of 3 strokes and 60 points. The
// server is stopped first, so no sync competes for IndexedDB.

import { chromium } from "playwright-core";
import { join } from "node:path";
import {
  CHROMIUM,
  CHROMIUM_ARGS,
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

const RUNS = positive("SIGN_RUNS", 200);
const TIMEOUT_S = positive("BENCH_TIMEOUT_S", 600);

guard("sign latency bench", TIMEOUT_S);

async function drawSignature(page) {
  const pad = page.getByTestId("signature-pad");
  await pad.scrollIntoViewIfNeeded();
  const box = await pad.boundingBox();
  for (let stroke = 0; stroke < 3; stroke++) {
    const y = box.y + box.height * (0.4 + stroke * 0.1);
    await page.mouse.move(box.x + box.width * 0.1, y);
    await page.mouse.down();
    for (let i = 1; i <= 20; i++) {
      await page.mouse.move(box.x + box.width * (0.1 + i * 0.035), y - box.height * 0.15 * Math.sin(i / 2 + stroke));
    }
    await page.mouse.up();
  }
}

const dir = scratchDir();
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const server = await startHaven(port, join(dir, "haven.sqlite3"));
const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
try {
  const policies = await json(`${base}/api/v1/policies`);
  const visitor = policies.find((p) => p.kind === "visitor_aua");
  const page = await browser.newPage();
  await page.goto(`${base}/policies`);
  await page.getByTestId("policy-link").first().waitFor();
  await page.evaluate(() => navigator.serviceWorker.ready);
  await eventually("the service worker to control the page", async () => {
    await page.reload();
    return page.evaluate(() => !!navigator.serviceWorker.controller);
  });
  // No sync may compete with the writes being timed.
  await server.stop();

  const durations = [];
  for (let run = 0; run <= RUNS; run++) {
    await page.goto(`${base}/sign/${visitor.id}`);
    await page.getByLabel("Your full name").fill(`Bench Signer ${run}`);
    await drawSignature(page);
    await page.getByLabel(/I have read this agreement/).check();
    await page.getByRole("button", { name: "Sign", exact: true }).click();
    await page.getByTestId("signed").waitFor();
    const ms = await page.evaluate(() => {
      const entries = performance.getEntriesByName("haven-sign-stored");
      return entries.length ? entries[entries.length - 1].duration : null;
    });
    if (ms === null) throw new Error("the app did not measure haven-sign-stored");
    if (run > 0) durations.push(ms); // the first is a warm-up
  }
  const f = (ms) => `${ms.toFixed(1)} ms`;
  const line =
    `Sign: tap to durably stored in IndexedDB\t` +
    `p50 ${f(median(durations))}, p95 ${f(quantile(durations, 0.95))} (${RUNS} signatures)`;
  console.log(line.replace("\t", ": "));
  report([line]);
} finally {
  await browser.close();
  await server.stop();
}

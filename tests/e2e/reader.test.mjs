// The policy library and reader on a phone, with 100 policies stored and the
// server gone.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { adminToken, freePort, getJson, launchBrowser, scratchDir, startServer } from "./support.mjs";

async function publish(base, token, i) {
  const res = await fetch(`${base}/api/v1/policies`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({
      title: `Test policy ${String(i).padStart(3, "0")}`,
      kind: "other",
      audiences: ["staff"],
      body_markdown: `## 1. Purpose\n\nPolicy number ${i} explains the filtering rules.\n\n## 2. Detail\n\n| a | b |\n|---|---|\n| ${i} | x |\n`,
      approved_by: "Board of trustees",
      effective_date: "2026-09-01",
      last_reviewed: "2026-07-01",
      next_review_due: "2027-07-01",
    }),
  });
  assert.ok(res.ok, `publish ${i}: ${res.status} ${await res.text()}`);
}

test("the reader works offline with 100 policies stored", async (t) => {
  const scratch = scratchDir();
  const port = await freePort();
  const database = join(scratch.dir, "haven.sqlite3");
  let server = await startServer({ port, database });
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await server.stop();
    scratch.cleanup();
  });
  const token = await adminToken(server.base);
  const demo = await getJson(`${server.base}/api/v1/policies`);
  for (let i = demo.length; i < 100; i++) await publish(server.base, token, i);
  const all = await getJson(`${server.base}/api/v1/policies`);
  assert.equal(all.length, 100);
  const esafety = all.find((p) => p.kind === "esafety_policy");

  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  await page.goto(`${server.base}/policies`);
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
  });
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=policy-link]").length === 100, null, { timeout: 30_000 });

  await server.kill();
  await page.reload();
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=policy-link]").length === 100, null, { timeout: 15_000 });

  // Filter by kind, then open the e-safety policy.
  await page.getByLabel("Kind").selectOption({ label: "E-safety policy" });
  assert.equal(await page.getByTestId("policy-link").count(), 1);
  await page.getByTestId("policy-link").click();
  await page.getByTestId("policy-title").waitFor();
  assert.equal(await page.getByTestId("policy-title").textContent(), esafety.title);

  // Tables scroll inside themselves: the page itself never scrolls sideways.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone`);
  assert.ok((await page.locator(".policy-body table").count()) > 0, "the policy has tables");

  // Search highlights matches.
  await page.getByLabel("Search this document").fill("filtering");
  await page.getByTestId("search-result").filter({ hasText: /match/ }).waitFor();
  const marks = await page.locator(".policy-body mark").count();
  assert.ok(marks > 0, "matches are highlighted");
  assert.match(await page.getByTestId("search-result").textContent(), new RegExp(`^${marks} match`));

  // The contents list jumps to a section.
  await page.getByText("Contents").click();
  const second = page.locator("nav.contents li a").nth(1);
  const target = (await second.getAttribute("href")).slice(1);
  await second.click();
  assert.equal(await page.evaluate(() => document.activeElement?.id), target);

  // Text size grows and is remembered across a reload.
  const before = await page.evaluate(() => parseFloat(getComputedStyle(document.body).fontSize));
  await page.getByRole("button", { name: /larger text/ }).click();
  await page.getByRole("button", { name: /larger text/ }).click();
  await page.reload();
  await page.getByTestId("policy-title").waitFor();
  const after = await page.evaluate(() => parseFloat(getComputedStyle(document.body).fontSize));
  assert.ok(after > before * 1.2, `text grew from ${before}px to ${after}px`);
});

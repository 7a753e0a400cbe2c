// Content before code (crates/haven_server/src/http/prerender.rs,
// src/prerender.rs): a parent's link arrives with its page readable, while the
// test holds the WebAssembly back; when it arrives the app takes over in the
// same place, interactive, with what was typed kept.
import assert from "node:assert/strict";
import { test } from "node:test";
import { adminToken, getJson, postJson, serverAndBrowser } from "./support.mjs";

/** Holds every .wasm request until the returned function is called. */
async function holdWasm(context) {
  let release;
  const released = new Promise((r) => (release = r));
  await context.route(/\.wasm$/, async (route) => {
    await released;
    await route.continue();
  });
  return release;
}

const phone = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

/**
 * An init script: every layout shift, with whether any of its moved elements
 * is in the page's content or footer (the header's connection status may
 * change width as it learns it is online).
 */
function recordLayoutShifts() {
  window.__shifts = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const nodes = entry.sources.map((s) => s.node).filter(Boolean);
      window.__shifts.push({
        value: entry.value,
        inPage: nodes.some((n) => n.closest?.("main, footer")),
        moved: nodes.map((n) => n.outerHTML?.slice(0, 60)),
      });
    }
  }).observe({ type: "layout-shift", buffered: true });
}

/** The top of `locator`'s box on the page, to find any jump. */
const topOf = (locator) => locator.evaluate((el) => el.getBoundingClientRect().top + window.scrollY);

test("a policy is readable before the WebAssembly arrives, and the app takes over in place with the search typed", async (t) => {
  const { server, browser } = await serverAndBrowser(t);
  const policies = await getJson(`${server.base}/api/v1/policies`);
  const summary = policies.find((p) => p.kind === "esafety_policy");
  const policy = await getJson(`${server.base}/api/v1/policies/${summary.id}`);
  const context = await browser.newContext(phone);
  const release = await holdWasm(context);
  await context.addInitScript(recordLayoutShifts);
  const page = await context.newPage();
  await page.goto(`${server.base}/policies/${policy.id}`);

  // Readable with no WebAssembly: the title, the dates and the text.
  const copy = page.locator("#prerendered");
  await copy.getByRole("heading", { level: 1, name: policy.title }).waitFor();
  const firstLine = policy.body_markdown
    .split("\n")
    .find((l) => /^[A-Za-z]/.test(l) && l.length > 40)
    .slice(0, 40);
  assert.ok(await copy.getByText(firstLine, { exact: false }).first().isVisible(), firstLine);
  assert.equal(await page.getByTestId("policy-title").count(), 0, "the app is not running yet");
  const before = await topOf(copy.getByRole("heading", { level: 1 }));
  const searchBefore = await topOf(copy.getByLabel("Search this document"));

  // The reader starts typing into the search box.
  await copy.getByLabel("Search this document").fill("online");

  release();
  await page.getByTestId("policy-title").waitFor();
  assert.equal(await page.locator("#prerendered").count(), 0, "the copy is gone");
  assert.equal(await topOf(page.getByTestId("policy-title")), before, "the title did not move");
  assert.equal(await topOf(page.getByLabel("Search this document")), searchBefore, "the search box did not move");
  // What was typed is in the app's search, which is live: it found matches.
  assert.equal(await page.getByLabel("Search this document").inputValue(), "online");
  assert.match(await page.getByTestId("search-result").textContent(), /match/);
  assert.ok(await page.locator(".policy-body mark").count() > 0, "the app highlighted the matches");
  // Nothing in the page moved on the way: the app did not take over showing
  // something else first (it once showed "not on this device" for a frame,
  // while its own read of the policy the first sync had just stored was out).
  await page.waitForTimeout(500);
  const moved = await page.evaluate(() => window.__shifts.filter((s) => s.inPage));
  assert.deepEqual(moved, [], "no layout shift in the page's content or footer");
});

test("an invitation shows what there is to sign, not who, until the app opens it; a name typed on the sign page is kept", async (t) => {
  const { server, browser } = await serverAndBrowser(t);
  const admin = await adminToken(server.base);
  const report = await postJson(`${server.base}/api/v1/parent-invitations/import`, admin, {
    csv:
      "Pupil name,Class,Academy,Parent/carer name,Email\n" +
      "Amira Khan,Year 3,Oakfield Primary Academy,Sara Khan,sara@example.org\n",
  });
  const link = `${server.base}${report.invitations[0].link_path}`;
  const policies = await getJson(`${server.base}/api/v1/policies`);
  const parentAua = policies.find((p) => p.kind === "parent_aua");

  const context = await browser.newContext(phone);
  const release = await holdWasm(context);
  const page = await context.newPage();
  await page.goto(link);
  const copy = page.locator("#prerendered");
  await copy.getByRole("heading", { level: 1, name: "Online safety agreements" }).waitFor();
  assert.ok(await copy.getByText(parentAua.title).isVisible(), "what there is to sign is listed");
  const html = await page.content();
  for (const personal of ["Amira", "Sara", "Year 3"]) {
    assert.ok(!html.includes(personal), `${personal} is in the page before the app opened the link`);
  }
  release();
  await page.getByTestId("join-welcome").waitFor();
  assert.match(await page.getByTestId("join-welcome").textContent(), /Sara Khan/);
  assert.equal(await page.locator("#prerendered").count(), 0);

});

test("a name typed on the sign page before the app arrives is in its form, with the focus", async (t) => {
  const { server, browser } = await serverAndBrowser(t);
  const policies = await getJson(`${server.base}/api/v1/policies`);
  const visitorAua = policies.find((p) => p.kind === "visitor_aua");
  const context = await browser.newContext(phone);
  const release = await holdWasm(context);
  const page = await context.newPage();
  await page.goto(`${server.base}/sign/${visitorAua.id}`);
  const copy = page.locator("#prerendered");
  await copy.getByRole("heading", { level: 1, name: `Sign: ${visitorAua.title}` }).waitFor();
  const before = await topOf(copy.getByLabel("Your full name"));
  await copy.getByLabel("Your full name").fill("Sam Visitor");
  release();
  await copy.waitFor({ state: "detached" });
  const field = page.getByLabel("Your full name");
  assert.equal(await field.inputValue(), "Sam Visitor");
  assert.equal(await topOf(field), before, "the field did not move");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "signer-name", "the focus stayed in the field");
  // The app's form holds the name: signing without one would be refused.
  assert.equal(await page.locator("#signer-name-error").count(), 0);
});

// Keyboard use (WCAG 2.1.1, 2.4.7): a member of staff signs in and chooses a
// PIN with the keyboard alone, and every element that takes the focus on the
// pages people meet first shows a visible focus indicator.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { freePort, getJson, launchBrowser, scratchDir, startServer, STAFF, tabTo } from "./support.mjs";

async function setup(t) {
  const scratch = scratchDir();
  const port = await freePort();
  const server = await startServer({ port, database: join(scratch.dir, "haven.sqlite3") });
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await server.stop();
    scratch.cleanup();
  });
  return { server, page: await (await browser.newContext()).newPage() };
}

test("staff sign in and choose a PIN with the keyboard alone", async (t) => {
  const { server, page } = await setup(t);
  await page.goto(server.base);
  await page.getByRole("heading", { level: 1 }).waitFor();
  // The header's "Sign in" link, then the form.
  await tabTo(page, "a[href='/signin']");
  await page.keyboard.press("Enter");
  // The sign-in page is the full app's: a new page loads.
  await page.getByLabel("Email address").waitFor();
  await tabTo(page, "#signin-email");
  await page.keyboard.type(STAFF.teacher.email);
  await tabTo(page, "#signin-password");
  await page.keyboard.type(STAFF.teacher.password);
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Choose a PIN for this device" }).waitFor();
  await tabTo(page, "#pin-new");
  await page.keyboard.type("730461");
  await tabTo(page, "#pin-again");
  await page.keyboard.type("730461");
  await page.keyboard.press("Enter");
  await page.getByTestId("signed-in-as").waitFor();
  assert.equal((await page.getByTestId("signed-in-as").textContent()).trim(), STAFF.teacher.name);
});

test("everything that takes the focus shows it", async (t) => {
  const { server, page } = await setup(t);
  const policies = await getJson(`${server.base}/api/v1/policies`);
  const visitor = policies.find((p) => p.kind === "visitor_aua");
  await page.goto(`${server.base}/policies`);
  await page.getByTestId("policy-link").first().waitFor();
  const problems = [];
  for (const path of ["/", "/policies", `/sign/${visitor.id}`, "/signin", "/kiosk"]) {
    await page.goto(`${server.base}${path}`);
    await page.getByRole("heading", { level: 1 }).first().waitFor();
    const seen = new Set();
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press("Tab");
      const focus = await page.evaluate(() => {
        const el = document.activeElement;
        if (!el || el === document.body) return null;
        const style = getComputedStyle(el);
        const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
        const shadow = style.boxShadow !== "none";
        const label = `<${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}> ${(el.textContent || el.getAttribute("aria-label") || "").trim().slice(0, 30)}`;
        return { label, visible: outline || shadow };
      });
      if (!focus) continue;
      if (seen.has(focus.label)) break; // round the page once
      seen.add(focus.label);
      if (!focus.visible) problems.push(`${path}: ${focus.label} shows no focus`);
    }
    assert.ok(seen.size > 2, `${path}: Tab reached only ${seen.size} elements`);
  }
  assert.deepEqual(problems, []);
});

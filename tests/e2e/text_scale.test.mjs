// WCAG 1.4.4 and 2.3.3 in the browser: with text at 200% nothing is cut off
// or pushed sideways off the page, and with reduced motion asked for nothing
// animates (WCAG 1.4.4, 2.3.3); at 320 CSS pixels wide nothing scrolls
// sideways (1.4.10). Checked on the pages people meet first.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { freePort, getJson, launchBrowser, scratchDir, startServer } from "./support.mjs";

test("text at 200% fits the page, and reduced motion stops every animation", async (t) => {
  const scratch = scratchDir();
  const port = await freePort();
  const server = await startServer({ port, database: join(scratch.dir, "haven.sqlite3") });
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await server.stop();
    scratch.cleanup();
  });
  // The test adds a style sheet, which the app's CSP would (rightly) refuse.
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, reducedMotion: "reduce", bypassCSP: true });
  const page = await context.newPage();
  const policies = await getJson(`${server.base}/api/v1/policies`);
  const visitor = policies.find((p) => p.kind === "visitor_aua");
  const esafety = policies.find((p) => p.kind === "esafety_policy");
  await page.goto(`${server.base}/policies`);
  await page.getByTestId("policy-link").first().waitFor();

  const pages = [
    ["home", "/", () => page.getByRole("heading", { level: 1 }).waitFor()],
    ["policy list", "/policies", () => page.getByTestId("policy-link").first().waitFor()],
    ["policy reader", `/policies/${esafety.id}`, () => page.getByTestId("policy-body").waitFor()],
    ["sign page", `/sign/${visitor.id}`, () => page.getByLabel("Your full name").waitFor()],
    ["sign in", "/signin", () => page.getByLabel("Email address").waitFor()],
    ["kiosk", "/kiosk", () => page.getByRole("heading", { level: 1 }).waitFor()],
    ["incident form (locked)", "/incidents/new", () => page.getByRole("heading", { level: 1 }).waitFor()],
  ];
  const problems = [];
  for (const [name, path, ready] of pages) {
    await page.goto(`${server.base}${path}`);
    await ready();
    // Text at 200%, as the browser's text-size setting does it.
    await page.addStyleTag({ content: "html { font-size: 200% !important; }" });
    const found = await page.evaluate(() => {
      const out = [];
      const width = document.documentElement.clientWidth;
      if (document.documentElement.scrollWidth > width + 1) {
        out.push(`the page scrolls sideways: ${document.documentElement.scrollWidth}px wide in ${width}px`);
      }
      // Text clipped inside a box that does not scroll.
      for (const el of document.querySelectorAll("main *:not(.visually-hidden), header *:not(.visually-hidden)")) {
        const style = getComputedStyle(el);
        const clips = style.overflowX === "hidden" || style.overflow === "hidden";
        if (clips && el.scrollWidth > el.clientWidth + 1 && el.textContent.trim()) {
          out.push(`text clipped in <${el.tagName.toLowerCase()} class="${el.className}">`);
        }
      }
      // Reduced motion: nothing animates or transitions.
      for (const el of document.querySelectorAll("*")) {
        const style = getComputedStyle(el);
        const moving = (s) => s.split(",").some((d) => parseFloat(d) > 0);
        if (moving(style.animationDuration) && style.animationName !== "none") {
          out.push(`<${el.tagName.toLowerCase()}> animates with reduced motion asked for`);
        }
        if (moving(style.transitionDuration)) {
          out.push(`<${el.tagName.toLowerCase()}> has a transition with reduced motion asked for`);
        }
      }
      return out;
    });
    if (found.length) problems.push({ name, found: found.slice(0, 5) });
  }
  // WCAG 1.4.10: at 320 CSS pixels wide (400% zoom of a 1280 window), at
  // normal text size, nothing needs scrolling sideways.
  await page.setViewportSize({ width: 320, height: 640 });
  for (const [name, path, ready] of pages) {
    await page.goto(`${server.base}${path}`);
    await ready();
    const wide = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    if (wide > 1) problems.push({ name, found: [`at 320px the page scrolls ${wide}px sideways`] });
  }
  assert.deepEqual(problems, [], JSON.stringify(problems, null, 2));
});

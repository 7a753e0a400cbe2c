// WCAG 1.4.4 and 2.3.3 in the browser: with text at 200% nothing is cut off
// or pushed sideways off the page, and with reduced motion asked for nothing
// animates (WCAG 1.4.4, 2.3.3); at 320 CSS pixels wide nothing scrolls
// sideways (1.4.10), nor with 200% text on a phone. On a phone every control is a touch target at least
// 44 px each way. Checked on the pages people meet first.
import assert from "node:assert/strict";
import { test } from "node:test";
import { getJson, serverAndBrowser } from "./support.mjs";

test("text at 200% fits the page, reduced motion stops every animation, and touch targets are 44 px", async (t) => {
  const { server, browser } = await serverAndBrowser(t);
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
  // Large text on a phone (the setting low-vision parents use): at 200% and
  // 390 CSS pixels wide nothing pushes the page sideways either. Tables may
  // scroll inside their own box.
  await page.setViewportSize({ width: 390, height: 844 });
  for (const [name, path, ready] of pages) {
    await page.goto(`${server.base}${path}`);
    await ready();
    await page.addStyleTag({ content: "html { font-size: 200% !important; }" });
    const wide = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    if (wide > 1) problems.push({ name, found: [`with 200% text on a phone the page scrolls ${wide}px sideways`] });
  }
  // Touch targets on a phone: every control at least 44 by 44 CSS pixels. A
  // checkbox or radio counts with its label, which takes the tap too; a link
  // inside a sentence is exempt (WCAG 2.5.8's inline exception).
  await page.setViewportSize({ width: 390, height: 844 });
  for (const [name, path, ready] of pages) {
    await page.goto(`${server.base}${path}`);
    await ready();
    const small = await page.evaluate(() => {
      const out = [];
      const controls = document.querySelectorAll("a[href], button, input, select, textarea, summary");
      for (const el of controls) {
        if (el.type === "hidden" || el.closest("[hidden], .visually-hidden, .skip-link")) continue;
        const inline = el.tagName === "A" && el.closest("p, li, td, dd") && getComputedStyle(el).display === "inline";
        if (inline) continue;
        const target = (el.type === "checkbox" || el.type === "radio") ? el.closest("label") ?? el.labels?.[0] ?? el : el;
        const box = target.getBoundingClientRect();
        if (box.width === 0 && box.height === 0) continue;
        if (box.width < 44 || box.height < 44) {
          const label = (el.getAttribute("aria-label") || el.textContent || el.name || el.id || "").trim().slice(0, 40);
          out.push(`<${el.tagName.toLowerCase()}> "${label}" is ${Math.round(box.width)}x${Math.round(box.height)}`);
        }
      }
      return out;
    });
    if (small.length) problems.push({ name, found: small.slice(0, 8) });
  }
  assert.deepEqual(problems, [], JSON.stringify(problems, null, 2));
});

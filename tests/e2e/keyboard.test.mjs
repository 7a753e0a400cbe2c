// Keyboard use (WCAG 2.1.1, 2.4.7): a member of staff signs in and chooses a
// PIN with the keyboard alone, and every element that takes the focus on the
// pages people meet first shows a visible focus indicator. Errors on the
// sign-in, PIN and enrolment forms are summarised at the top, each linked to
// its field, and shown beside the field (GOV.UK's pattern).
import assert from "node:assert/strict";
import { test } from "node:test";
import { axeViolations, getJson, serverAndBrowser, STAFF, tabTo } from "./support.mjs";

async function setup(t) {
  const { server, browser } = await serverAndBrowser(t);
  // bypassCSP: axe is injected as a script, which the app's CSP would refuse.
  return { server, page: await (await browser.newContext({ bypassCSP: true })).newPage() };
}

test("staff sign in and choose a PIN with the keyboard alone", async (t) => {
  const { server, page } = await setup(t);
  await page.goto(server.base);
  await page.getByRole("heading", { level: 1 }).waitFor();
  // The footer's "Staff sign in" link (a device no one has signed in on has
  // no staff controls in its header), then the form.
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

/** The summary's links as `{ href, text }`, once it has the focus. */
async function summary(page) {
  await page.waitForFunction(() => document.activeElement?.id === "error-summary");
  return page.locator("#error-summary a").evaluateAll((links) =>
    links.map((a) => ({ href: a.getAttribute("href"), text: a.textContent.trim() })),
  );
}

test("sign-in, PIN and enrolment errors are summarised, linked to their fields and shown beside them", async (t) => {
  const { server, page } = await setup(t);
  const problems = [];
  const axe = async (name) => {
    const violations = await axeViolations(page);
    if (violations.length) problems.push({ name, violations });
  };

  await page.goto(`${server.base}/signin`);
  await page.getByRole("button", { name: "Sign in" }).click();
  assert.deepEqual(await summary(page), [
    { href: "#signin-email", text: "Enter your email address" },
    { href: "#signin-password", text: "Enter your password" },
  ]);
  assert.match(await page.locator("#signin-password-error").textContent(), /Enter your password/);
  assert.equal(await page.locator("#signin-password").getAttribute("aria-invalid"), "true");
  await axe("sign in with errors");
  // A summary link takes the focus to its field.
  await page.getByRole("link", { name: "Enter your password" }).press("Enter");
  await page.waitForFunction(() => document.activeElement?.id === "signin-password");

  // The server's refusal belongs to the first field; the old errors go.
  await page.getByLabel("Email address").fill(STAFF.teacher.email);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  const refused = await summary(page);
  assert.equal(refused.length, 1);
  assert.equal(refused[0].href, "#signin-email");
  assert.equal(await page.locator("#signin-password-error").count(), 0);
  assert.equal(await page.locator("#signin-password").getAttribute("aria-invalid"), "false");

  // Choosing a PIN: a weak one, then two that differ.
  await page.getByLabel("Password").fill(STAFF.teacher.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Choose a PIN for this device" }).waitFor();
  await page.getByLabel("PIN", { exact: true }).fill("123456");
  await page.getByLabel("Type the PIN again").fill("123456");
  await page.getByRole("button", { name: "Save PIN" }).click();
  assert.deepEqual((await summary(page)).map((l) => l.href), ["#pin-new"]);
  await axe("choose a PIN with an error");
  await page.getByLabel("PIN", { exact: true }).fill("730461");
  await page.getByLabel("Type the PIN again").fill("730462");
  await page.getByRole("button", { name: "Save PIN" }).click();
  await page.locator("#pin-again-error").waitFor();
  assert.deepEqual((await summary(page)).map((l) => l.href), ["#pin-again"]);
  assert.equal(await page.locator("#pin-again").getAttribute("aria-invalid"), "true");

  // Enrolment: no code, then a code the server does not know.
  await page.goto(`${server.base}/enrol`);
  await page.getByRole("button", { name: "Enrol" }).click();
  assert.deepEqual(await summary(page), [{ href: "#enrol-code", text: "Enter the enrolment code an admin gave you" }]);
  await page.getByLabel("Enrolment code").fill("ABCD-2345");
  await page.getByRole("button", { name: "Enrol" }).click();
  await page.locator("#enrol-code-error").filter({ hasNotText: "Enter the enrolment code" }).waitFor();
  assert.deepEqual((await summary(page)).map((l) => l.href), ["#enrol-code"]);
  await axe("enrol with an error");
  assert.deepEqual(problems, [], JSON.stringify(problems, null, 2));
});

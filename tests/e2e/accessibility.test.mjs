// Every page passes axe-core with no WCAG 2.2 A or AA violation, and the
// signing flow can be completed with the keyboard alone.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ADMIN,
  adminToken,
  axeViolations,
  enrolDevice,
  eventually,
  getJson,
  postJson,
  serverAndBrowser,
} from "./support.mjs";

test("every page has no WCAG 2.2 A/AA violations and signing works by keyboard", async (t) => {
  const { server, browser } = await serverAndBrowser(t);
  // axe is injected as a script, which the app's CSP would (rightly) refuse.
  const context = await browser.newContext({ bypassCSP: true });
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
    ["sync status", "/sync", () => page.getByTestId("status-pending").waitFor()],
    ["not found", "/no-such-page", () => page.getByRole("heading", { name: "Page not found" }).waitFor()],
    ["admin (signed out)", "/admin", () => page.getByRole("main").getByRole("link", { name: "Sign in" }).waitFor()],
    ["sign in", "/signin", () => page.getByLabel("Email address").waitFor()],
    ["lock screen", "/unlock", () => page.getByRole("heading", { name: "Haven is locked" }).waitFor()],
    ["enrol", "/enrol", () => page.getByLabel("Enrolment code").waitFor()],
    ["drafts (locked)", "/drafts", () => page.getByRole("link", { name: "Unlock" }).first().waitFor()],
    ["staff invitation", "/invite/hl_example", () => page.getByLabel("New password").waitFor()],
    ["first set-up", "/setup/hl_example", () => page.getByLabel("Your full name").waitFor()],
    ["parent link refused", "/join/hl_example", () => page.getByTestId("join-error").waitFor()],
    ["receipt check", "/verify/ZZZZ-ZZZZ", () => page.getByTestId("verify-result").waitFor()],
    ["publish (signed out)", "/admin/publish", () => page.getByLabel("Text (Markdown)").waitFor()],
  ];
  const failures = [];
  for (const [name, path, ready] of pages) {
    await page.goto(`${server.base}${path}`);
    await ready();
    const violations = await axeViolations(page);
    if (violations.length) failures.push({ name, violations });
  }

  // The PIN step of signing in, then the signed-in pages, reached through
  // the app (a reload locks it: the key lives only in memory).
  await page.goto(`${server.base}/signin`);
  await page.getByLabel("Email address").fill(ADMIN.email);
  await page.getByLabel("Password").fill(ADMIN.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Choose a PIN for this device" }).waitFor();
  const pinStep = await axeViolations(page);
  if (pinStep.length) failures.push({ name: "choose a PIN", violations: pinStep });
  await page.getByLabel("PIN", { exact: true }).fill("2040608317");
  await page.getByLabel("Type the PIN again").fill("2040608317");
  await page.getByRole("button", { name: "Save PIN" }).click();
  await page.getByTestId("signed-in-as").waitFor();
  const signedIn = [
    ["admin home", "Admin", null, () => page.getByRole("heading", { name: "Due for review" }).waitFor()],
    ["staff admin", "Admin", "Staff and roles", async () => {
      await page.getByRole("button", { name: "Change roles of Tom Reilly" }).click();
      await page.getByTestId("role-editor").waitFor();
    }],
    ["devices admin", "Admin", "Devices", () => page.getByRole("heading", { name: "Enrolled devices" }).waitFor()],
    ["parents admin", "Admin", "Parent and carer invitations", () => page.getByRole("heading", { name: "All invitations" }).waitFor()],
    ["audit log", "Admin", "Audit log", () => page.getByTestId("audit-table").waitFor()],
    ["who has signed", "Admin", "Who has signed", async () => {
      await page.getByLabel("Academy").selectOption({ label: "Oakfield Primary Academy" });
      await page.getByTestId("compliance-table").waitFor();
    }],
    ["reception rules", "Admin", "Reception rules", async () => {
      await page.getByLabel("Academy").selectOption({ label: "Oakfield Primary Academy" });
      await page.getByLabel("Days on the server").waitFor();
    }],
    ["drafts", "My drafts", null, () => page.getByLabel("Private note").waitFor()],
  ];
  const account = async () => {
    await page.getByTestId("signed-in-as").click();
    await page.getByRole("heading", { name: "Trust account rules" }).waitFor();
    const violations = await axeViolations(page);
    if (violations.length) failures.push({ name: "account", violations });
  };
  for (const [name, nav, link, ready] of signedIn) {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: nav }).click();
    if (link) await page.getByRole("main").getByRole("link", { name: link }).click();
    await ready();
    const violations = await axeViolations(page);
    if (violations.length) failures.push({ name, violations });
  }
  await account();
  await page.getByTestId("hide-screen").click();
  await page.getByRole("button", { name: "Riverside Trust Admin" }).click();
  await page.getByLabel(/PIN for/).waitFor();
  const unlockStep = await axeViolations(page);
  if (unlockStep.length) failures.push({ name: "unlock with PIN", violations: unlockStep });

  // The tablet is enrolled so the keyboard signature below can be sent.
  await enrolDevice(page, server.base);

  // The sign page's error state, reached by keyboard alone.
  await page.goto(`${server.base}/sign/${visitor.id}`);
  await page.getByLabel("Your full name").waitFor();
  await page.getByRole("button", { name: "Sign", exact: true }).focus();
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "There is a problem" }).waitFor();
  // Focus moves to the error summary (on the next frame, once it has rendered).
  await page
    .waitForFunction(() => document.activeElement?.id === "error-summary", null, { timeout: 5_000 })
    .catch(async () => {
      const focused = await page.evaluate(() => document.activeElement?.id);
      assert.fail(`focus should move to the error summary, but is on ${JSON.stringify(focused)}`);
    });
  const errorState = await axeViolations(page);
  if (errorState.length) failures.push({ name: "sign page with errors", violations: errorState });

  // Follow the summary links; type the name; choose the typed signature (the
  // way to sign without drawing) and agree with the space bar; submit.
  await page.getByRole("link", { name: /enter your full name/i }).press("Enter");
  await page.waitForFunction(() => document.activeElement?.id === "signer-name");
  await page.keyboard.type("Keyboard User");
  await page.getByRole("link", { name: /draw your signature/i }).press("Enter");
  await page.waitForFunction(() => document.activeElement?.id === "type-instead");
  await page.keyboard.press("Space");
  await page.keyboard.press("Tab");
  await page.waitForFunction(() => document.activeElement?.id === "agree");
  await page.keyboard.press("Space");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Enter");
  await page.getByTestId("signed").waitFor();
  const receipt = await axeViolations(page);
  if (receipt.length) failures.push({ name: "receipt", violations: receipt });
  const token = await adminToken(server.base);
  await eventually(
    async () => (await getJson(`${server.base}/api/v1/agreements`, token)).some((a) => a.signer_name === "Keyboard User"),
    20_000,
    "the keyboard signature to sync",
  );

  // A parent's pages, on a phone: the invitation, and signing for a child
  // (the pupil agreement, and photo consent with its questions).
  const report = await postJson(`${server.base}/api/v1/parent-invitations/import`, token, {
    csv: "pupil name,class,academy,parent/carer name\nAmira Khan,Year 3,Oakfield Primary Academy,Sara Khan\n",
  });
  const phone = await (await browser.newContext({ bypassCSP: true, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })).newPage();
  await phone.goto(`${server.base}${report.invitations[0].link_path}`);
  await phone.getByTestId("child-Amira Khan").getByRole("link", { name: /Photo/ }).waitFor();
  const parentPages = [
    ["parent invitation", null],
    ["sign for a child", /Pupil/],
    ["photo consent", /Photo/],
  ];
  for (const [name, link] of parentPages) {
    if (link) {
      await phone.goto(`${server.base}${report.invitations[0].link_path}`);
      await phone.getByTestId("child-Amira Khan").getByRole("link", { name: link }).click();
      await phone.getByLabel("Your relationship to Amira Khan").waitFor();
    }
    const violations = await axeViolations(phone);
    if (violations.length) failures.push({ name, violations });
  }

  assert.deepEqual(failures, [], JSON.stringify(failures, null, 2));
});

// Signing choices: a typed signature with its statement of intent, a staff
// member's job title, and a decline, each recorded as such and checkable by
// receipt code.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import {
  adminToken,
  enrolDevice,
  eventually,
  freePort,
  getJson,
  launchBrowser,
  scratchDir,
  startServer,
} from "./support.mjs";

test("a typed signature and a decline are both recorded, with receipts anyone can check", async (t) => {
  const scratch = scratchDir();
  const server = await startServer({ port: await freePort(), database: join(scratch.dir, "haven.sqlite3") });
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await server.stop();
    scratch.cleanup();
  });
  const page = await browser.newPage();
  await page.goto(`${server.base}/policies`);
  await page.getByTestId("policy-link").first().waitFor();
  await enrolDevice(page, server.base);
  const policies = await getJson(`${server.base}/api/v1/policies`);
  const staffAua = policies.find((p) => p.kind === "staff_aua");

  // A staff member who cannot draw types their name instead.
  await page.goto(`${server.base}/sign/${staffAua.id}`);
  await page.getByLabel("Your full name").fill("Priya Typed");
  await page.getByLabel("You are signing as").selectOption({ label: "Staff member" });
  await page.getByLabel("Job title").fill("Teaching assistant");
  await page.getByLabel(/I cannot draw a signature/).check();
  assert.equal(await page.getByTestId("signature-pad").count(), 0, "the pad gives way to the typed signature");
  await page.getByLabel(/I have read/).check();
  await page.getByRole("button", { name: "Sign", exact: true }).click();
  await page.getByTestId("signed").filter({ hasText: "Typed name with a statement of intent" }).waitFor();
  const typedCode = (await page.getByTestId("receipt-code").textContent()).trim();

  // Someone declines: no signature needed, and it is recorded.
  await page.goto(`${server.base}/sign/${staffAua.id}`);
  await page.getByLabel("Your full name").fill("Dee Clines");
  await page.getByRole("button", { name: "I do not agree" }).click();
  await page.getByRole("heading", { name: /^Declined:/ }).waitFor();
  const declineCode = (await page.getByTestId("receipt-code").textContent()).trim();

  const token = await adminToken(server.base);
  const stored = await eventually(async () => {
    const rows = await getJson(`${server.base}/api/v1/agreements`, token);
    return rows.length === 2 && rows;
  }, 30_000, "both records on the server");
  const typed = stored.find((r) => r.signer_name === "Priya Typed");
  assert.equal(typed.mark.method, "typed");
  assert.match(typed.mark.statement, /intend it to be my signature/);
  assert.equal(typed.role, "staff");
  assert.equal(typed.job_title, "Teaching assistant");
  assert.equal(typed.receipt_code, typedCode);
  const declined = stored.find((r) => r.signer_name === "Dee Clines");
  assert.equal(declined.agreed, false);
  assert.equal(declined.mark, undefined);

  await page.goto(`${server.base}/verify/${declineCode.toLowerCase()}`);
  await page.getByTestId("verify-result").filter({ hasText: "Declined by" }).waitFor();
  await page.goto(`${server.base}/verify/ZZZZ-ZZZZ`);
  await page.getByTestId("verify-result").filter({ hasText: "No signed record" }).waitFor();
});

test("a teacher signs what is on their list, and the e-safety lead sees it in the compliance view", async (t) => {
  const { signIn, STAFF } = await import("./support.mjs");
  const { readFileSync } = await import("node:fs");
  const scratch = scratchDir();
  const server = await startServer({ port: await freePort(), database: join(scratch.dir, "haven.sqlite3") });
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await server.stop();
    scratch.cleanup();
  });
  const page = await browser.newPage();
  await page.goto(`${server.base}/policies`);
  await page.getByTestId("policy-link").first().waitFor();
  await signIn(page, server.base, STAFF.teacher);
  await page.getByRole("link", { name: "Haven", exact: true }).click();
  await page.getByTestId("to-sign").getByRole("link", { name: /Staff/ }).click();
  // Signed in, the form knows who is signing.
  assert.equal(await page.getByLabel("Your full name").inputValue(), STAFF.teacher.name);
  await page.getByLabel("Job title").fill("Class teacher");
  await page.getByLabel(/I cannot draw a signature/).check();
  await page.getByLabel(/I have read/).check();
  await page.getByRole("button", { name: "Sign", exact: true }).click();
  await page.getByTestId("signed").waitFor();
  await eventually(async () => (await page.getByTestId("pending").getAttribute("data-count")) === "0", 30_000, "the record to reach the server");
  await page.getByRole("link", { name: "Haven", exact: true }).click();
  await page.getByTestId("nothing-to-sign").waitFor();

  const lead = await (await browser.newContext({ acceptDownloads: true })).newPage();
  await lead.goto(`${server.base}/policies`);
  await signIn(lead, server.base, { email: "esafety@oakfield.example", password: STAFF.teacher.password });
  await lead.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" }).click();
  await lead.getByRole("main").getByRole("link", { name: "Who has signed" }).click();
  await lead.getByLabel("Academy").selectOption({ label: "Oakfield Primary Academy" });
  await lead.getByTestId("compliance-table").waitFor();
  assert.ok(!(await lead.getByTestId("compliance-table").textContent()).includes(STAFF.teacher.name), "the teacher is not on the list to chase");
  await lead.getByLabel("Show").selectOption({ label: "Signed" });
  await lead.getByTestId("compliance-table").filter({ hasText: STAFF.teacher.name }).waitFor();
  const [download] = await Promise.all([
    lead.waitForEvent("download"),
    lead.getByRole("button", { name: "Download as CSV" }).click(),
  ]);
  const csv = readFileSync(await download.path(), "utf8");
  assert.match(csv, /^Name,Email,Roles,Agreement,Current version,Status,Signed,Due by,Overdue\r\n/);
  assert.match(csv, /Tom Reilly,teacher@oakfield.example,Staff,Staff Acceptable Use Agreement,1,Signed,/);
});

// An admin publishes a new version with a preview first, saying what changed;
// readers of the old version are told a newer one exists, and the old one
// stays as it was.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ADMIN, eventually, getJson, serverAndBrowser } from "./support.mjs";

test("publishing a new version from an imported file, preview first", async (t) => {
  const { server, browser, scratch } = await serverAndBrowser(t);
  const before = await getJson(`${server.base}/api/v1/policies`);
  const visitor = before.find((p) => p.kind === "visitor_aua");
  const page = await browser.newPage();
  await page.goto(`${server.base}/policies/${visitor.id}`);
  await page.getByTestId("policy-title").waitFor();

  // Sign in from the admin page, which comes back to it. (A device no one
  // has signed in on has no Admin link in its header.)
  await page.goto(`${server.base}/admin`);
  await page.getByRole("main").getByRole("link", { name: "Sign in" }).click();
  await page.getByLabel("Email address").fill(ADMIN.email);
  await page.getByLabel("Password").fill(ADMIN.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Not now" }).click();
  await page.getByRole("heading", { name: "Due for review" }).waitFor();
  await page.getByRole("link", { name: "Publish a new version" }).click();

  // Choose the visitor agreement, import new text from a word-processor export.
  await page.getByLabel("Policy", { exact: true }).selectOption({ label: `${visitor.title} (now version ${visitor.version})` });
  const file = join(scratch.dir, "visitor.txt");
  writeFileSync(
    file,
    "Visitor Agreement 2027\n\n1. Wi-Fi\nUse only the guest network.\n\n2. Photos\n• Do not photograph pupils.\n• Ask reception first.\n\nRoom\tRule\nHall\tNo phones\n",
  );
  await page.getByLabel("Import text from a file").setInputFiles(file);
  await eventually(async () => (await page.getByLabel("Text (Markdown)").inputValue()).includes("- Do not photograph pupils."), 5_000, "the import");
  await page.getByLabel("Next review due").fill("2027-09-01");

  // A new version must say what changed: it is what people asked to sign again read.
  await page.getByRole("button", { name: "Preview" }).click();
  assert.match(await page.getByTestId("publish-problem").textContent(), /^change_summary: say what changed since version 1/);
  await page.getByLabel(`What changed since version ${visitor.version}`).fill("Rewritten for 2027: Wi-Fi, photos and the hall.");

  await page.getByRole("button", { name: "Preview" }).click();
  await page.getByTestId("preview").waitFor();
  assert.equal(await page.getByTestId("preview").locator("table").count(), 1, "the tab-separated rows became a table");
  assert.equal((await getJson(`${server.base}/api/v1/policies`)).find((p) => p.policy_id === visitor.policy_id).version, visitor.version, "nothing is published by a preview");

  await page.getByRole("button", { name: "Publish this version" }).click();
  await page.getByTestId("published").waitFor();
  const after = (await getJson(`${server.base}/api/v1/policies`)).find((p) => p.policy_id === visitor.policy_id);
  assert.equal(after.version, visitor.version + 1);
  assert.equal((await getJson(`${server.base}/api/v1/policies/${after.id}`)).change_summary, "Rewritten for 2027: Wi-Fi, photos and the hall.");

  // The earlier version is unchanged, and its readers learn of the new one.
  const old = await getJson(`${server.base}/api/v1/policies/${visitor.id}`);
  assert.equal(old.text_sha256, visitor.text_sha256);
  await page.goto(`${server.base}/policies/${visitor.id}`);
  await page.getByTestId("newer-version").waitFor({ timeout: 20_000 });
  await page.getByRole("link", { name: "Read the current version" }).click();
  await page.getByTestId("policy-title").waitFor();
  assert.match(await page.getByTestId("policy-body").textContent(), /Use only the guest network/);
});

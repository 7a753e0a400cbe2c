// Re-signing explained (issue 18, part 4): a parent signs version 1 through an
// invitation link, the trust publishes version 2 with a summary of what
// changed, and the invitation page says plainly that the agreement changed,
// which version they signed and which to sign now, with the summary and the
// words added and removed; signing again works. A teacher's "to sign" list
// says the same, compactly.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  adminToken,
  axeViolations,
  eventually,
  getJson,
  postJson,
  serverAndBrowser,
  signIn,
  STAFF,
} from "./support.mjs";

/** Publishes the next version of `kind`'s policy as the demo admin. */
async function publishNext(base, kind, edit, change_summary) {
  const token = await adminToken(base);
  const listed = (await getJson(`${base}/api/v1/policies`)).find((p) => p.kind === kind);
  const current = await getJson(`${base}/api/v1/policies/${listed.id}`);
  const body_markdown = edit(current.body_markdown);
  assert.notEqual(body_markdown, current.body_markdown, "the edit changes the text");
  const next = await postJson(`${base}/api/v1/policies`, token, {
    policy_id: current.policy_id,
    title: current.title,
    kind: current.kind,
    audiences: current.audiences,
    owner: current.owner,
    body_markdown,
    approved_by: current.approved_by,
    effective_date: current.effective_date,
    last_reviewed: current.last_reviewed,
    next_review_due: current.next_review_due,
    change_summary,
  });
  assert.equal(next.version, current.version + 1);
  return { current, next };
}

const LEDE = /This agreement changed on \d{1,2} [A-Z][a-z]+ \d{4}\. You signed version 1; please read and sign version 2\./;

test("a parent is told what changed in an agreement they signed, and signs the new version", async (t) => {
  const { server, browser } = await serverAndBrowser(t);
  const base = server.base;
  const admin = await adminToken(base);
  const report = await postJson(`${base}/api/v1/parent-invitations/import`, admin, {
    csv:
      "Pupil name,Class,Academy,Parent/carer name,Email\n" +
      "Amira Khan,Year 3,Oakfield Primary Academy,Sara Khan,sara@example.org\n",
  });
  // bypassCSP: axe is injected as a script, which the app's CSP would refuse.
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, bypassCSP: true });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const link = `${base}${report.invitations[0].link_path}`;
  await page.goto(link);
  const child = page.getByTestId("child-Amira Khan");
  const pupilLink = child.getByRole("link", { name: /Pupil/ });

  const signPupilAgreement = async () => {
    await pupilLink.click();
    await page.getByLabel("Your relationship to Amira Khan").fill("Mother");
    await page.getByLabel(/I cannot draw a signature/).check();
    await page.getByLabel(/I have read this agreement/).check();
    await page.getByRole("button", { name: "Sign", exact: true }).click();
    await page.getByTestId("signed").waitFor();
    await eventually(async () => (await page.getByTestId("pending").getAttribute("data-count")) === "0", 30_000, "the signature to reach the server");
    await page.getByRole("link", { name: "Back to your invitation" }).click();
  };

  // Version 1, signed and sent.
  await signPupilAgreement();
  await child.filter({ hasText: "Signed" }).waitFor();
  assert.equal(await child.getByTestId("resign-notice").count(), 0, "nothing to explain yet");

  // The trust publishes version 2 and says what changed.
  const summary = "Rule 2 of section 1 now covers PINs and devices too.";
  const { current: v1, next: v2 } = await publishNext(
    base,
    "pupil_aua",
    (body) =>
      body.replace(
        "I will keep my passwords secret, and I will not use anyone else's login.",
        "I will keep my passwords and PINs secret, and I will not use anyone else's login or device.",
      ),
    summary,
  );

  // The phone picks it up (opening the page again syncs) and explains.
  const notice = child.getByTestId("resign-notice");
  await eventually(
    async () => {
      await page.goto(link);
      await pupilLink.waitFor();
      return (await notice.count()) === 1;
    },
    30_000,
    "the invitation page to explain version 2",
  );
  assert.match(await notice.textContent(), LEDE);
  assert.equal((await notice.getByTestId("change-summary").textContent()).trim(), summary);
  assert.equal(await child.filter({ hasText: "— Signed" }).count(), 0, "version 2 is not signed yet");

  // The differences, worked out on the phone: folded away, then opened.
  const diff = notice.getByTestId("policy-diff");
  await diff.getByText(/Show the changes to the text \(\d+ words? added, \d+ words? removed\)/).click();
  const added = await diff.locator("ins").allTextContents();
  const removed = await diff.locator("del").allTextContents();
  assert.ok(added.some((t) => t.includes("and PINs")), `added: ${added}`);
  assert.ok(added.some((t) => t.includes("or device.")), `added: ${added}`);
  assert.ok(removed.some((t) => t.includes("login.")), `removed: ${removed}`);
  // Said in words too, not only by colour or line style.
  assert.ok(added.every((t) => t.startsWith("[added: ")), `added: ${added}`);
  assert.ok(removed.every((t) => t.startsWith("[removed: ")), `removed: ${removed}`);
  assert.match(await diff.getByTestId("diff-hunk").first().textContent(), /In “1\. Keeping myself safe”/);
  assert.ok(await diff.locator("ins").first().isVisible());
  assert.deepEqual(await axeViolations(page), [], "the notice and the differences pass axe (WCAG 2.2 A/AA)");

  // Signing again works, and the page then has nothing to explain.
  await signPupilAgreement();
  await child.filter({ hasText: "Signed" }).waitFor();
  assert.equal(await child.getByTestId("resign-notice").count(), 0);
  const token = await adminToken(base);
  const rows = await getJson(`${base}/api/v1/agreements`, token);
  const signedVersions = rows.filter((r) => r.capacity.child_name === "Amira Khan").map((r) => r.policy_version_id);
  assert.deepEqual(signedVersions.sort(), [v1.id, v2.id].sort(), "one record for each version");
  assert.deepEqual(errors, []);
});

test("a teacher's to-sign list says which version they signed and what changed", async (t) => {
  const { server, browser } = await serverAndBrowser(t);
  const base = server.base;
  const page = await browser.newPage();
  await page.goto(`${base}/policies`);
  await page.getByTestId("policy-link").first().waitFor();
  await signIn(page, base, STAFF.teacher);
  await page.getByRole("link", { name: "Haven", exact: true }).click();
  await page.getByTestId("to-sign").getByRole("link", { name: /Staff/ }).click();
  await page.getByLabel("Job title").fill("Class teacher");
  await page.getByLabel(/I cannot draw a signature/).check();
  await page.getByLabel(/I have read/).check();
  await page.getByRole("button", { name: "Sign", exact: true }).click();
  await page.getByTestId("signed").waitFor();
  await eventually(async () => (await page.getByTestId("pending").getAttribute("data-count")) === "0", 30_000, "the record to reach the server");

  const summary = "A new section on using AI tools with pupils' work.";
  await publishNext(base, "staff_aua", (body) => `${body}\n\n## AI tools\n\nI will not put pupils' work or personal data into AI tools the school has not approved.\n`, summary);

  // Home, without a reload (which would lock the session): the list is read
  // again after each sync that brings something, such as version 2.
  await page.getByRole("link", { name: "Haven", exact: true }).click();
  await page.getByTestId("to-sign").waitFor();
  const notice = page.getByTestId("to-sign").getByTestId("resign-notice");
  await eventually(
    async () => {
      await page.evaluate(() => window.dispatchEvent(new Event("online")));
      return (await notice.count()) === 1 && (await notice.getByTestId("change-summary").count()) === 1;
    },
    30_000,
    "the to-sign list to explain version 2",
  );
  assert.match(await notice.textContent(), LEDE);
  assert.equal((await notice.getByTestId("change-summary").textContent()).trim(), summary);
  assert.equal(await notice.getByTestId("policy-diff").count(), 0, "compact: the differences are not in the list");
  assert.match(await page.getByTestId("to-sign").textContent(), /Due to re-sign \(version 2\)/);
});

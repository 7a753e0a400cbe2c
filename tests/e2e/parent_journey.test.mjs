// A parent's whole journey on a phone: open the invitation link, lose signal,
// draw and sign two agreements for each of two children (the pupil agreement
// on the child's behalf, and photo consent with an answer for each use),
// reload with no signal, come back online: the server holds the four records
// with the right hashes and capacities, and /verify confirms a receipt.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import {
  adminToken,
  eventually,
  freePort,
  getJson,
  launchBrowser,
  postJson,
  scratchDir,
  startServer,
  waitForServiceWorker,
} from "./support.mjs";

/** Draws a signature with a finger: touch events through the DevTools protocol. */
async function drawWithFinger(page, cdp) {
  const pad = page.getByTestId("signature-pad");
  await pad.scrollIntoViewIfNeeded();
  const box = await pad.boundingBox();
  const at = (i) => ({ x: box.x + box.width * (0.1 + i * 0.04), y: box.y + box.height * (0.55 - 0.25 * Math.sin(i / 2)) });
  await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: [at(0)] });
  for (let i = 1; i <= 18; i++) {
    await cdp.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: [at(i)] });
  }
  await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
}

test("a parent signs for two children on a phone with no signal, and every record arrives", async (t) => {
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
  const admin = await adminToken(server.base);
  const report = await postJson(`${server.base}/api/v1/parent-invitations/import`, admin, {
    csv:
      "Pupil name,Class,Academy,Parent/carer name,Email\n" +
      "Amira Khan,Year 3,Oakfield Primary Academy,Sara Khan,sara@example.org\n" +
      "Yusuf Khan,Year 5,Oakfield Primary Academy,Sara Khan,sara@example.org\n",
  });
  const link = `${server.base}${report.invitations[0].link_path}`;

  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await page.goto(link);
  await page.getByTestId("join-welcome").waitFor();
  await waitForServiceWorker(page);
  // Everything needed is on the phone once the list of what to sign shows.
  await page.getByTestId("child-Amira Khan").getByRole("link", { name: /Pupil/ }).waitFor();

  // Signal lost.
  await server.stop();
  await context.setOffline(true);

  for (const child of ["Amira Khan", "Yusuf Khan"]) {
    // The pupil agreement, on the child's behalf.
    await page.getByTestId(`child-${child}`).getByRole("link", { name: /Pupil/ }).click();
    assert.equal(await page.getByLabel("Your full name").inputValue(), "Sara Khan");
    await page.getByLabel(`Your relationship to ${child}`).fill("Mother");
    await drawWithFinger(page, cdp);
    await page.getByLabel(/I have read this agreement/).check();
    await page.getByRole("button", { name: "Sign", exact: true }).click();
    await page.getByTestId("signed").waitFor();
    assert.match(await page.getByTestId("signed").textContent(), new RegExp(`For\\s*${child}`));
    await page.getByRole("link", { name: "Back to your invitation" }).click();

    // Photo consent: an answer for each use.
    await page.getByTestId(`child-${child}`).getByRole("link", { name: /Photo/ }).click();
    await page.getByLabel(`Your relationship to ${child}`).fill("Mother");
    const uses = page.getByRole("group", { name: /Academy website|Displays in school/ });
    for (const fieldset of await page.locator("fieldset.photo-use").all()) {
      await fieldset.getByLabel(child === "Amira Khan" ? "Yes" : "No").check();
    }
    assert.ok((await page.locator("fieldset.photo-use").count()) >= 5, "one question per use");
    void uses;
    await drawWithFinger(page, cdp);
    await page.getByLabel(/I have read this agreement/).check();
    await page.getByRole("button", { name: "Sign", exact: true }).click();
    await page.getByTestId("signed").waitFor();
    await page.getByRole("link", { name: "Back to your invitation" }).click();
  }
  await page.getByTestId("child-Yusuf Khan").filter({ hasText: "Signed" }).waitFor();
  const receipt = await page.evaluate(async () => {
    const db = await new Promise((ok, no) => {
      const r = indexedDB.open("haven");
      r.onsuccess = () => ok(r.result);
      r.onerror = () => no(r.error);
    });
    const all = await new Promise((ok) => {
      const r = db.transaction("agreements").objectStore("agreements").getAll();
      r.onsuccess = () => ok(r.result);
    });
    return all.length;
  });
  assert.equal(receipt, 4, "four records on the phone");

  // Reload with no signal: still there, still waiting.
  await page.reload();
  await page.getByTestId("child-Amira Khan").filter({ hasText: "Signed" }).waitFor();
  assert.equal(await page.getByTestId("pending").getAttribute("data-count"), "4");

  // Signal back.
  server = await startServer({ port, database });
  await context.setOffline(false);
  await page.evaluate(() => window.dispatchEvent(new Event("online")));
  const token = await adminToken(server.base);
  const stored = await eventually(async () => {
    const rows = await getJson(`${server.base}/api/v1/agreements`, token);
    return rows.length === 4 && rows;
  }, 60_000, "the four records on the server");
  const policies = await getJson(`${server.base}/api/v1/policies`);
  for (const child of ["Amira Khan", "Yusuf Khan"]) {
    const mine = stored.filter((r) => r.capacity.child_name === child);
    assert.equal(mine.length, 2, `two records for ${child}`);
    for (const r of mine) {
      assert.equal(r.capacity.type, "on_behalf_of");
      assert.equal(r.capacity.relationship, "Mother");
      assert.equal(r.role, "parent_carer");
      assert.equal(r.mark.method, "drawn");
      const version = policies.find((p) => p.id === r.policy_version_id);
      assert.equal(r.policy_text_sha256, version.text_sha256, "the hash of the text shown");
      assert.match(r.identified_by, /^parent:/);
    }
    const consent = mine.find((r) => Object.keys(r.answers).length > 0);
    assert.ok(Object.values(consent.answers).every((a) => a === (child === "Amira Khan" ? "yes" : "no")));
  }
  await page.goto(`${server.base}/verify/${stored[0].receipt_code}`);
  await page.getByTestId("verify-result").filter({ hasText: "has not been changed" }).waitFor();
});

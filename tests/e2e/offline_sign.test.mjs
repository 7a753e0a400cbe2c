// The walking skeleton end to end: read a policy with the server gone, sign it,
// and see exactly one agreement reach the server when it returns.
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
  sleep,
  startServer,
  waitForServiceWorker,
} from "./support.mjs";

test("a policy read and signed while the server is down reaches it exactly once", async (t) => {
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
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // The server's Content Security Policy must not block any part of the app.
  page.on("console", (m) => {
    if (/Content Security Policy|Refused to/.test(m.text())) errors.push(m.text());
  });

  // First visit, online: the shell is cached and the policies are stored.
  await page.goto(`${server.base}/policies`);
  await waitForServiceWorker(page);
  const policies = await getJson(`${server.base}/api/v1/policies`);
  const visitor = policies.find((p) => p.kind === "visitor_aua");
  assert.ok(visitor, "the demo data has a visitor agreement");
  await page.getByRole("link", { name: /Visitor Acceptable Use Agreement/ }).waitFor();
  // Reception enrols the tablet, so what is signed on it may be sent.
  await enrolDevice(page, server.base);
  await page.goto(`${server.base}/policies`);
  await page.getByRole("link", { name: /Visitor Acceptable Use Agreement/ }).waitFor();

  // The server dies.
  await server.kill();

  // Reload with no server: the service worker serves the shell, IndexedDB the policy.
  await page.reload();
  await page.getByRole("link", { name: /Visitor Acceptable Use Agreement/ }).click();
  await page.getByTestId("policy-title").waitFor();
  assert.equal(await page.getByTestId("policy-title").textContent(), visitor.title);
  assert.ok((await page.getByTestId("policy-body").textContent()).length > 200, "the policy text shows");
  await eventually(
    // The browser still has a network; the school's server does not answer.
    async () => (await page.getByTestId("connection").textContent()) === "Cannot reach the school",
    15_000,
    "the unreachable indicator",
  );

  // Sign: an empty form is refused with a summary, then a complete one is saved.
  await page.getByRole("link", { name: "Sign this agreement" }).first().click();
  await page.getByRole("button", { name: "Sign", exact: true }).click();
  await page.getByRole("heading", { name: "There is a problem" }).waitFor();
  assert.match(await page.locator("#error-summary").textContent(), /draw your signature/);
  await page.getByLabel("Your full name").fill("Morgan Visitor");
  // Draw a signature with the mouse, as a finger would on the tablet.
  await page.getByTestId("signature-pad").scrollIntoViewIfNeeded();
  const pad = await page.getByTestId("signature-pad").boundingBox();
  await page.mouse.move(pad.x + pad.width * 0.1, pad.y + pad.height * 0.6);
  await page.mouse.down();
  for (let i = 1; i <= 20; i++) {
    await page.mouse.move(pad.x + pad.width * (0.1 + i * 0.035), pad.y + pad.height * (0.6 - 0.2 * Math.sin(i / 2)));
  }
  await page.mouse.up();
  await page.getByLabel(/I have read this agreement/).check();
  await page.getByRole("button", { name: "Sign", exact: true }).click();
  await page.getByTestId("signed").waitFor();
  // The receipt, made offline: its code, and the signature as drawn.
  const code = (await page.getByTestId("receipt-code").textContent()).trim();
  assert.match(code, /^[0-9A-Z]{4}-[0-9A-Z]{4}$/);
  assert.equal(await page.locator(".receipt-signature path").count(), 1, "one stroke drawn");
  await eventually(
    async () => (await page.getByTestId("pending").getAttribute("data-count")) === "1",
    5_000,
    "one change waiting",
  );

  // The server comes back on the same database and port.
  server = await startServer({ port, database });
  const token = await adminToken(server.base);
  const stored = await eventually(
    async () => {
      const rows = await getJson(`${server.base}/api/v1/agreements`, token);
      return rows.length > 0 && rows;
    },
    30_000,
    "the agreement to reach the server",
  );
  assert.equal(stored.length, 1);
  assert.equal(stored[0].signer_name, "Morgan Visitor");
  assert.equal(stored[0].policy_version_id, visitor.id);
  assert.equal(stored[0].policy_text_sha256, visitor.text_sha256);
  assert.equal(stored[0].mark.method, "drawn");
  assert.ok(stored[0].mark.strokes[0].points.length >= 10, "the strokes as vectors");
  assert.equal(stored[0].receipt_code, code, "the server's code is the receipt's");
  assert.match(stored[0].identified_by, /^device:reception_kiosk:/);
  await eventually(
    async () => (await page.getByTestId("pending").getAttribute("data-count")) === "0",
    15_000,
    "the app to show nothing waiting",
  );
  assert.equal(await page.getByTestId("connection").textContent(), "Online");

  // A later sync pass (a reload starts one) must not add a second row.
  await page.reload();
  await page.getByTestId("pending").waitFor();
  await sleep(1_000);
  const again = await getJson(`${server.base}/api/v1/agreements`, token);
  assert.equal(again.length, 1, "exactly one agreement on the server");
  // Anyone can check the receipt.
  await page.goto(`${server.base}/verify/${code}`);
  await page.getByTestId("verify-result").filter({ hasText: "has not been changed" }).waitFor();
  assert.match(await page.getByTestId("verify-result").textContent(), /M\. V\./);
  assert.deepEqual(errors, [], "no uncaught errors or CSP violations in the page");
});

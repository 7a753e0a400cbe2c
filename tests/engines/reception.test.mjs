// In every engine: the reception kiosk with the school's server down signs a
// visitor in (agreement drawn, ID checked, badge), the fire roll call (behind
// a staff PIN, read from the tablet alone) lists them, and when the server is
// back the visit and the agreement arrive exactly once.
import assert from "node:assert/strict";
import { test } from "node:test";
import { adminToken, eventually, getJson, OAKFIELD_ID, STAFF } from "../e2e/support.mjs";
import { ENGINE, startBrowser } from "./driver.mjs";
import { enrol, havenServer, signIn, since, unlock } from "./app.mjs";

const PIN = "582046";
const VISITOR = "Ada Lovelace";

test(`[${ENGINE}] a kiosk signs a visitor in with the server down, the roll call lists them, and the visit arrives once`, async (t) => {
  const server = await havenServer(t);
  const b = await startBrowser(t, { width: 1024, height: 768 });
  await b.goto(`${server.base}/kiosk`);
  await b.waitForServiceWorker();
  await enrol(b, server.base);
  await signIn(b, server.base, STAFF.teacher, PIN);
  await b.goto(`${server.base}/unlock`);
  await b.goto(`${server.base}/kiosk`);
  await b.role("heading", /Welcome to Oakfield/);

  await server.kill();
  await b.click(b.testId("kiosk-sign-in"));
  await b.fill("Your full name", VISITOR);
  await b.fill("Organisation (optional)", "Analytical Engines Ltd");
  await b.select("You are a", "contractor");
  await b.fill("Who are you visiting?", STAFF.head.name);
  await b.clickButton("Continue", { exact: true });
  await b.testId("kiosk-agreement");
  await b.draw(b.testId("signature-pad"));
  await b.check(/I have read this agreement/);
  await b.clickButton("Continue", { exact: true });
  await b.check("Photo ID seen");
  await b.clickButton("Sign in and print badge");
  await b.testId("badge");
  assert.equal(await b.textOf("badge-name"), VISITOR);
  assert.match(await b.textOf("badge-code"), /^[0-9A-Z]{3}-[0-9A-Z]{3}$/);
  await b.click(b.testId("badge-done"));
  await b.testId("kiosk-sign-in");
  // The server is gone but the network is up (navigator.onLine stays true).
  await b.testId("kiosk-connection", { name: "signing in and out still works" });

  // The roll call, from the tablet alone, after a staff PIN.
  await unlock(b, server.base, STAFF.teacher, PIN, "/kiosk/roll-call");
  await b.testId("roll-call-counts", { name: /^1 visitors? on site/ });
  assert.equal(await b.textOf("roll-call-name"), VISITOR);

  await server.restart();
  const back = Date.now();
  const token = await adminToken(server.base);
  const snapshot = await eventually(
    async () => {
      const s = await getJson(`${server.base}/api/v1/reception/${OAKFIELD_ID}`, token);
      return s.on_site.length > 0 && s;
    },
    60_000,
    "the visit on the server",
  );
  t.diagnostic(`${ENGINE}: the visit arrived ${since(back)} ms after the server came back`);
  assert.deepEqual(
    snapshot.on_site.map((v) => v.visitor_name),
    [VISITOR],
  );
  const agreements = await eventually(
    async () => {
      const rows = await getJson(`${server.base}/api/v1/agreements`, token);
      return rows.length > 0 && rows;
    },
    30_000,
    "the visitor agreement on the server",
  );
  assert.deepEqual(
    agreements.map((a) => a.signer_name),
    [VISITOR],
  );
  // Another pass (a reload starts one) sends nothing twice.
  await b.reload();
  await b.eval(() => new Promise((r) => setTimeout(r, 2_000)));
  const again = await getJson(`${server.base}/api/v1/reception/${OAKFIELD_ID}`, token);
  assert.equal(again.on_site.length, 1, "one visit");
  assert.equal((await getJson(`${server.base}/api/v1/agreements`, token)).length, 1, "one agreement");
});

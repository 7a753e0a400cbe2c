// In every engine: a parent opens an invitation link, the school's server goes
// away, the parent signs on the phone, reloads (the service worker serves the
// page and IndexedDB still holds the record, waiting), and when the server is
// back the record arrives exactly once, on the app's own retry.
import assert from "node:assert/strict";
import { test } from "node:test";
import { adminToken, eventually, getJson, postJson } from "../e2e/support.mjs";
import { ENGINE, startBrowser } from "./driver.mjs";
import { havenServer, since } from "./app.mjs";

test(`[${ENGINE}] a parent signs with the server down, reloads, and the record arrives once`, async (t) => {
  const server = await havenServer(t);
  const admin = await adminToken(server.base);
  const report = await postJson(`${server.base}/api/v1/parent-invitations/import`, admin, {
    csv:
      "Pupil name,Class,Academy,Parent/carer name,Email\n" +
      "Amira Khan,Year 3,Oakfield Primary Academy,Sara Khan,sara@example.org\n",
  });
  // Firefox on Linux has no window narrower than 500 px: a phone is 500 px wide everywhere here.
  const b = await startBrowser(t, { width: 500, height: 900 });

  await b.goto(`${server.base}${report.invitations[0].link_path}`);
  await b.testId("join-welcome");
  await b.waitForServiceWorker();
  const child = await b.testId("child-Amira Khan");
  await b.role("link", /Pupil/, { within: child });

  await server.kill();
  await b.click(b.role("link", /Pupil/, { within: await b.testId("child-Amira Khan") }));
  assert.equal(await (await b.label("Your full name")).getAttribute("value"), "Sara Khan");
  await b.fill("Your relationship to Amira Khan", "Mother");
  await b.draw(b.testId("signature-pad"));
  await b.check(/I have read this agreement/);
  await b.clickButton("Sign", { exact: true });
  await b.testId("signed", { name: /For\s*Amira Khan/ });
  await b.clickLink("Back to your invitation");
  await b.testId("child-Amira Khan", { name: "Signed" });
  const { agreements } = await b.idb(["agreements"]);
  assert.equal(agreements.length, 1, "the record is on the phone");

  // A person's reload with the server down: the service worker serves the page.
  await b.reload();
  assert.ok(await b.controlled(), "the reloaded page is controlled by the service worker");
  await b.testId("child-Amira Khan", { name: "Signed" });
  assert.equal(await b.attr("pending", "data-count"), "1", "the record is still waiting");

  // The server comes back on the same port and database; nobody touches the page.
  await server.restart();
  const back = Date.now();
  const token = await adminToken(server.base);
  const rows = await eventually(
    async () => {
      const rows = await getJson(`${server.base}/api/v1/agreements`, token);
      return rows.length > 0 && rows;
    },
    60_000,
    "the record on the server",
  );
  t.diagnostic(`${ENGINE}: the record arrived ${since(back)} ms after the server came back`);
  assert.equal(rows.length, 1);
  assert.equal(rows[0].capacity.child_name, "Amira Khan");
  assert.equal(rows[0].mark.method, "drawn");
  await eventually(async () => (await b.attr("pending", "data-count")) === "0", 30_000, "nothing pending on the phone");
  // Another pass (a reload starts one) sends nothing twice.
  await b.reload();
  await b.testId("child-Amira Khan", { name: "Signed" });
  await eventually(async () => (await b.attr("pending", "data-count")) === "0", 30_000, "nothing pending after reload");
  assert.equal((await getJson(`${server.base}/api/v1/agreements`, token)).length, 1, "exactly once");
});

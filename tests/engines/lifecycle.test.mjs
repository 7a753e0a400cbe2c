// In every engine: a page someone leaves may be kept alive and frozen in the
// back/forward cache (Firefox, WebKit). It must not keep what the next page
// needs: the sync lock (leaving mid-sync) or an IndexedDB transaction
// (leaving mid-write). The next page completes its own sync and its own write.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import {
  adminToken,
  eventually,
  freePort,
  getJson,
  postJson,
  scratchDir,
  STAFF,
  startServer,
} from "../e2e/support.mjs";
import { ENGINE, startBrowser } from "./driver.mjs";
import { signIn } from "./app.mjs";

async function server(t, env = {}) {
  const scratch = scratchDir();
  const port = await freePort();
  const s = await startServer({ port, database: join(scratch.dir, "haven.sqlite3"), env });
  t.after(async () => {
    await s.stop();
    scratch.cleanup();
  });
  return s;
}

test(`[${ENGINE}] a page left in the middle of a sync does not keep the next page from syncing`, async (t) => {
  // Each push waits inside the server for 3 s: the page is left while one is out.
  const s = await server(t, { HAVEN_TEST_PUSH_PAUSE_MS: "3000" });
  const admin = await adminToken(s.base);
  const report = await postJson(`${s.base}/api/v1/parent-invitations/import`, admin, {
    csv:
      "Pupil name,Class,Academy,Parent/carer name,Email\n" +
      "Amira Khan,Year 3,Oakfield Primary Academy,Sara Khan,sara@example.org\n",
  });
  const link = `${s.base}${report.invitations[0].link_path}`;
  const b = await startBrowser(t, { width: 500, height: 900 });
  await b.goto(link);
  await b.testId("join-welcome");
  await b.waitForServiceWorker();
  await b.click(b.role("link", /Pupil/, { within: await b.testId("child-Amira Khan") }));
  await b.fill("Your relationship to Amira Khan", "Mother");
  await b.draw(b.testId("signature-pad"));
  await b.check(/I have read this agreement/);
  await b.clickButton("Sign", { exact: true });
  await b.testId("signed", { name: /For\s*Amira Khan/ });
  // The signature asked for a sync: its push is out, holding the sync lock.
  await eventually(
    () => b.eval(async () => (await navigator.locks.query()).held.some((l) => l.name === "haven-sync")),
    10_000,
    "a sync under way",
  );
  // The parent goes back to the invitation page: a new document; the old
  // one may stay frozen in the back/forward cache.
  await b.goto(link);
  await b.testId("child-Amira Khan", { name: "Signed" });
  // The new page syncs: nothing waits, and the server has the record once.
  await eventually(async () => (await b.attr("pending", "data-count")) === "0", 45_000, "the new page's sync");
  const rows = await getJson(`${s.base}/api/v1/agreements`, admin);
  assert.equal(rows.length, 1, "exactly once");
  assert.equal(await b.textOf("connection"), "Online");
});

test(`[${ENGINE}] a page left in the middle of a write does not block the next page's writes`, async (t) => {
  const s = await server(t);
  const b = await startBrowser(t, { width: 1024, height: 768 });
  await b.goto(`${s.base}/policies`);
  await b.waitForServiceWorker();
  await b.testId("policy-link");
  // This page is in the middle of a long write to the store a sign-in writes
  // to (as a first sync writing many policies is): a readwrite transaction
  // that is still making requests when the page is left.
  await b.eval(async () => {
    const db = await new Promise((ok, no) => {
      const r = indexedDB.open("haven");
      r.onsuccess = () => ok(r.result);
      r.onerror = () => no(r.error);
    });
    const tx = db.transaction(["meta"], "readwrite");
    const store = tx.objectStore("meta");
    let n = 0;
    const more = () => {
      try {
        store.put(n++, "lifecycle-test").onsuccess = more;
      } catch {
        // aborted
      }
    };
    more();
    return true;
  });
  // Leave it: the sign-in page is a new document, and "Save PIN" writes the
  // person's key and settings to that store.
  await signIn(b, s.base, STAFF.teacher, "582046");
  const { meta } = await b.idb(["meta"]);
  assert.ok(meta.length > 0);
});

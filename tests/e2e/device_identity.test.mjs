// One device id, two devices: a browser profile (or a tablet image) copied
// with Haven's IndexedDB in it. The server refuses the second device's push
// as a clash; that device takes a new id and sends its records again. Every
// record of both arrives, and nothing is ever shown as sent that the server
// does not hold. And a teacher unlocked by PIN on an enrolled shared tablet
// signs the staff agreement, which arrives with their proof.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  adminToken,
  enrolDevice,
  eventually,
  getJson,
  idbContents,
  serverAndBrowser,
  signIn,
  STAFF,
  waitForServiceWorker,
} from "./support.mjs";

/** Every object store of the page's "haven" database: schema, keys and values (bytes marked). */
async function dumpDatabase(page) {
  return page.evaluate(async () => {
    const db = await new Promise((ok, no) => {
      const r = indexedDB.open("haven");
      r.onsuccess = () => ok(r.result);
      r.onerror = () => no(r.error);
    });
    const mark = (v) => {
      if (v instanceof Uint8Array) return { __bytes: Array.from(v) };
      if (v instanceof ArrayBuffer) return { __bytes: Array.from(new Uint8Array(v)) };
      if (Array.isArray(v)) return v.map(mark);
      if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mark(x)]));
      return v;
    };
    const stores = [];
    for (const name of db.objectStoreNames) {
      const store = db.transaction(name).objectStore(name);
      const indexes = [...store.indexNames].map((i) => {
        const index = store.index(i);
        return { name: i, keyPath: index.keyPath, unique: index.unique, multiEntry: index.multiEntry };
      });
      const rows = await new Promise((ok, no) => {
        const out = [];
        const r = store.openCursor();
        r.onsuccess = () => {
          const c = r.result;
          if (!c) return ok(out);
          out.push({ key: c.key, value: mark(c.value) });
          c.continue();
        };
        r.onerror = () => no(r.error);
      });
      stores.push({ name, keyPath: store.keyPath, autoIncrement: store.autoIncrement, indexes, rows });
    }
    const dump = { version: db.version, stores };
    db.close();
    return dump;
  });
}

/** Writes a dump into the page's origin before the app has opened its database. */
async function restoreDatabase(page, dump) {
  await page.evaluate(async (dump) => {
    const unmark = (v) => {
      if (v && typeof v === "object" && "__bytes" in v) return new Uint8Array(v.__bytes);
      if (Array.isArray(v)) return v.map(unmark);
      if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unmark(x)]));
      return v;
    };
    const db = await new Promise((ok, no) => {
      const r = indexedDB.open("haven", dump.version);
      r.onupgradeneeded = () => {
        for (const s of dump.stores) {
          const store = r.result.createObjectStore(s.name, s.keyPath === null ? {} : { keyPath: s.keyPath, autoIncrement: s.autoIncrement });
          for (const i of s.indexes) store.createIndex(i.name, i.keyPath, { unique: i.unique, multiEntry: i.multiEntry });
        }
      };
      r.onsuccess = () => ok(r.result);
      r.onerror = () => no(r.error);
    });
    const tx = db.transaction(dump.stores.map((s) => s.name), "readwrite");
    for (const s of dump.stores) {
      const store = tx.objectStore(s.name);
      for (const row of s.rows) {
        if (s.keyPath === null) store.put(unmark(row.value), row.key);
        else store.put(unmark(row.value));
      }
    }
    await new Promise((ok, no) => {
      tx.oncomplete = ok;
      tx.onerror = () => no(tx.error);
    });
    db.close();
  }, dump);
}

/** Signs the visitor agreement with a typed name (no drawing needed). */
async function signVisitor(page, base, policyId, name) {
  await page.goto(`${base}/sign/${policyId}`);
  await page.getByLabel("Your full name").fill(name);
  await page.getByLabel(/I cannot draw a signature/).check();
  await page.getByLabel(/I have read/).check();
  await page.getByRole("button", { name: "Sign", exact: true }).click();
  await page.getByTestId("signed").waitFor();
}

async function pending(page) {
  return Number(await page.getByTestId("pending").getAttribute("data-count"));
}

async function deviceOf(page) {
  const { meta } = await idbContents(page, ["meta"]);
  return meta.find((m) => m && m.device_id && "next_mutation_id" in m);
}

/** Every agreement the page shows as sent must be on the server. */
async function assertNothingShownSentThatIsMissing(page, onServer, who) {
  const { agreements } = await idbContents(page, ["agreements"]);
  for (const a of agreements) {
    if (a.sync.state === "synced") {
      assert.ok(onServer.has(a.record.id), `${who} shows "${a.record.signer_name}" as sent, and the server lacks it`);
    }
  }
}

test("two browsers with one copied device id: every record of both reaches the server, and the copy takes a new id", async (t) => {
  const { server, browser } = await serverAndBrowser(t);
  const policies = await getJson(`${server.base}/api/v1/policies`);
  const visitorAua = policies.find((p) => p.kind === "visitor_aua");

  // Tablet A: an enrolled kiosk, its app cached; one signature made offline waits.
  const contextA = await browser.newContext();
  const a = await contextA.newPage();
  await a.goto(`${server.base}/policies`);
  await waitForServiceWorker(a);
  await enrolDevice(a, server.base);
  await a.goto(`${server.base}/policies`);
  await a.getByTestId("policy-link").first().waitFor();
  await contextA.setOffline(true);
  await signVisitor(a, server.base, visitorAua.id, "Ada Before-Copy");
  await eventually(async () => (await pending(a)) === 1, 10_000, "A's signature waiting");

  // Its storage is copied into a second profile (a cloned tablet image)
  // before the app there has ever run: same device id, secret, token, outbox.
  const dump = await dumpDatabase(a);
  const contextB = await browser.newContext();
  const b = await contextB.newPage();
  await b.goto(`${server.base}/api/v1/health`);
  await restoreDatabase(b, dump);
  const original = await deviceOf(a);
  assert.equal((await deviceOf(b)).device_id, original.device_id, "the copy has the same device id");
  assert.equal((await deviceOf(b)).secret, original.secret, "and the same secret");
  // The copy starts online: it sends the copied signature as mutation 1,
  // which the server stores (the two devices are one to it so far).
  await b.goto(`${server.base}/policies`);
  await waitForServiceWorker(b);
  await eventually(async () => (await pending(b)) === 0, 30_000, "the copied signature sent by B");
  await contextB.setOffline(true);

  // Each signs its own, offline.
  await signVisitor(a, server.base, visitorAua.id, "Ada Second");
  await signVisitor(b, server.base, visitorAua.id, "Bea First");
  await signVisitor(b, server.base, visitorAua.id, "Bea Second");
  await eventually(async () => (await pending(a)) === 2, 10_000, "A has two waiting");
  await eventually(async () => (await pending(b)) === 2, 10_000, "B has two waiting");

  // A comes back first and sends mutations 1 (a replay of what B sent for
  // it: answered duplicate) and 2.
  await contextA.setOffline(false);
  await a.goto(`${server.base}/sync`);
  await eventually(async () => (await pending(a)) === 0, 30_000, "A's records sent");

  // B comes back: its 2 is a different record under a number the server has
  // processed (409 device_conflict, nothing kept). It takes a new id,
  // numbers what waits 1 and 2 again, and sends it.
  await contextB.setOffline(false);
  await b.goto(`${server.base}/sync`);
  await eventually(async () => (await pending(b)) === 0, 30_000, "B's records sent after taking a new id");
  await b.getByTestId("identity-notice").filter({ hasText: "nothing was lost" }).waitFor();
  const renamed = await deviceOf(b);
  assert.notEqual(renamed.device_id, original.device_id, "B took a new id");
  assert.deepEqual(renamed.previous_ids, [original.device_id], "and remembers the old one");
  assert.equal(renamed.secret, original.secret, "keeping its secret");
  assert.equal(await a.getByTestId("identity-notice").count(), 0, "A kept its id");
  assert.equal((await deviceOf(a)).device_id, original.device_id);

  const token = await adminToken(server.base);
  const rows = await getJson(`${server.base}/api/v1/agreements`, token);
  const names = rows.map((r) => r.signer_name).sort();
  assert.deepEqual(names, ["Ada Before-Copy", "Ada Second", "Bea First", "Bea Second"], "every record of both, once");
  const onServer = new Set(rows.map((r) => r.id));
  await assertNothingShownSentThatIsMissing(a, onServer, "A");
  await assertNothingShownSentThatIsMissing(b, onServer, "B");
  assert.equal((await idbContents(b, ["outbox"])).outbox.length, 0, "B's outbox is empty, nothing refused");

  // The notice goes when dismissed, and stays gone after a reload.
  await b.getByTestId("dismiss-identity-notice").click();
  await b.getByTestId("identity-notice").waitFor({ state: "detached" });
  await b.reload();
  await b.getByTestId("status-pending").waitFor();
  assert.equal(await b.getByTestId("identity-notice").count(), 0);
});

test("a teacher unlocked by PIN on an enrolled shared tablet signs the staff agreement, and it arrives with their proof", async (t) => {
  const { server, browser } = await serverAndBrowser(t);
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.base}/policies`);
  await waitForServiceWorker(page);
  await enrolDevice(page, server.base, { kind: "shared_tablet", label: "Staff room tablet" });
  await signIn(page, server.base, STAFF.teacher, { pin: "402913" });
  await waitForServiceWorker(page);

  // Later, offline, the tablet is reloaded (nothing in memory) and the
  // teacher unlocks with their PIN alone.
  await context.setOffline(true);
  await page.reload();
  await page.getByRole("banner").getByRole("link", { name: "Unlock" }).click();
  await page.getByRole("button", { name: STAFF.teacher.name }).click();
  await page.getByLabel(`PIN for ${STAFF.teacher.name}`).fill("402913");
  await page.getByRole("button", { name: "Unlock" }).click();
  await page.getByTestId("signed-in-as").filter({ hasText: STAFF.teacher.name }).waitFor();

  // In the app (a page load would lock it again).
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Policies" }).click();
  await page.getByRole("link", { name: /Staff Acceptable Use Agreement/ }).click();
  await page.getByRole("link", { name: "Sign this agreement" }).first().click();
  await page.getByLabel("Your full name").waitFor();
  assert.equal(await page.getByLabel("Your full name").inputValue(), STAFF.teacher.name);
  await page.getByLabel(/I cannot draw a signature/).check();
  await page.getByLabel(/I have read/).check();
  await page.getByRole("button", { name: "Sign", exact: true }).click();
  await page.getByTestId("signed").waitFor();
  const { outbox } = await idbContents(page, ["outbox"]);
  assert.equal(outbox.length, 1);
  assert.ok(outbox[0].mutation.proof, "the entry carries the teacher's proof");
  assert.equal(outbox[0].mutation.change.record.signer_account, outbox[0].mutation.proof.account);

  // Online again: the tablet's own token sends it, and the server accepts
  // it only because of the proof (a kiosk token alone is refused).
  await context.setOffline(false);
  await page.evaluate(() => window.dispatchEvent(new Event("online")));
  const token = await adminToken(server.base);
  const rows = await eventually(async () => {
    const all = await getJson(`${server.base}/api/v1/agreements`, token);
    return all.length === 1 && all;
  }, 30_000, "the staff agreement on the server");
  assert.equal(rows[0].signer_name, STAFF.teacher.name);
  assert.equal(rows[0].signer_account, outbox[0].mutation.proof.account);
  assert.match(rows[0].identified_by, /^device:shared_tablet:/);
  await eventually(async () => (await idbContents(page, ["outbox"])).outbox.length === 0, 15_000, "nothing left waiting");
});

// Puts records straight into the app's IndexedDB, in exactly the shapes the
// app writes (src/db/*.rs, haven_core's sync wire types), so a test or a
// benchmark can start with a large outbox without signing 1,000 times.

/**
 * Queues `count` signatures of `policy` on the page's device: agreements and
 * outbox entries with the device's next mutation numbers, in one transaction.
 * The app must have opened its database on this page first.
 */
export async function seedSignatures(page, policy, count, namePrefix = "Seeded signer") {
  return page.evaluate(
    async ({ policy, count, namePrefix }) => {
      // 32 random bytes, base64url without padding: 43 characters.
      const newSecret = () =>
        btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))
          .replaceAll("+", "-")
          .replaceAll("/", "_")
          .replace(/=+$/, "");
      const db = await new Promise((resolve, reject) => {
        const req = indexedDB.open("haven");
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      const tx = db.transaction(["agreements", "outbox", "meta"], "readwrite", { durability: "strict" });
      const meta = tx.objectStore("meta");
      const device = await new Promise((resolve, reject) => {
        const req = meta.get("device");
        // The app makes this on first run; a test that seeds before the app
        // has run makes one as the app would (src/db/meta.rs DeviceInfo):
        // the server binds the id to the secret at the first push.
        req.onsuccess = () => resolve(req.result ?? { device_id: crypto.randomUUID(), next_mutation_id: 1, secret: newSecret() });
        req.onerror = () => reject(req.error);
      });
      // Mutations are numbered on from the device's counter, with no gap:
      // the server refuses a jump (409 mutation_gap).
      const now = Date.now();
      for (let i = 0; i < count; i++) {
        const id = device.next_mutation_id++;
        const record = {
          id: crypto.randomUUID(),
          policy_version_id: policy.id,
          policy_text_sha256: policy.text_sha256,
          signer_name: `${namePrefix} ${id}`,
          agreed: true,
          signed_at: now,
          device_id: device.device_id,
        };
        tx.objectStore("agreements").add({ record, mutation_id: id, sync: { state: "pending" } });
        tx.objectStore("outbox").add({
          mutation: { id, change: { type: "create_agreement", record } },
          state: "pending",
          queued_at: now,
        });
      }
      meta.put(device, "device");
      await new Promise((resolve, reject) => {
        tx.oncomplete = resolve;
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
      });
      db.close();
      return device.device_id;
    },
    { policy, count, namePrefix },
  );
}

/** Counts outbox entries in the page's database that are still pending. */
export async function pendingInDb(page) {
  return page.evaluate(async () => {
    const db = await new Promise((resolve, reject) => {
      const req = indexedDB.open("haven");
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    const all = await new Promise((resolve, reject) => {
      const req = db.transaction("outbox").objectStore("outbox").getAll();
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    db.close();
    return all.filter((e) => e.state === "pending").length;
  });
}

/** Every outbox entry in the page's database, pending and rejected. */
export async function outboxEntries(page) {
  return page.evaluate(async () => {
    const db = await new Promise((resolve, reject) => {
      const req = indexedDB.open("haven");
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    const all = await new Promise((resolve, reject) => {
      const req = db.transaction("outbox").objectStore("outbox").getAll();
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    db.close();
    return all;
  });
}

/**
 * Queues one change (`{type, record}` as haven_core's wire `Change`, built by
 * `make(deviceId, now)`) in the outbox under the device's next mutation
 * number, as the app would. The app must have made its device first.
 */
export async function seedChange(page, make) {
  return page.evaluate(async (makeSource) => {
    const make = eval(makeSource);
    const db = await new Promise((resolve, reject) => {
      const req = indexedDB.open("haven");
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    const tx = db.transaction(["outbox", "meta"], "readwrite", { durability: "strict" });
    const meta = tx.objectStore("meta");
    const device = await new Promise((resolve, reject) => {
      const req = meta.get("device");
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    const now = Date.now();
    const id = device.next_mutation_id++;
    tx.objectStore("outbox").add({ mutation: { id, change: make(device.device_id, now) }, state: "pending", queued_at: now });
    meta.put(device, "device");
    await new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
    db.close();
    return device.device_id;
  }, make.toString());
}

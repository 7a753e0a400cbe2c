// Photos from a phone camera attached to an incident with the server down:
// each is made smaller on the device (2,048 px on the longest side), sealed,
// and waits encrypted; an agreement signed after it does not wait for it.
// Back online both records arrive, the photos follow in pieces, and the DSL
// opens each one. A file that could never be sent is refused when picked.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import {
  adminToken,
  eventually,
  freePort,
  getJson,
  idbContents,
  launchBrowser,
  scratchDir,
  signIn,
  STAFF,
  startServer,
  waitForServiceWorker,
} from "./support.mjs";

const MB = 1024 * 1024;

/**
 * Three camera-sized JPEGs (4000×3000, 4–5 MB each), made in the page: a
 * photo's smooth light with blocky noise for its detail, the noise adjusted
 * until the file is the size a phone's would be. Returns the files' bytes.
 */
async function cameraPhotos(page) {
  const photos = await page.evaluate(async () => {
    const make = async (seed, amplitude) => {
      const [w, h, block] = [4000, 3000, 4];
      const canvas = document.createElement("canvas");
      canvas.width = w;
      canvas.height = h;
      const ctx = canvas.getContext("2d");
      const image = ctx.createImageData(w, h);
      const d = image.data;
      const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
      const bw = Math.ceil(w / block);
      const noise = new Float32Array(bw * Math.ceil(h / block) * 3).map(() => (random() - 0.5) * 2 * amplitude);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const i = (y * w + x) * 4;
          const b = (((y / block) | 0) * bw + ((x / block) | 0)) * 3;
          d[i] = 120 + 80 * Math.sin(x / 700) + noise[b];
          d[i + 1] = 110 + 70 * Math.cos(y / 500) + noise[b + 1];
          d[i + 2] = 100 + 60 * Math.sin((x + y) / 900) + noise[b + 2];
          d[i + 3] = 255;
        }
      }
      ctx.putImageData(image, 0, 0);
      return new Promise((r) => canvas.toBlob(r, "image/jpeg", 0.95));
    };
    const out = [];
    for (const seed of [11, 22, 33]) {
      let amplitude = 30;
      let blob = await make(seed, amplitude);
      for (let tries = 0; tries < 6 && (blob.size < 4.1 * 1048576 || blob.size > 4.9 * 1048576); tries++) {
        amplitude *= blob.size < 4.1 * 1048576 ? 1.15 : 0.87;
        blob = await make(seed, amplitude);
      }
      const bytes = new Uint8Array(await blob.arrayBuffer());
      let binary = "";
      for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      out.push(btoa(binary));
    }
    return out;
  });
  return photos.map((b64) => Buffer.from(b64, "base64"));
}

/** How many entries `store` of the app's IndexedDB holds. */
async function countIn(page, store) {
  return page.evaluate(async (name) => {
    const db = await new Promise((ok, no) => {
      const r = indexedDB.open("haven");
      r.onsuccess = () => ok(r.result);
      r.onerror = () => no(r.error);
    });
    const n = await new Promise((ok) => {
      const r = db.transaction(name).objectStore(name).count();
      r.onsuccess = () => ok(r.result);
    });
    db.close();
    return n;
  }, store);
}

test("three camera photos attached offline are made smaller, follow their incident and an agreement, and the DSL opens each", async (t) => {
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
  const page = await browser.newPage({ viewport: { width: 1024, height: 768 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${server.base}/policies`);
  await waitForServiceWorker(page);
  await signIn(page, server.base, STAFF.teacher);
  await waitForServiceWorker(page);
  // The incident key and the rule tables are on the device after a sync.
  await eventually(
    async () => {
      const { reference } = await idbContents(page, ["reference"]);
      return reference.some((v) => v.spki) && reference.some((v) => v.tables);
    },
    30_000,
    "the incident key and rules on the device",
  );
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Incidents" }).click();
  await page.getByRole("link", { name: "Log an incident" }).click();
  await page.getByLabel("A pupil, in a lesson").waitFor({ timeout: 30_000 });
  const photos = await cameraPhotos(page);
  for (const p of photos) {
    assert.ok(p.length >= 4 * MB && p.length <= 5 * MB, `a camera-sized photo: ${(p.length / MB).toFixed(2)} MB`);
    assert.deepEqual([...p.subarray(0, 3)], [0xff, 0xd8, 0xff], "a real JPEG");
  }

  // The server goes down.
  await server.stop();
  await page.getByLabel("A pupil, in a lesson").check();
  await page.getByLabel("Search").fill("proxy");
  await page.getByTestId("incident-types").getByRole("radio").first().check();
  await page.getByTestId("attachments").waitFor();
  // A file that could never be sent is refused the moment it is picked, with the reason.
  await page.locator("#attachments").setInputFiles({ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("hello") });
  await page.locator("#error-summary").waitFor();
  assert.match(await page.locator("#error-summary").textContent(), /notes\.txt cannot be attached: attach a photo \(JPEG, PNG or WebP\) or a PDF/);
  assert.equal(await page.locator("#attachments").getAttribute("aria-invalid"), "true");
  // Three photos straight from the camera.
  const picked = Date.now();
  await page.locator("#attachments").setInputFiles(
    photos.map((buffer, i) => ({ name: `IMG_20${41 + i}.jpg`, mimeType: "image/jpeg", buffer })),
  );
  const listed = page.getByTestId("attached-files").locator("li");
  await eventually(async () => (await listed.count()) === 3, 60_000, "three photos listed");
  const shrinkMs = Date.now() - picked;
  assert.equal(await page.locator("#error-summary").count(), 0, "the refusal went with a good pick");
  const sizes = [];
  for (const text of await listed.allTextContents()) {
    const m = text.match(/\((\d+\.\d) MB, made smaller from (\d+\.\d) MB\)/);
    assert.ok(m, `each photo was made smaller: ${text}`);
    sizes.push([Number(m[2]), Number(m[1])]);
    assert.ok(Number(m[1]) < 2, `small enough to send easily: ${text}`);
  }
  await page.getByLabel("Where?").fill("ICT suite");
  await page.getByLabel("Pupil", { exact: true }).check();
  await page.getByLabel("Their name").fill("Robin Example");
  await page.getByLabel("What happened", { exact: true }).fill("Photos of the proxy site on the class tablet");
  for (const box of await page.locator("#actions-taken input[type=checkbox]").all()) await box.check();
  const told = page.getByLabel("Yes", { exact: true });
  if (await told.count()) await told.check();
  await page.getByRole("button", { name: "Submit incident" }).click();
  await page.getByTestId("incident-logged").waitFor();
  assert.equal(await countIn(page, "attachments"), 3, "the three photos wait on the device, encrypted");
  assert.match(await page.getByTestId("files-waiting").textContent(), /3 attached files are still to be sent/);

  // Then an agreement, still offline: it does not wait behind the photos.
  // (The home page's "to sign" list comes from the server; the library is on the device.)
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Policies" }).click();
  await page.getByRole("link", { name: /Staff Acceptable Use Agreement/ }).click();
  await page.getByRole("link", { name: "Sign this agreement" }).first().click();
  await page.getByLabel("Job title").fill("Class teacher");
  await page.getByLabel(/I cannot draw a signature/).check();
  await page.getByLabel(/I have read/).check();
  await page.getByRole("button", { name: "Sign", exact: true }).click();
  await page.getByTestId("signed").waitFor();
  assert.equal(await countIn(page, "outbox"), 2, "the incident and the agreement wait");

  // Back online.
  server = await startServer({ port, database });
  const online = Date.now();
  await page.evaluate(() => window.dispatchEvent(new Event("online")));
  const dsl = await adminToken(server.base, STAFF.dsl);
  const [incident] = await eventually(
    async () => {
      const list = await getJson(`${server.base}/api/v1/incidents`, dsl);
      return list.length > 0 && list;
    },
    60_000,
    "the incident to reach the DSL",
  );
  const admin = await adminToken(server.base);
  await eventually(
    async () => (await getJson(`${server.base}/api/v1/agreements`, admin)).some((a) => a.signer_name === STAFF.teacher.name),
    60_000,
    "the agreement to arrive",
  );
  const detail = await eventually(
    async () => {
      const d = await getJson(`${server.base}/api/v1/incidents/${incident.id}`, dsl);
      return d.arrived.length === 3 && d;
    },
    60_000,
    "the three photos to arrive",
  );
  const uploadMs = Date.now() - online;
  assert.deepEqual(
    detail.record.attachments.map((a) => a.name),
    ["IMG_2041.jpg", "IMG_2042.jpg", "IMG_2043.jpg"],
  );
  assert.ok(detail.record.attachments.every((a) => a.content_type === "image/jpeg" && a.key === ""));
  // Received whole, the device forgets them.
  await eventually(async () => (await countIn(page, "attachments")) === 0, 60_000, "the device to forget the sent photos");

  // The DSL opens each photo in the incident log.
  const lead = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await lead.goto(`${server.base}/policies`);
  await signIn(lead, server.base, STAFF.dsl);
  await lead.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" }).click();
  await lead.getByRole("link", { name: "Incident log" }).click();
  await lead.getByTestId("incident-row").first().getByRole("link").click();
  await lead.getByTestId("incident-detail").waitFor();
  const images = lead.getByTestId("attachment-image");
  await eventually(async () => (await images.count()) === 3, 60_000, "three photos shown");
  const widths = await eventually(
    async () => {
      const w = await images.evaluateAll((imgs) => imgs.map((i) => (i.complete ? i.naturalWidth : 0)));
      return w.every((x) => x > 0) && w;
    },
    30_000,
    "the photos to load",
  );
  assert.deepEqual(widths, [2048, 2048, 2048]);
  const audit = await getJson(`${server.base}/api/v1/audit`, admin);
  const reads = audit.filter((e) => e.action === "read_incident_attachment" && e.subject === incident.id);
  assert.equal(reads.length, 3, "each photo the DSL opened is audited");
  console.log(
    `photos: ${sizes.map(([from, to]) => `${from} MB -> ${to} MB`).join(", ")}; ` +
      `made smaller in ${shrinkMs} ms (three); back online to all three photos on the server: ${uploadMs} ms`,
  );
  assert.deepEqual(errors, [], "no uncaught errors in the page");
});

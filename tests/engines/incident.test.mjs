// In every engine: on a shared tablet that has synced once, a teacher unlocks
// with her PIN while the school's server is down and logs an e-safety
// incident (sealed on the tablet with WebCrypto); when the server is back it
// reaches the DSL exactly once, readable there, and the tablet keeps only the
// stub.
import assert from "node:assert/strict";
import { test } from "node:test";
import { adminToken, eventually, getJson, STAFF } from "../e2e/support.mjs";
import { ENGINE, startBrowser } from "./driver.mjs";
import { enrol, havenServer, signIn, since, unlock } from "./app.mjs";

const PIN = "402913";
const DESCRIPTION = "Pupil searched for and opened images that may be illegal on the library PC";

test(`[${ENGINE}] an incident logged offline on a shared tablet reaches the DSL once`, async (t) => {
  const server = await havenServer(t);
  const b = await startBrowser(t, { width: 1024, height: 768 });
  await b.goto(`${server.base}/policies`);
  await b.waitForServiceWorker();
  await enrol(b, server.base, { kind: "shared_tablet", label: "Year 5 tablet" });
  await signIn(b, server.base, STAFF.teacher, PIN);
  // Staff pages are the full app: it must be cached for later.
  await b.waitForServiceWorker();
  await eventually(
    async () => {
      const { reference } = await b.idb(["reference"]);
      return reference.some((v) => v.spki) && reference.some((v) => v.tables);
    },
    30_000,
    "the incident key and rules on the tablet",
  );

  await server.kill();
  await unlock(b, server.base, STAFF.teacher, PIN, "/incidents/new");
  await b.role("heading", "Log an e-safety incident");
  await b.check("A pupil, outside lessons");
  await b.fill("Search", "illegal");
  await b.check(/could be illegal/);
  await b.testId("stop-screen");
  await b.click(b.testId("stop-understood"));
  await b.fill("Where?", "Library");
  await b.check("Pupil", { exact: true });
  await b.fill("Their name", "Sam Example");
  await b.fill("What happened", DESCRIPTION, { exact: true });
  await b.check("Yes", { exact: true });
  const boxes = await b.driver.executeScript(
    "return [...document.querySelectorAll('#actions-taken input[type=checkbox]')].map((el) => el.id)",
  );
  assert.ok(boxes.length > 0, "actions to tick");
  for (const id of boxes) {
    const box = await b.find("css", `#${id}`);
    if (!(await box.isSelected())) await b.click(b.find("css", `label[for="${id}"]`));
  }
  await b.clickButton("Submit incident");
  await b.testId("incident-logged");
  await b.testId("incident-state", { name: "Not yet received by the DSL" });
  const raw = JSON.stringify(await b.idb());
  assert.ok(raw.includes("illegal-material"), "the stub is stored");
  assert.ok(!raw.includes("Sam Example") && !raw.includes("library PC"), "nothing readable stored");

  await server.restart();
  const back = Date.now();
  // The page stays as it is: the app's own retry brings it.
  const dsl = await adminToken(server.base, STAFF.dsl);
  const incidents = await eventually(
    async () => {
      const list = await getJson(`${server.base}/api/v1/incidents`, dsl);
      return list.length > 0 && list;
    },
    60_000,
    "the incident to reach the DSL",
  );
  t.diagnostic(`${ENGINE}: the incident arrived ${since(back)} ms after the server came back`);
  assert.equal(incidents.length, 1);
  assert.equal(incidents[0].immediate, true);
  const detail = await getJson(`${server.base}/api/v1/incidents/${incidents[0].id}`, dsl);
  assert.equal(detail.record.description, DESCRIPTION);
  const stub = await eventually(
    async () => {
      const { incidents: all } = await b.idb(["incidents"]);
      return all.length === 1 && all[0].sync.state === "synced" && all[0];
    },
    30_000,
    "the tablet to mark the incident received",
  );
  assert.equal(stub.author_copy ?? null, null, "the author's copy left the tablet");
  await b.reload();
  await b.eval(() => new Promise((r) => setTimeout(r, 2_000)));
  assert.equal((await getJson(`${server.base}/api/v1/incidents`, dsl)).length, 1, "exactly once");
});

// Rosters from the MIS, end to end: the trust admin chooses a OneRoster
// export's files, checks what importing would change (nothing is written),
// imports, and later imports a newer export in which a teacher has left.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ADMIN, adminToken, axeViolations, getJson, serverAndBrowser, signIn } from "./support.mjs";

const csv = (name, text) => ({ name, mimeType: "text/csv", buffer: Buffer.from(text) });

/** An export of Oakfield: three teachers (or two, once Ada has left), four pupils, two carers. */
function exportFiles({ adaLeft }) {
  const users = [
    "sourcedId,status,orgSourcedIds,role,givenName,familyName,email,agentSourcedIds",
    `t1,${adaLeft ? "tobedeleted" : "active"},o1,teacher,Ada,Roster,ada.roster@oakfield.example,`,
    "t2,active,o1,teacher,Ben,Roster,ben.roster@oakfield.example,",
    "t3,active,o1,aide,Cy,Roster,cy.roster@oakfield.example,",
    'p1,active,o1,student,Dee,Pupil,,"g1"',
    'p2,active,o1,student,Eli,Pupil,,"g1"',
    'p3,active,o1,student,Fay,Pupil,,"g2"',
    'p4,active,o1,student,Gus,Pupil,,"g2"',
    "g1,active,o1,parent,Hana,Carer,hana@example.org,",
    "g2,active,o1,guardian,Ivo,Carer,,",
  ];
  return [
    csv("orgs.csv", "sourcedId,status,name,type\no1,active,Oakfield Primary Academy,school\n"),
    csv("users.csv", users.join("\n") + "\n"),
  ];
}

test("the trust admin checks a MIS export, imports it, and a newer one deactivates who left", async (t) => {
  const { server, browser } = await serverAndBrowser(t);
  const page = await (await browser.newContext({ bypassCSP: true, acceptDownloads: true })).newPage();
  await page.goto(`${server.base}/policies`);
  await page.getByTestId("policy-link").first().waitFor();
  await signIn(page, server.base, ADMIN);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" }).click();
  await page.getByRole("main").getByRole("link", { name: "Import from the MIS" }).click();

  const choose = async (files) => {
    await page.getByLabel("orgs.csv").setInputFiles(files[0]);
    await page.getByLabel("users.csv").setInputFiles(files[1]);
  };
  const summary = page.getByTestId("roster-summary");
  const row = (name) => summary.getByRole("row", { name: new RegExp(`^${name}`) });
  await choose(exportFiles({ adaLeft: false }));
  await page.getByRole("button", { name: "Check what would change" }).click();
  await page.getByTestId("roster-result").filter({ hasText: "nothing has changed yet" }).waitFor();
  assert.deepEqual(await row("Staff").getByRole("cell").allTextContents(), ["3", "0", "0", "0"]);
  assert.deepEqual(await row("Families").getByRole("cell").allTextContents(), ["2", "0", "0", "0"]);
  const token = await adminToken(server.base);
  const emails = async () => (await getJson(`${server.base}/api/v1/staff`, token)).filter((s) => s.email.endsWith("roster@oakfield.example"));
  assert.equal((await emails()).length, 0, "checking writes nothing");
  assert.deepEqual(await axeViolations(page), []);

  await page.getByRole("button", { name: "Import", exact: true }).click();
  await page.getByTestId("roster-result").filter({ hasText: "Imported." }).waitFor();
  await page.getByRole("button", { name: "Download 3 staff links" }).waitFor();
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Download 2 family links" }).click(),
  ]);
  assert.equal(download.suggestedFilename(), "family-links.csv");
  const imported = await emails();
  assert.equal(imported.length, 3);
  assert.ok(imported.every((s) => s.active));

  // The newer export: Ada has left. She is named before anything changes.
  await choose(exportFiles({ adaLeft: true }));
  await page.getByRole("button", { name: "Check what would change" }).click();
  await page.getByTestId("roster-leavers").filter({ hasText: "Ada Roster" }).waitFor();
  assert.deepEqual(await row("Staff").getByRole("cell").allTextContents(), ["0", "0", "1", "2"]);
  await page.getByRole("button", { name: "Import", exact: true }).click();
  await page.getByTestId("roster-result").filter({ hasText: "Imported." }).waitFor();
  const after = await emails();
  assert.equal(after.length, 3, "nobody is deleted");
  assert.deepEqual(
    after.filter((s) => !s.active).map((s) => s.email),
    ["ada.roster@oakfield.example"],
  );
});

// Accounts through the app: an admin invites a teacher who sets a password,
// enrols a device and revokes it, makes parent links from a class list
// (QR codes, CSV) that work once; a teacher adds an authenticator app.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  ADMIN,
  eventually,
  freePort,
  getJson,
  adminToken,
  launchBrowser,
  scratchDir,
  signIn,
  startServer,
  STAFF,
  totp,
} from "./support.mjs";

async function setup(t) {
  const scratch = scratchDir();
  const server = await startServer({ port: await freePort(), database: join(scratch.dir, "haven.sqlite3") });
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await server.stop();
    scratch.cleanup();
  });
  return { scratch, server, browser };
}

async function openAdmin(page, link) {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" }).click();
  await page.getByRole("main").getByRole("link", { name: link }).click();
}

test("an admin invites a teacher, who sets a password through the link once", async (t) => {
  const { server, browser } = await setup(t);
  const admin = await (await browser.newContext()).newPage();
  await admin.goto(`${server.base}/policies`);
  await signIn(admin, server.base, ADMIN);
  await openAdmin(admin, "Staff and roles");
  await admin.getByLabel("Full name").fill("Nia Adeyemi");
  await admin.getByLabel("Email address").fill("nia@oakfield.example");
  await admin.getByLabel("Role").selectOption({ label: "Staff" });
  await admin.getByLabel("Academy").selectOption({ label: "Oakfield Primary Academy" });
  await admin.getByRole("button", { name: "Invite" }).click();
  const link = (await admin.locator(".link-list code").first().textContent()).trim();
  assert.match(link, /\/invite\/hl_[0-9a-f]{64}$/);
  await admin.getByTestId("staff-table").filter({ hasText: "nia@oakfield.example" }).waitFor();
  // The admin gives her a second role, and takes it back.
  await admin.getByRole("button", { name: "Change roles of Nia Adeyemi" }).click();
  const editor = admin.getByTestId("role-editor");
  await editor.getByLabel("Add a role").selectOption({ label: "Designated safeguarding lead (DSL)" });
  await editor.getByLabel("At academy").selectOption({ label: "Oakfield Primary Academy" });
  await editor.getByRole("button", { name: "Add", exact: true }).click();
  await editor.getByRole("button", { name: "Save roles" }).click();
  await admin.getByTestId("staff-table").getByRole("row", { name: /Nia Adeyemi/ })
    .filter({ hasText: "Designated safeguarding lead (DSL) (Oakfield Primary Academy)" }).waitFor();
  await admin.getByRole("button", { name: "Change roles of Nia Adeyemi" }).click();
  await editor.getByRole("button", { name: /Remove Designated safeguarding lead/ }).click();
  await editor.getByRole("button", { name: "Save roles" }).click();
  await eventually(
    async () => !(await admin.getByTestId("staff-table").getByRole("row", { name: /Nia Adeyemi/ }).textContent()).includes("DSL"),
    10_000,
    "the role to go",
  );

  const nia = await (await browser.newContext()).newPage();
  await nia.goto(link);
  await nia.getByLabel("New password").fill("password123");
  await nia.getByLabel("Type the password again").fill("password123");
  await nia.getByRole("button", { name: "Set my password" }).click();
  await nia.getByTestId("invite-error").filter({ hasText: /common/ }).waitFor();
  await nia.getByLabel("New password").fill("kettle lantern orchard");
  await nia.getByLabel("Type the password again").fill("kettle lantern orchard");
  await nia.getByRole("button", { name: "Set my password" }).click();
  await nia.getByRole("heading", { name: "Choose a PIN for this device" }).waitFor();
  await nia.getByRole("button", { name: "Not now" }).click();
  await nia.getByTestId("signed-in-as").filter({ hasText: "Nia Adeyemi" }).waitFor();

  const again = await (await browser.newContext()).newPage();
  await again.goto(link);
  await again.getByLabel("New password").fill("another fine passphrase");
  await again.getByLabel("Type the password again").fill("another fine passphrase");
  await again.getByRole("button", { name: "Set my password" }).click();
  await again.getByTestId("invite-error").filter({ hasText: /already been used/ }).waitFor();
});

test("parent links from a class list: siblings share one, with QR codes and a CSV, and each works once", async (t) => {
  const { scratch, server, browser } = await setup(t);
  const lead = await (await browser.newContext({ acceptDownloads: true })).newPage();
  await lead.goto(`${server.base}/policies`);
  await signIn(lead, server.base, { email: "esafety@oakfield.example", password: ADMIN.password });
  await openAdmin(lead, "Parent and carer invitations");
  const csv = join(scratch.dir, "class-3.csv");
  writeFileSync(
    csv,
    "Pupil name,Class,Academy,Parent/carer name,Email\r\n" +
      "Amira Khan,Year 3,Oakfield Primary Academy,Sara Khan,sara@example.org\r\n" +
      "Yusuf Khan,Year 5,Oakfield Primary Academy,Sara Khan,sara@example.org\r\n" +
      "Leo Brown,Year 3,Oakfield Primary Academy,Jo Brown,\r\n" +
      "Nobody,Year 3,Atlantis Academy,Someone,\r\n",
  );
  await lead.getByLabel("Class list (CSV)").setInputFiles(csv);
  await lead.getByTestId("issued-links").waitFor();
  assert.equal(await lead.locator(".invitation-card").count(), 2, "siblings share a link");
  assert.equal(await lead.locator(".invitation-card .qr svg").count(), 2, "each link has a QR code");
  await lead.getByTestId("class-list-problems").filter({ hasText: "Line 5" }).waitFor();

  const [download] = await Promise.all([
    lead.waitForEvent("download"),
    lead.getByRole("button", { name: "Download links as CSV" }).click(),
  ]);
  const exported = readFileSync(await download.path(), "utf8");
  assert.match(exported, /^Parent\/carer,Email,Children,Academy,Link,Expires\r\n/);
  assert.match(exported, /Sara Khan,sara@example.org,Amira Khan \(Year 3\); Yusuf Khan \(Year 5\)/);
  const khanLink = exported.match(/Sara Khan.*?(http[^,]+\/join\/hl_[0-9a-f]+)/)[1];

  // The parent opens it on their phone: welcomed, with both children.
  const phone = await (await browser.newContext({ isMobile: true, viewport: { width: 390, height: 844 } })).newPage();
  await phone.goto(khanLink);
  await phone.getByTestId("join-welcome").filter({ hasText: "Sara Khan" }).waitFor();
  assert.match(await phone.getByTestId("join-children").textContent(), /Amira Khan.*Yusuf Khan/s);
  // Reopening on the same phone carries on; on another device it is refused.
  await phone.reload();
  await phone.getByTestId("join-welcome").waitFor();
  const other = await (await browser.newContext()).newPage();
  await other.goto(khanLink);
  await other.getByTestId("join-error").filter({ hasText: /already been used/ }).waitFor();

  // The list shows it opened; a new link replaces it and works once more.
  await lead.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" }).click();
  await lead.getByRole("main").getByRole("link", { name: "Parent and carer invitations" }).click();
  await lead.getByTestId("invitation-table").filter({ hasText: /Opened/ }).waitFor();
  await lead.getByRole("button", { name: "New link for Sara Khan" }).click();
  const fresh = (await lead.locator(".invitation-card .link").first().textContent()).trim();
  assert.notEqual(fresh, khanLink);
  await other.goto(fresh);
  await other.getByTestId("join-welcome").filter({ hasText: "Sara Khan" }).waitFor();
});

test("a device enrolled from the admin page is listed, and refused once revoked", async (t) => {
  const { server, browser } = await setup(t);
  const head = await (await browser.newContext()).newPage();
  await head.goto(`${server.base}/policies`);
  await signIn(head, server.base, STAFF.head);
  await openAdmin(head, "Devices");
  await head.getByLabel("Academy").selectOption({ label: "Oakfield Primary Academy" });
  await head.getByLabel("Kind of device").selectOption({ label: "Reception kiosk" });
  await head.getByLabel("Where it is").fill("Main reception");
  await head.getByRole("button", { name: "Make an enrolment code" }).click();
  const code = (await head.getByTestId("enrolment-code").textContent()).trim();
  assert.match(code, /^[A-Z2-9]{4}-[A-Z2-9]{4}$/);

  const kiosk = await (await browser.newContext()).newPage();
  await kiosk.goto(`${server.base}/enrol`);
  await kiosk.getByLabel("Enrolment code").fill(code.toLowerCase());
  await kiosk.getByRole("button", { name: "Enrol" }).click();
  await kiosk.getByTestId("enrolled").filter({ hasText: "Main reception (reception kiosk)" }).waitFor();

  await head.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" }).click();
  await head.getByRole("main").getByRole("link", { name: "Devices" }).click();
  await head.getByTestId("device-table").filter({ hasText: "Main reception" }).waitFor();
  await head.getByRole("button", { name: "Revoke Main reception" }).click();
  await head.getByTestId("device-table").filter({ hasText: "Revoked" }).waitFor();

  // The kiosk signs a visitor agreement; its next push is refused and the record waits, visibly.
  const policies = await getJson(`${server.base}/api/v1/policies`);
  const visitor = policies.find((p) => p.kind === "visitor_aua");
  await kiosk.goto(`${server.base}/sign/${visitor.id}`);
  await kiosk.getByLabel("Your full name").fill("Visiting Plumber");
  await kiosk.getByLabel(/I cannot draw a signature/).check();
  await kiosk.getByLabel(/I have read/).check();
  await kiosk.getByRole("button", { name: "Sign", exact: true }).click();
  await kiosk.getByTestId("signed").waitFor();
  await kiosk.goto(`${server.base}/sync`);
  await kiosk.getByText(/enrolment was withdrawn/).waitFor({ timeout: 30_000 });
  const token = await adminToken(server.base);
  const stored = await getJson(`${server.base}/api/v1/agreements`, token);
  assert.equal(stored.filter((a) => a.signer_name === "Visiting Plumber").length, 0);
});

test("a teacher adds an authenticator app, then needs its code to sign in", async (t) => {
  const { server, browser } = await setup(t);
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${server.base}/policies`);
  await signIn(page, server.base, STAFF.teacher);
  await page.getByTestId("signed-in-as").click();
  await page.getByTestId("second-factor").filter({ hasText: "Not set up" }).waitFor();
  await page.getByRole("button", { name: "Set up an authenticator app" }).click();
  const secret = (await page.getByTestId("totp-secret").textContent()).trim();
  assert.equal(await page.locator(".qr svg").count(), 1);
  await page.getByLabel("Code from your authenticator app").fill(totp(secret));
  await page.getByRole("button", { name: "Confirm" }).click();
  await page.getByTestId("second-factor").filter({ hasText: "Set up" }).waitFor();

  // Next sign-in asks for a code.
  const next = await (await browser.newContext()).newPage();
  await next.goto(`${server.base}/signin`);
  await next.getByLabel("Email address").fill(STAFF.teacher.email);
  await next.getByLabel("Password").fill(STAFF.teacher.password);
  await next.getByRole("button", { name: "Sign in" }).click();
  await next.getByLabel("Code from your authenticator app").waitFor();
  // A step later than the one just used, as the server refuses a code twice.
  await next.getByLabel("Code from your authenticator app").fill(totp(secret, Date.now() + 30_000));
  await next.getByRole("button", { name: "Continue" }).click();
  await next.getByRole("heading", { name: "Choose a PIN for this device" }).waitFor();
});

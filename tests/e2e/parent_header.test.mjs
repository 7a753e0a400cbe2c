// A parent sees their school, not the staff tools (issue 20, part 6): on a
// phone that holds a parent's link, the header names the parent's academy
// and leaves out what only staff use (Admin, Unlock, Sign in), on every page
// and after a fresh load, decided from what the phone holds and not from the
// URL; staff reach sign-in from a plain link in the footer. A staff device
// keeps its controls, signed in, locked or enrolled.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  adminToken,
  axeViolations,
  enrolDevice,
  postJson,
  serverAndBrowser,
  signIn,
  STAFF,
  tabTo,
} from "./support.mjs";

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
const ACADEMY = "Hilltop Secondary Academy";

/** Which of the staff controls the page's header (banner landmark) shows. */
async function staffControls(page) {
  const banner = page.getByRole("banner");
  const found = [];
  for (const name of ["Admin", "Unlock", "Sign in"]) {
    const links = await banner.getByRole("link", { name, exact: true }).count();
    const buttons = await banner.getByRole("button", { name, exact: true }).count();
    if (links + buttons > 0) found.push(name);
  }
  return found;
}

const footerLink = (page) => page.getByRole("contentinfo").getByRole("link", { name: "Staff sign in", exact: true });

test("on a phone that holds a parent's link the header names the academy and no staff controls", async (t) => {
  const { server, browser } = await serverAndBrowser(t);
  const base = server.base;
  const admin = await adminToken(base);
  // Hilltop, not the demo's first academy: the header names the parent's own.
  const report = await postJson(`${base}/api/v1/parent-invitations/import`, admin, {
    csv: "Pupil name,Class,Academy,Parent/carer name\nNoah Ortiz,Year 8,Hilltop Secondary Academy,Lena Ortiz\n",
  });
  const linkPath = report.invitations[0].link_path;
  // bypassCSP: axe is injected as a script, which the app's CSP would refuse.
  const context = await browser.newContext({ ...PHONE, bypassCSP: true });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${base}${linkPath}`);
  await page.getByTestId("join-welcome").waitFor();

  const banner = page.getByRole("banner");
  /** The header of the page now open, once the phone's storage is read. */
  const checkHeader = async (where) => {
    // The academy comes with the first sync: wait for it, then look.
    await banner.getByRole("link", { name: ACADEMY, exact: true }).waitFor();
    assert.deepEqual(await staffControls(page), [], `${where}: staff controls in the header`);
    assert.equal(await banner.getByTestId("signed-in-as").count(), 0, where);
    assert.ok(await footerLink(page).isVisible(), `${where}: the footer's "Staff sign in" link`);
    // Measured once the sync badge has settled ("Connecting…" is longer).
    await banner.getByTestId("connection").filter({ hasText: "Online" }).waitFor();
    const header = await banner.boundingBox();
    // It took a third of the screen; now at most a fifth.
    assert.ok(header.height <= 844 / 5, `${where}: the header is ${header.height}px high`);
  };

  // The invitation page, and every other page a parent meets.
  await checkHeader("invitation");
  assert.deepEqual(await axeViolations(page), [], "the parent's header and footer pass axe (WCAG 2.2 A/AA)");
  await page.getByTestId("child-Noah Ortiz").getByRole("link", { name: /Pupil/ }).click();
  await page.getByLabel("Your relationship to Noah Ortiz").waitFor();
  await checkHeader("sign for a child");
  await banner.getByRole("link", { name: "Policies", exact: true }).click();
  await page.getByTestId("policy-link").first().waitFor();
  await checkHeader("policy list");
  await page.getByTestId("policy-link").first().click();
  await page.getByTestId("policy-title").waitFor();
  await checkHeader("policy reader");
  // A fresh load of pages that are not the link: the phone's storage says
  // who it serves, not the URL.
  for (const path of ["/", "/sync"]) {
    await page.goto(`${base}${path}`);
    await page.getByRole("heading", { level: 1 }).first().waitFor();
    await checkHeader(`${path}, loaded afresh`);
  }
  // The academy's name leads back to the invitation.
  await banner.getByRole("link", { name: ACADEMY, exact: true }).click();
  await page.getByTestId("join-welcome").waitFor();
  assert.equal(new URL(page.url()).pathname, linkPath);

  // Staff still reach sign-in: a plain footer link, a 44 px target, its
  // focus visible, reached by keyboard.
  const link = footerLink(page);
  const box = await link.boundingBox();
  assert.ok(box.width >= 44 && box.height >= 44, `the footer link is ${box.width}x${box.height}`);
  await tabTo(page, "footer a[href='/signin']");
  const focus = await page.evaluate(() => {
    const style = getComputedStyle(document.activeElement);
    return { outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2, shadow: style.boxShadow !== "none" };
  });
  assert.ok(focus.outline || focus.shadow, "the footer link shows its focus");
  await page.keyboard.press("Enter");
  await page.getByLabel("Email address").waitFor();
  assert.equal(new URL(page.url()).pathname, "/signin");
  // The sign-in page is the full app's; it is still the parent's phone.
  await checkHeader("sign in (full app)");
  assert.deepEqual(errors, []);
});

test("staff devices keep the staff controls; a device with neither has the footer link", async (t) => {
  const { server, browser } = await serverAndBrowser(t);
  const base = server.base;

  // A device nobody has used: no staff controls in the header either, and
  // the way in for staff in the footer.
  const visitor = await (await browser.newContext(PHONE)).newPage();
  await visitor.goto(`${base}/`);
  await footerLink(visitor).waitFor();
  assert.deepEqual(await staffControls(visitor), []);
  assert.equal(await visitor.getByRole("banner").getByRole("link", { name: "Haven", exact: true }).count(), 1);

  // A teacher signs in on a phone: the staff controls, and no footer link.
  const page = await (await browser.newContext(PHONE)).newPage();
  await page.goto(`${base}/policies`);
  await page.getByTestId("policy-link").first().waitFor();
  await signIn(page, base, STAFF.teacher, { pin: "402913" });
  await page.getByRole("banner").getByRole("link", { name: "Admin", exact: true }).waitFor();
  assert.deepEqual(await staffControls(page), ["Admin"]);
  assert.equal(await footerLink(page).count(), 0);
  // Reloaded, the phone is locked: Unlock and Sign in are in the header.
  await page.goto(`${base}/`);
  await page.getByRole("banner").getByRole("link", { name: "Unlock", exact: true }).waitFor();
  assert.deepEqual(await staffControls(page), ["Admin", "Unlock", "Sign in"]);
  assert.equal(await footerLink(page).count(), 0);

  // An enrolled shared tablet no one has signed in on has them too.
  const tablet = await (await browser.newContext()).newPage();
  await tablet.goto(`${base}/policies`);
  await tablet.getByTestId("policy-link").first().waitFor();
  await enrolDevice(tablet, base, { kind: "shared_tablet", label: "Staff room tablet" });
  await tablet.getByRole("banner").getByRole("link", { name: "Unlock", exact: true }).waitFor();
  await tablet.goto(`${base}/policies`);
  await tablet.getByRole("banner").getByRole("link", { name: "Unlock", exact: true }).waitFor();
  assert.deepEqual(await staffControls(tablet), ["Admin", "Unlock", "Sign in"]);
  assert.equal(await footerLink(tablet).count(), 0);
});

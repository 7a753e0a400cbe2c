// What a copy of a locked browser's storage gives away: no session, no
// password, no authenticator secret, no online key. The outbox still drains,
// with a credential that can do nothing but send this browser's records.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  adminToken,
  eventually,
  getJson,
  idbText,
  postJson,
  serverAndBrowser,
  STAFF,
  totp,
} from "./support.mjs";

test("a locked browser keeps no session, password or authenticator secret readable, and still sends what waits", async (t) => {
  const { server, browser } = await serverAndBrowser(t);
  const api = `${server.base}/api/v1`;
  const person = STAFF.teacher;
  // The teacher set up an authenticator app earlier, on another device.
  const earlier = await postJson(`${api}/auth/login`, null, { email: person.email, password: person.password });
  const { secret } = await postJson(`${api}/auth/totp/setup`, earlier.token, {});
  await postJson(`${api}/auth/totp/confirm`, earlier.token, { code: totp(secret) });

  // Now a classroom computer that is not enrolled: she signs in with her
  // password and a code, and chooses a PIN.
  const page = await (await browser.newContext()).newPage();
  let signedIn;
  page.on("response", async (r) => {
    if (r.url().endsWith("/api/v1/auth/login") && r.status() === 200) signedIn = await r.json();
  });
  await page.goto(`${server.base}/signin`);
  await page.getByLabel("Email address").fill(person.email);
  await page.getByLabel("Password").fill(person.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  // A step on from the code used above: the server takes each code once.
  await page.getByLabel("Code from your authenticator app").fill(totp(secret, Date.now() + 30_000));
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("heading", { name: "Choose a PIN for this device" }).waitFor();
  await page.getByLabel("PIN", { exact: true }).fill("402913");
  await page.getByLabel("Type the PIN again").fill("402913");
  await page.getByRole("button", { name: "Save PIN" }).click();
  await page.getByTestId("signed-in-as").waitFor();
  assert.ok(signedIn?.token?.startsWith("hs_"), "the sign-in reply was seen");

  // She signs the staff agreement here; it is sent.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Policies" }).click();
  await page.getByRole("link", { name: /Staff Acceptable Use Agreement/ }).click();
  await page.getByRole("link", { name: "Sign this agreement" }).first().click();
  await page.getByLabel(/I cannot draw a signature/).check();
  await page.getByLabel(/I have read/).check();
  await page.getByRole("button", { name: "Sign", exact: true }).click();
  await page.getByTestId("signed").waitFor();
  const admin = await adminToken(server.base);
  const rows = await eventually(
    async () => {
      const all = await getJson(`${api}/agreements`, admin);
      return all.length === 1 && all;
    },
    30_000,
    "the agreement on the server",
  );
  assert.equal(rows[0].identified_by, `staff:${signedIn.me.user_id}`, "sent as the teacher");

  // She hides the screen and walks away.
  await page.getByTestId("hide-screen").click();
  await page.getByRole("button", { name: person.name }).waitFor();
  const stored = await idbText(page);
  const secretBytes = Buffer.from(
    [...secret].map((c) => "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".indexOf(c).toString(2).padStart(5, "0")).join("").match(/.{8}/g).map((b) => parseInt(b, 2)),
  ).toString("latin1");
  const onlineKey = Buffer.from(signedIn.online_key, "base64").toString("latin1");
  for (const [what, value] of [
    ["the session token", signedIn.token],
    ["the session token without its prefix", signedIn.token.slice(3)],
    ["the password", person.password],
    ["the authenticator secret", secret],
    ["the authenticator secret's bytes", secretBytes],
    ["the online key", signedIn.online_key],
    ["the online key's bytes", onlineKey],
  ]) {
    assert.ok(!stored.includes(value), `${what} is not in IndexedDB`);
  }
  // What it does keep to send records with can do nothing else.
  const sync = stored.match(/hk_[0-9a-f]{64}/)?.[0];
  assert.ok(sync, "a sync credential is kept");
  const me = await fetch(`${api}/auth/me`, { headers: { authorization: `Bearer ${sync}` } });
  assert.equal(me.status, 403);
  assert.equal((await me.json()).code, "sync_credential_only");
  const staff = await fetch(`${api}/incidents`, { headers: { authorization: `Bearer ${sync}` } });
  assert.equal(staff.status, 403);
});

// Reminders to sign, end to end: the e-safety lead sees whom to chase on the
// compliance page and emails them through a real SMTP server on loopback
// (aiosmtpd, which `cargo xtask test` installs), once; the link in an email
// opens the agreement to sign.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import {
  ADMIN,
  axeViolations,
  eventually,
  freePort,
  launchBrowser,
  scratchDir,
  signIn,
  sleep,
  startServer,
} from "./support.mjs";

const PYTHON = process.env.HAVEN_SMTP_PYTHON ?? ".tools/venv/bin/python";

/** aiosmtpd on `port`, keeping each email it takes as a file in `maildir`. */
async function startSmtpSink(port, maildir) {
  const proc = spawn(
    PYTHON,
    ["-m", "aiosmtpd", "-n", "-l", `127.0.0.1:${port}`, "-c", "aiosmtpd.handlers.Mailbox", maildir],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  proc.stdout.on("data", (d) => (output += d));
  proc.stderr.on("data", (d) => (output += d));
  proc.on("error", (e) => (output += `\n${e}: run \`cargo xtask test\` once to install aiosmtpd into .tools/venv`));
  await eventually(
    () =>
      new Promise((resolve, reject) => {
        if (proc.exitCode !== null) reject(new Error(`aiosmtpd exited:\n${output}`));
        const socket = connect(port, "127.0.0.1");
        socket.on("connect", () => {
          socket.destroy();
          resolve(true);
        });
        socket.on("error", () => resolve(false));
      }),
    20_000,
    `aiosmtpd listening (${PYTHON}) ${output}`,
  );
  return { stop: () => proc.kill("SIGTERM") };
}

/** The emails the sink has taken, as a mail client shows them. */
function emails(maildir) {
  const dir = join(maildir, "new");
  let names = [];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  // Long lines arrive quoted-printable, soft-wrapped at 76 characters.
  return names.map((n) => readFileSync(join(dir, n), "utf8").replace(/=\r?\n/g, "").replace(/=3D/g, "="));
}

test("the e-safety lead emails everyone due a reminder, once, and its link opens the agreement", async (t) => {
  const scratch = scratchDir();
  const maildir = join(scratch.dir, "mail");
  const smtpPort = await freePort();
  const sink = await startSmtpSink(smtpPort, maildir);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = await startServer({
    port,
    database: join(scratch.dir, "haven.sqlite3"),
    env: {
      HAVEN_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      HAVEN_ALERT_FROM: "haven@riverside.example",
      HAVEN_PUBLIC_URL: base,
    },
  });
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await server.stop();
    sink.stop();
    scratch.cleanup();
  });
  const page = await (await browser.newContext({ bypassCSP: true })).newPage();
  await page.goto(`${base}/policies`);
  await page.getByTestId("policy-link").first().waitFor();
  await signIn(page, base, { email: "esafety@oakfield.example", password: ADMIN.password });
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" }).click();
  await page.getByRole("main").getByRole("link", { name: "Who has signed" }).click();
  await page.getByLabel("Academy").selectOption({ label: "Oakfield Primary Academy" });
  const chase = page.getByTestId("chase-table");
  await chase.filter({ hasText: "Helen Okafor" }).waitFor();
  const due = await chase.locator("tbody tr").count();
  assert.ok(due >= 4, `Oakfield's four demo staff have agreements to sign (${due} rows)`);
  assert.equal(await chase.locator("tbody tr", { hasText: "Never" }).count(), due);
  assert.deepEqual(await axeViolations(page), []);

  await page.getByRole("button", { name: "Email a reminder to everyone due" }).click();
  await page.getByTestId("chase-result").filter({ hasText: `Sent ${due} reminders.` }).waitFor();
  await eventually(() => emails(maildir).length === due, 20_000, `${due} emails at the SMTP server`);
  // The list now says when each was reminded, and that the next is a week away.
  await eventually(async () => (await chase.locator("tbody tr", { hasText: "Never" }).count()) === 0, 10_000, "dates");
  assert.equal(await chase.locator("tbody tr", { hasText: "From " }).count(), due);

  // Pressed again: nobody gets a second email.
  await page.getByRole("button", { name: "Email a reminder to everyone due" }).click();
  await page
    .getByTestId("chase-result")
    .filter({ hasText: `No reminders were sent. ${due} people had a reminder recently` })
    .waitFor();
  await sleep(500);
  const sent = emails(maildir);
  assert.equal(sent.length, due, "one email each");
  const to = sent.map((m) => /^To: (.*)$/m.exec(m)[1].trim().toLowerCase());
  assert.equal(new Set(to).size, due, `nobody twice: ${to}`);
  assert.ok(sent.every((m) => !m.includes("Okafor") && !m.includes("Reilly")), "no names in any email");

  // The teacher's link opens the agreement, ready to sign.
  const teacher = sent.find((m) => /^To: teacher@oakfield\.example/m.test(m));
  const link = teacher.match(new RegExp(`${base}/sign/[0-9a-f-]{36}`))[0];
  const reader = await (await browser.newContext()).newPage();
  await reader.goto(link);
  await reader.getByRole("heading", { name: /Staff Acceptable Use Agreement/ }).waitFor();
});

// Haven's own steps for the engine journeys (enrolling, signing in, unlocking
// with a PIN), done through the app's pages as in tests/e2e/support.mjs, and
// a server that can be stopped and started again on the same port and database.
import { join } from "node:path";
import {
  adminToken,
  freePort,
  OAKFIELD_ID,
  postJson,
  scratchDir,
  startServer,
} from "../e2e/support.mjs";

/**
 * The real server on a fresh SQLite file, for one test. `kill()` stops it
 * outright (the school's server lost: the engine-neutral "offline";
 * `navigator.onLine` stays true) and `restart()` starts it again on the same
 * port and database.
 */
export async function havenServer(t) {
  const scratch = scratchDir();
  const port = await freePort();
  const database = join(scratch.dir, "haven.sqlite3");
  let current = await startServer({ port, database });
  const base = current.base;
  t.after(async () => {
    // Killed, not stopped: a graceful stop would wait for the browser's
    // open connections, and the browser may not have quit yet.
    await current.kill();
    scratch.cleanup();
  });
  return {
    base,
    kill: () => current.kill(),
    async restart() {
      current = await startServer({ port, database });
    },
  };
}

/** Enrols the browser as an Oakfield device through /enrol, with a code made by the demo admin. */
export async function enrol(b, base, { kind = "reception_kiosk", label = "Front desk" } = {}) {
  const token = await adminToken(base);
  const { code } = await postJson(`${base}/api/v1/devices/codes`, token, { academy_id: OAKFIELD_ID, kind, label });
  await b.goto(`${base}/enrol`);
  await b.fill("Enrolment code", code);
  await b.clickButton("Enrol");
  await b.testId("enrolled");
}

/** Signs a staff member in through /signin and saves a PIN for this device. */
export async function signIn(b, base, person, pin) {
  await b.goto(`${base}/signin`);
  await b.fill("Email address", person.email);
  await b.fill("Password", person.password);
  await b.clickButton("Sign in", { exact: true });
  await b.role("heading", "Choose a PIN for this device");
  await b.fill("PIN", pin, { exact: true });
  await b.fill("Type the PIN again", pin);
  await b.clickButton("Save PIN");
  await b.testId("signed-in-as");
}

/** Unlocks Haven on /unlock with a person's PIN (works offline), going on to `next`. */
export async function unlock(b, base, person, pin, next) {
  await b.goto(`${base}/unlock${next ? `?next=${next}` : ""}`);
  await b.clickButton(person.name);
  await b.fill(`PIN for ${person.name}`, pin);
  await b.clickButton("Unlock", { exact: true });
}

/** Milliseconds since `start`, rounded, for the journeys' timing notes. */
export const since = (start) => Math.round(Date.now() - start);

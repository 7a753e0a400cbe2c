// In every engine: with the network up and the school's server not
// answering (its port refuses every connection: a server down, a captive
// portal), sync backs off. Counted at the port, over 30 s.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { eventually, freePort, scratchDir, sleep, startServer } from "../e2e/support.mjs";
import { ENGINE, startBrowser } from "./driver.mjs";

const WINDOW_MS = 30_000;

test(`[${ENGINE}] with the server unreachable, sync backs off: few connections in 30 s`, async (t) => {
  const scratch = scratchDir();
  const port = await freePort();
  const haven = await startServer({ port, database: join(scratch.dir, "haven.sqlite3") });
  const b = await startBrowser(t, { width: 1024, height: 768 });
  t.after(async () => {
    await haven.stop();
    scratch.cleanup();
  });
  await b.goto(`${haven.base}/policies`);
  await b.waitForServiceWorker();
  await b.testId("policy-link");
  await eventually(async () => (await b.textOf("connection")) === "Online", 15_000, "online");

  // The server goes; in its place, a port that takes each connection and
  // drops it at once, counting them.
  await haven.kill();
  const at = [];
  const refuser = createServer((socket) => {
    at.push(Date.now());
    socket.destroy();
  });
  await new Promise((ok) => refuser.listen(port, "127.0.0.1", ok));
  t.after(() => new Promise((ok) => refuser.close(ok)));
  const started = Date.now();
  while (Date.now() - started < WINDOW_MS) {
    // What a phone does meanwhile: the page is shown again and again.
    await b.eval(() => {
      document.dispatchEvent(new Event("visibilitychange"));
      return true;
    });
    await sleep(500);
  }
  // Firefox tries a dropped idempotent request again by itself, up to ten
  // times within a few milliseconds: connections that close together are
  // one request of the app's.
  const requests = at.filter((time, i) => i === 0 || time - at[i - 1] > 200).length;
  t.diagnostic(`${ENGINE}: ${requests} requests (${at.length} connections) in ${WINDOW_MS / 1000} s`);
  // Backing off from half a second and doubling: about eight passes in 30
  // s, each one failed pull. Before, every nudge was a pass.
  assert.ok(requests <= 12, `${requests} requests in 30 s`);
  assert.ok(requests >= 3, "it does keep trying");
  assert.equal(await b.textOf("connection"), "Cannot reach the school");
});

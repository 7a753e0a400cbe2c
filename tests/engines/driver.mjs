// An engine-neutral browser for the journeys in this folder: the W3C WebDriver
// protocol (selenium-webdriver as the client) against Chromium
// (chromedriver), Firefox ESR (geckodriver) or WebKitGTK's MiniBrowser
// (WebKitWebDriver), chosen by ENGINE=chromium|firefox|webkit.
//
// Everything here goes through WebDriver and plain page scripts, never a
// browser's own protocol, so a journey does the same in every engine:
// "offline" is the server process stopped (only Chromium could switch the
// network off), a reload is `location.reload()` from a script (WebDriver's
// refresh bypasses the service worker in Firefox), and the page is read the
// way a person reads it (labels, roles, text) plus the app's test ids.
import { spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Capabilities, WebDriver } from "selenium-webdriver";
import { Executor, HttpClient } from "selenium-webdriver/http/index.js";
import { chromiumArgs, chromiumPath, freePort, serviceWorkerHasTheBuild, sleep } from "../e2e/support.mjs";

/** Resolves to `value` after `ms`, without keeping the process alive meanwhile. */
const after = (ms, value) => new Promise((resolve) => setTimeout(resolve, ms, value).unref());

export const ENGINE = process.env.ENGINE ?? "chromium";
if (!["chromium", "firefox", "webkit"].includes(ENGINE)) {
  throw new Error(`ENGINE must be chromium, firefox or webkit, not ${ENGINE}`);
}

const CHROMEDRIVER = process.env.CHROMEDRIVER ?? "/usr/bin/chromedriver";
const FIREFOX = process.env.FIREFOX ?? "/usr/bin/firefox-esr";
const WEBKIT_DRIVER = process.env.WEBKIT_DRIVER ?? "/usr/bin/WebKitWebDriver";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const LOG_DIR = join(ROOT, "target/engines", ENGINE);

/** geckodriver: $GECKODRIVER, else cargo's bin folder, else the PATH. */
function geckodriverPath() {
  if (process.env.GECKODRIVER) return process.env.GECKODRIVER;
  const cargo = join(process.env.CARGO_HOME ?? join(homedir(), ".cargo"), "bin/geckodriver");
  return existsSync(cargo) ? cargo : "geckodriver";
}

/** WebKitGTK's MiniBrowser: $MINIBROWSER, else wherever this release keeps it. */
function miniBrowserPath() {
  if (process.env.MINIBROWSER) return process.env.MINIBROWSER;
  const candidates = [];
  for (const arch of ["x86_64-linux-gnu", "aarch64-linux-gnu", "arm-linux-gnueabihf", "i386-linux-gnu"]) {
    for (const api of ["webkit2gtk-4.1", "webkitgtk-6.0", "webkit2gtk-4.0"]) {
      candidates.push(`/usr/lib/${arch}/${api}/MiniBrowser`, `/usr/libexec/${api}/MiniBrowser`);
    }
  }
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`no MiniBrowser found (looked in ${candidates.join(", ")}); set MINIBROWSER`);
  return found;
}

/**
 * A display for WebKitGTK: $DISPLAY if there is one, else an Xvfb of its own
 * (`stop()` ends it and waits for it). Its number is picked at random above
 * 100, not the first free one, so Xvfbs started at the same moment by other
 * runs on the machine do not race for one number (with -displayfd, Xvfb
 * writes no lock file).
 */
async function display() {
  if (process.env.DISPLAY) return { display: process.env.DISPLAY, stop: async () => {} };
  let lastError;
  for (let attempt = 0; attempt < 5; attempt++) {
    const n = 100 + Math.floor(Math.random() * 900);
    try {
      return await startXvfb(n);
    } catch (e) {
      lastError = e;
    }
  }
  throw lastError;
}

const listening = (n) =>
  readFileSync("/proc/net/unix", "utf8")
    .split("\n")
    .some((line) => line.endsWith(`/tmp/.X11-unix/X${n}`));

async function startXvfb(n) {
  const proc = spawn(
    "Xvfb",
    [`:${n}`, "-displayfd", "3", "-screen", "0", "1280x1024x24", "-nolisten", "tcp", "-noreset"],
    { stdio: ["ignore", "ignore", "pipe", "pipe"] },
  );
  let err = "";
  proc.stderr.on("data", (d) => (err += d));
  const exited = new Promise((r) => proc.on("exit", r));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
    await exited;
  };
  // Xvfb writes the display's number here once it accepts clients.
  const ready = await Promise.race([
    new Promise((r) => proc.stdio[3].once("data", () => r(true))),
    exited.then(() => false),
    new Promise((r) => proc.on("error", () => r(false))),
    after(10_000, false),
  ]);
  // fd 3 stays open: Xvfb may write to it again (the newline after the
  // number), and a closed pipe would kill it with SIGPIPE.
  if (!ready || !listening(n)) {
    await stop();
    throw new Error(`Xvfb :${n} did not start: ${err}`);
  }
  return { display: `:${n}`, stop };
}

/** The driver program and the capabilities that start this engine's browser. */
async function driverFor(port, { width, height }) {
  switch (ENGINE) {
    case "chromium":
      return {
        cmd: CHROMEDRIVER,
        args: [`--port=${port}`],
        caps: {
          browserName: "chrome",
          "goog:chromeOptions": {
            binary: chromiumPath,
            args: ["--headless=new", ...chromiumArgs, `--window-size=${width},${height}`],
          },
        },
      };
    case "firefox":
      return {
        cmd: geckodriverPath(),
        args: ["--port", String(port), "--log", "info"],
        caps: {
          browserName: "firefox",
          "moz:firefoxOptions": {
            binary: FIREFOX,
            args: ["-headless", `--width=${width}`, `--height=${height}`],
            // The page's console on the browser's stdout, i.e. in the driver log.
            prefs: { "devtools.console.stdout.content": true },
          },
        },
      };
    case "webkit":
      return {
        cmd: WEBKIT_DRIVER,
        args: [`--port=${port}`],
        display: await display(),
        caps: {
          browserName: "MiniBrowser",
          "webkitgtk:browserOptions": {
            binary: miniBrowserPath(),
            // MINIBROWSER_ARGS adds flags, e.g. --enable-page-cache=false to confirm a diagnosis.
            args: [
              "--automation",
              "--enable-write-console-messages-to-stdout=true",
              ...(process.env.MINIBROWSER_ARGS ?? "").split(" ").filter(Boolean),
            ],
          },
        },
      };
  }
}

const startedLogs = new Set();

/**
 * Starts the driver and a browser session (a fresh profile) for one test; both
 * end when the test does. The driver's log (and with it the browser's and,
 * in Firefox and WebKit, the page's console) goes to target/engines/ENGINE/.
 */
export async function startBrowser(t, { width = 1024, height = 768 } = {}) {
  const port = await freePort();
  const spec = await driverFor(port, { width, height });
  mkdirSync(LOG_DIR, { recursive: true });
  const logPath = join(LOG_DIR, `${basename(process.argv[1] ?? "test", ".test.mjs")}.log`);
  // Each run of a file starts its log afresh; its tests add to it.
  const log = createWriteStream(logPath, { flags: startedLogs.has(logPath) ? "a" : "w" });
  startedLogs.add(logPath);
  log.write(`\n=== ${new Date().toISOString()} ${t.name}\n`);
  const proc = spawn(spec.cmd, spec.args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: spec.display ? { ...process.env, DISPLAY: spec.display.display } : process.env,
  });
  proc.stdout.pipe(log, { end: false });
  proc.stderr.pipe(log, { end: false });
  const exited = new Promise((resolve) => proc.on("exit", resolve));
  let spawnError;
  proc.on("error", (e) => (spawnError = e));
  let driver;
  t.after(async () => {
    await driver?.quit().catch(() => {});
    proc.kill("SIGTERM");
    await Promise.race([exited, after(5_000)]);
    if (proc.exitCode === null) proc.kill("SIGKILL");
    await spec.display?.stop();
    log.end();
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (spawnError) throw new Error(`cannot start ${spec.cmd}: ${spawnError.message}`);
    if (proc.exitCode !== null) throw new Error(`${spec.cmd} exited early; see ${logPath}`);
    try {
      const res = await fetch(`${url}/status`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${spec.cmd} did not start; see ${logPath}`);
    await sleep(100);
  }
  // A browser that cannot start (no display, say) leaves WebKitWebDriver waiting for ever.
  const session = WebDriver.createSession(new Executor(new HttpClient(url)), new Capabilities(spec.caps));
  const started = await Promise.race([session.getSession().then(() => true), after(60_000, false)]);
  if (!started) throw new Error(`${ENGINE} did not start within 60 s; see ${logPath}`);
  driver = session;
  await driver.manage().setTimeouts({ script: 60_000, pageLoad: 60_000, implicit: 0 });
  if (ENGINE !== "chromium") {
    await driver
      .manage()
      .window()
      .setRect({ width, height })
      .catch(() => {});
  }
  return new Browser(driver, logPath);
}

/** What the journeys match text with: a string (contained, any case) or a RegExp. */
function matcher(m) {
  return m instanceof RegExp ? { re: m.source, flags: m.flags } : { text: String(m) };
}

// Runs in the page: finds one visible element by test id, label, role or
// text. Kept as one source string so every engine gets the same code.
const FIND = `
const [how, what, name, exact, within] = arguments;
const norm = (s) => (s ?? "").replace(/\\s+/g, " ").trim();
const matches = (s, m) => {
  if (!m) return true;
  s = norm(s);
  if (m.re !== undefined) return new RegExp(m.re, m.flags).test(s);
  return exact ? s === m.text : s.toLowerCase().includes(m.text.toLowerCase());
};
const visible = (el) => {
  if (!el.isConnected) return false;
  const style = getComputedStyle(el);
  if (style.visibility === "hidden" || style.display === "none") return false;
  const r = el.getBoundingClientRect();
  // A checkbox or radio styled away (GOV.UK) still counts through its label.
  return r.width > 0 || r.height > 0 || el.matches("input[type=checkbox], input[type=radio]");
};
const root = within ?? document;
const all = (css) => [...root.querySelectorAll(css)].filter(visible);
const accessibleName = (el) => {
  if (el.hasAttribute("aria-label")) return el.getAttribute("aria-label");
  if (el.hasAttribute("aria-labelledby")) {
    return el.getAttribute("aria-labelledby").split(/\\s+/).map((id) => document.getElementById(id)?.textContent ?? "").join(" ");
  }
  if (el.labels && el.labels.length) return [...el.labels].map((l) => l.textContent).join(" ");
  if (el.matches("input[type=submit], input[type=button]")) return el.value;
  if (el.matches("img")) return el.alt;
  return el.textContent;
};
const ROLES = {
  button: "button, input[type=submit], input[type=button], [role=button]",
  link: "a[href], [role=link]",
  heading: "h1, h2, h3, h4, h5, h6, [role=heading]",
  checkbox: "input[type=checkbox], [role=checkbox]",
  radio: "input[type=radio], [role=radio]",
  textbox: "input:not([type]), input[type=text], input[type=email], input[type=password], textarea, [role=textbox]",
  group: "fieldset, [role=group]",
};
if (how === "testid") {
  return all("[data-testid]").find((el) => el.dataset.testid === what && matches(el.textContent, name)) ?? null;
}
if (how === "role") {
  return all(ROLES[what] ?? "[role=" + what + "]").find((el) => matches(accessibleName(el), name)) ?? null;
}
if (how === "label") {
  for (const label of root.querySelectorAll("label")) {
    if (!matches(label.textContent, name)) continue;
    const el = label.control;
    if (el && (visible(el) || visible(label))) return el;
  }
  for (const el of all("[aria-label], [aria-labelledby]")) if (matches(accessibleName(el), name)) return el;
  return null;
}
if (how === "text") {
  // The innermost visible element whose text matches.
  const found = all("body *").filter((el) => matches(el.textContent, name));
  return found.find((el) => ![...el.children].some((c) => found.includes(c))) ?? null;
}
if (how === "css") return all(what)[0] ?? null;
throw new Error("unknown lookup " + how);
`;

export class Browser {
  constructor(driver, logPath) {
    this.driver = driver;
    this.logPath = logPath;
    this.engine = ENGINE;
  }

  /** Navigates and waits for the load event (the page may be served by the service worker). */
  async goto(url) {
    await this.driver.get(url);
  }

  /** The page's address. */
  async url() {
    return this.driver.getCurrentUrl();
  }

  /** Runs `fn(...args)` in the page (sync or async) and returns its JSON-able result. */
  async eval(fn, ...args) {
    const result = await this.driver.executeAsyncScript(
      `const done = arguments[arguments.length - 1];
       const args = Array.prototype.slice.call(arguments, 0, -1);
       Promise.resolve()
         .then(() => (${fn.toString()})(...args))
         .then((v) => done({ ok: v === undefined ? null : v }), (e) => done({ error: String((e && e.stack) || e) }));`,
      ...args,
    );
    if (result && "error" in result) throw new Error(`page script failed: ${result.error}`);
    return result?.ok;
  }

  /**
   * Waits for one visible element: `how` is testid, role, label, text or
   * css; `name` a string (contained, any case; `exact` for whole) or RegExp.
   */
  async find(how, what, { name, exact = false, within = null, ms = 20_000 } = {}) {
    const deadline = Date.now() + ms;
    let last;
    for (;;) {
      try {
        const el = await this.driver.executeScript(FIND, how, what, name === undefined ? null : matcher(name), exact, within);
        if (el) return el;
      } catch (e) {
        last = e; // a page between documents
      }
      if (Date.now() > deadline) {
        const text = await this.driver.executeScript("return document.body?.innerText ?? ''").catch(() => "?");
        const waiting = await this.diagnose().catch((e) => `cannot tell: ${e.message}`);
        throw new Error(
          `no visible ${how} ${what ?? ""} ${name ?? ""} after ${ms} ms at ${await this.url().catch(() => "?")}` +
            `${last ? ` (${last.message})` : ""}\npage state: ${JSON.stringify(waiting)}` +
            `\npage text: ${String(text).slice(0, 3000)}`,
        );
      }
      await sleep(100);
    }
  }

  testId(id, opts = {}) {
    return this.find("testid", id, opts);
  }
  /** A form control by its label text (Playwright's getByLabel). */
  label(text, opts = {}) {
    return this.find("label", null, { name: text, ...opts });
  }
  role(role, name, opts = {}) {
    return this.find("role", role, { name, ...opts });
  }
  /** Waits until some visible element's text matches. */
  text(text, opts = {}) {
    return this.find("text", null, { name: text, ...opts });
  }

  /** Whether a visible element matches now (no waiting). */
  async has(how, what, opts = {}) {
    const el = await this.driver
      .executeScript(FIND, how, what, opts.name === undefined ? null : matcher(opts.name), opts.exact ?? false, null)
      .catch(() => null);
    return Boolean(el);
  }

  /** Clicks as a person does: WebDriver's click, after scrolling the element into the middle. */
  async click(el) {
    el = await el;
    await this.driver.executeScript("arguments[0].scrollIntoView({ block: 'center' })", el);
    await el.click();
  }

  async clickButton(name, opts) {
    await this.click(this.role("button", name, opts));
  }
  async clickLink(name, opts) {
    await this.click(this.role("link", name, opts));
  }

  /** Types `value` into the field labelled `label`, replacing what was there. */
  async fill(label, value, opts = {}) {
    const el = await this.label(label, opts);
    await this.driver.executeScript("arguments[0].scrollIntoView({ block: 'center' })", el);
    await el.clear();
    await el.sendKeys(value);
  }

  /** Ticks the checkbox or radio labelled `label` (clicking its label if the input is styled away). */
  async check(label, opts = {}) {
    const el = await this.label(label, opts);
    if (await el.isSelected()) return;
    try {
      await this.click(el);
    } catch {
      // GOV.UK hides the native input under its label; click the label.
      const id = await el.getAttribute("id");
      await this.click(this.find("css", `label[for="${id}"]`));
    }
    // The page may render the control anew once it changes: look it up again.
    const deadline = Date.now() + 5_000;
    while (!(await (await this.label(label, opts)).isSelected().catch(() => false))) {
      if (Date.now() > deadline) throw new Error(`${label} did not become checked`);
      await sleep(100);
    }
  }

  /** Chooses the option with this value or text in the select labelled `label`. */
  async select(label, option) {
    const el = await this.label(label);
    const opt = await this.driver.executeScript(
      "return [...arguments[0].options].find((o) => o.value === arguments[1] || o.text.trim() === arguments[1]) ?? null",
      el,
      option,
    );
    if (!opt) throw new Error(`no option ${option} in ${label}`);
    await this.click(el);
    await opt.click();
    const chosen = await this.driver.executeScript("return arguments[0].value", el);
    if (chosen !== (await opt.getAttribute("value"))) throw new Error(`${label}: ${option} was not chosen`);
  }

  /** Draws a stroke across the element with the pointer (press, twelve moves, release). */
  async draw(el) {
    el = await el;
    await this.driver.executeScript("arguments[0].scrollIntoView({ block: 'center' })", el);
    const { width, height } = await el.getRect();
    const at = (i) => ({
      x: Math.round(width * (-0.4 + i * 0.065)),
      y: Math.round(height * (0.1 - 0.2 * Math.sin(i / 2))),
    });
    let actions = this.driver.actions({ async: true }).move({ origin: el, ...at(0) }).press();
    for (let i = 1; i <= 12; i++) actions = actions.move({ origin: el, ...at(i), duration: 20 });
    await actions.release().perform();
  }

  /**
   * Reloads as a person does: `location.reload()` from the page, then waits
   * for the new document to finish loading.
   */
  async reload() {
    await this.driver.executeScript("window.__havenOldDocument = true; setTimeout(() => location.reload(), 0)");
    await this.waitForNewDocument();
  }

  /** Waits until the document marked by `reload` is gone and the next one loaded. */
  async waitForNewDocument(ms = 30_000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const ready = await this.driver
        .executeScript("return !window.__havenOldDocument && document.readyState === 'complete'")
        .catch(() => false);
      if (ready) return;
      if (Date.now() > deadline) throw new Error(`no new document after ${ms} ms at ${await this.url().catch(() => "?")}`);
      await sleep(100);
    }
  }

  /**
   * Waits until a service worker controls the page and has cached the page's
   * own build, so reloads and navigations work with the server down.
   */
  async waitForServiceWorker() {
    await this.eval(serviceWorkerHasTheBuild);
  }

  /** Whether a service worker controls the page now. */
  async controlled() {
    return this.driver.executeScript("return Boolean(navigator.serviceWorker && navigator.serviceWorker.controller)");
  }

  /** `{ store: [values] }` from the app's IndexedDB for the named stores (every store if none). */
  async idb(stores = []) {
    return this.eval(async (wanted) => {
      const db = await new Promise((ok, no) => {
        const r = indexedDB.open("haven");
        r.onsuccess = () => ok(r.result);
        r.onerror = () => no(r.error);
      });
      const names = wanted.length ? wanted : [...db.objectStoreNames];
      const out = {};
      for (const name of names) {
        out[name] = await new Promise((ok, no) => {
          const r = db.transaction(name).objectStore(name).getAll();
          r.onsuccess = () => ok(JSON.parse(JSON.stringify(r.result)));
          r.onerror = () => no(r.error);
        });
      }
      db.close();
      return out;
    }, stores);
  }

  /**
   * What the page is waiting on, for a failure message: the Web Locks held
   * and asked for, and whether a write to IndexedDB finishes within 3 s.
   */
  async diagnose() {
    return this.eval(async () => {
      const out = {};
      try {
        const q = await navigator.locks.query();
        out.locks = { held: q.held.map((l) => l.name), pending: q.pending.map((l) => l.name) };
      } catch (e) {
        out.locks = String(e);
      }
      out.idbWrite = await Promise.race([
        new Promise((ok) => {
          const r = indexedDB.open("haven");
          r.onblocked = () => ok("open blocked");
          r.onerror = () => ok(`open failed: ${r.error}`);
          r.onsuccess = () => {
            const db = r.result;
            const store = db.objectStoreNames.contains("meta") ? "meta" : db.objectStoreNames[0];
            const tx = db.transaction(store, "readwrite");
            tx.objectStore(store).get("__diagnose__");
            tx.oncomplete = () => {
              db.close();
              ok(`a readwrite transaction on ${store} completed`);
            };
            tx.onerror = () => ok(`readwrite failed: ${tx.error}`);
          };
        }),
        new Promise((ok) => setTimeout(() => ok("no readwrite transaction completed in 3 s"), 3_000)),
      ]);
      return out;
    });
  }

  /** The value of an attribute of the element with this test id. */
  async attr(testId, attribute) {
    return (await this.testId(testId)).getAttribute(attribute);
  }

  /** The visible text of the element with this test id. */
  async textOf(testId) {
    return (await (await this.testId(testId)).getText()).trim();
  }
}

/** Runs `step`, and on failure adds the page's text and address to the error. */
export async function describeFailure(browser, step) {
  try {
    return await step();
  } catch (e) {
    const where = await browser.url().catch(() => "?");
    const text = await browser.driver.executeScript("return document.body?.innerText ?? ''").catch(() => "?");
    e.message += `\n[${ENGINE}] at ${where}; driver log ${browser.logPath}\npage text: ${String(text).slice(0, 1500)}`;
    throw e;
  }
}

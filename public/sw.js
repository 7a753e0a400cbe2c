// Haven's service worker: the app loads with no network after the first
// visit. `cargo xtask build` stamps the constants below; under `trunk serve`
// they stay empty and the worker only passes requests through.
//
// Two builds of the app (crates/haven_core/src/shell.rs): the reader, which
// every device keeps, and the full app (staff, admin, kiosk pages), which a
// device keeps from the first time it opens one of those pages, so a parent's
// phone never downloads it.
const VERSION = "dev";
const READER = [];
const FULL = [];
const READER_SECTIONS = [];
const FULL_SHELL = "";
const CACHE = `haven-shell-${VERSION}`;

/** The cached shell that answers a navigation to `path`, as the server does. */
function shellFor(path) {
  if (path === "/kiosk" || path.startsWith("/kiosk/")) return "/kiosk";
  const section = path.replace(/^\//, "").split("/")[0];
  return READER_SECTIONS.includes(section) ? "/" : FULL_SHELL;
}

/** Whether this device keeps the full app: it had it, or a page of it is open. */
async function wantsFull() {
  for (const key of await caches.keys()) {
    if (key.startsWith("haven-shell-") && (await (await caches.open(key)).match(FULL_SHELL))) return true;
  }
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  return windows.some((w) => shellFor(new URL(w.url).pathname) !== "/");
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll(READER);
      if (FULL.length && (await wantsFull())) await cache.addAll(FULL);
      await self.skipWaiting();
    })(),
  );
});

// A new build has a new VERSION: drop every older shell cache.
self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) =>
        Promise.all(
          keys.filter((k) => k.startsWith("haven-shell-") && k !== CACHE).map((k) => caches.delete(k)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

// Said when a page of the full app is wanted offline and this device never
// opened one online; no script, so no Content Security Policy is needed.
const NOT_ON_DEVICE = `<!DOCTYPE html><html lang="en-GB"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Not available offline - Haven</title></head>
<body><main><h1>This page is not on this device yet</h1>
<p>Staff, admin and reception pages are downloaded the first time they are opened online.
Connect to the internet and try again.</p><p><a href="/">Go to the home page</a></p></main></body></html>`;

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  // Data travels through the app's own sync, never through this cache.
  if (request.method !== "GET" || url.origin !== self.location.origin || url.pathname.startsWith("/api/")) {
    return;
  }
  if (READER.length === 0) return;
  // Every page of a build is the same shell: answer navigations with it. The
  // kiosk's copy is cached apart because its response headers let it use the
  // camera (a page's permissions are fixed by the response it loaded from).
  if (request.mode === "navigate") {
    const shell = shellFor(url.pathname);
    const cached = caches.match(shell, { cacheName: CACHE });
    if (shell !== "/") {
      // A first visit to the full app, online: keep it from now on.
      event.waitUntil(
        cached.then((hit) => hit || caches.open(CACHE).then((c) => c.addAll(FULL))).catch(() => {}),
      );
    }
    event.respondWith(
      cached.then(async (hit) => {
        if (hit) return hit;
        try {
          return await fetch(request);
        } catch (e) {
          if (shell === "/") throw e;
          return new Response(NOT_ON_DEVICE, { headers: { "content-type": "text/html; charset=utf-8" } });
        }
      }),
    );
    return;
  }
  event.respondWith(
    caches.match(request, { cacheName: CACHE }).then((cached) => cached || fetch(request)),
  );
});

// Background Sync: when the browser judges the connection is back it fires
// "sync" even if the page is in the background. The sync itself runs in the
// page (it needs the app's IndexedDB logic), so wake every open Haven window.
self.addEventListener("sync", (event) => {
  if (event.tag !== "haven-sync") return;
  event.waitUntil(
    self.clients
      .matchAll({ type: "window", includeUncontrolled: true })
      .then((windows) => windows.forEach((w) => w.postMessage({ type: "haven-sync" }))),
  );
});

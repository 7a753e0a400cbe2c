// Haven's service worker: the app shell loads with no network after the first
// visit. `cargo xtask` stamps VERSION and PRECACHE at build time; under
// `trunk serve` they stay empty and the worker only passes requests through.
const VERSION = "dev";
const PRECACHE = [];
const CACHE = `haven-shell-${VERSION}`;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(PRECACHE)).then(() => self.skipWaiting()),
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

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  // Data travels through the app's own sync, never through this cache.
  if (request.method !== "GET" || url.origin !== self.location.origin || url.pathname.startsWith("/api/")) {
    return;
  }
  if (PRECACHE.length === 0) return;
  // Every page of the app is the same shell: answer navigations with it. The
  // kiosk's copy is cached apart because its response headers let it use the
  // camera (a page's permissions are fixed by the response it loaded from).
  if (request.mode === "navigate") {
    const shell = url.pathname === "/kiosk" || url.pathname.startsWith("/kiosk/") ? "/kiosk" : "/";
    event.respondWith(
      caches.match(shell, { cacheName: CACHE }).then((cached) => cached || fetch(request)),
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

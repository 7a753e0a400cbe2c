// What the browser tests (tests/web) do in JavaScript, in one module.
//
// One file, not an `inline_js` block per test file: each block becomes a
// module the page fetches at once, and wasm-bindgen-test-runner's server
// (tiny_http 0.12) can leave one of more than four simultaneous connections
// unanswered, so the page never finishes loading and the run hangs for five
// minutes ("Failed to detect test as having been run").

// --- attachments.rs

export async function photo(width, height, type) {
  const c = document.createElement("canvas");
  c.width = width; c.height = height;
  const ctx = c.getContext("2d");
  ctx.fillStyle = "#3a7"; ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = "#fff"; ctx.fillRect(width / 4, height / 4, width / 2, height / 2);
  const blob = await new Promise((r) => c.toBlob(r, type, 0.95));
  return new File([blob], "IMG_0001." + type.split("/")[1], { type });
}
export async function image_size(bytes) {
  const bitmap = await createImageBitmap(new Blob([bytes]));
  return [bitmap.width, bitmap.height];
}
export async function open_file(key, iv, ciphertext) {
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const k = await crypto.subtle.importKey("raw", bytes(key), "AES-GCM", false, ["decrypt"]);
  return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: bytes(iv) }, k, ciphertext));
}
export async function sha256_hex(bytes) {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// --- durability.rs

export function spy_on_transactions() {
  const original = IDBDatabase.prototype.transaction;
  window.__txOptions = [];
  IDBDatabase.prototype.transaction = function (stores, mode, options) {
    window.__txOptions.push({ stores: [].concat(stores), mode, durability: options && options.durability });
    return original.apply(this, arguments);
  };
  return () => { IDBDatabase.prototype.transaction = original; };
}
export function recorded_transactions() { return JSON.stringify(window.__txOptions); }
export function fill_the_disk() {
  const original = IDBObjectStore.prototype.add;
  IDBObjectStore.prototype.add = function () {
    throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
  };
  return () => { IDBObjectStore.prototype.add = original; };
}

// --- identity.rs

export function spy_on_new_id_transactions() {
  const original = IDBDatabase.prototype.transaction;
  window.__newIdTx = [];
  IDBDatabase.prototype.transaction = function (stores, mode, options) {
    window.__newIdTx.push({ stores: [].concat(stores), mode, durability: options && options.durability });
    return original.apply(this, arguments);
  };
  return () => { IDBDatabase.prototype.transaction = original; };
}
export function new_id_transactions() { return JSON.stringify(window.__newIdTx); }
export function fail_the_third_put() {
  const original = IDBObjectStore.prototype.put;
  let n = 0;
  IDBObjectStore.prototype.put = function () {
    n += 1;
    if (n === 3) throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
    return original.apply(this, arguments);
  };
  return () => { IDBObjectStore.prototype.put = original; };
}

// --- incidents.rs

export async function server_key() {
  const pair = await crypto.subtle.generateKey(
    { name: "RSA-OAEP", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    true, ["wrapKey", "unwrapKey", "encrypt", "decrypt"]);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  window.__incidentPrivateKey = pair.privateKey;
  return btoa(String.fromCharCode(...spki));
}
export async function open_as_server(wrapped, iv, ciphertext) {
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.unwrapKey("raw", bytes(wrapped), window.__incidentPrivateKey,
    { name: "RSA-OAEP" }, { name: "AES-GCM" }, false, ["decrypt"]);
  const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: bytes(iv) }, key, bytes(ciphertext));
  return new TextDecoder().decode(plain);
}

// --- lifecycle.rs

function open(name, idb = indexedDB) {
  return new Promise((ok, no) => {
    const r = idb.open(name, 1);
    r.onupgradeneeded = () => r.result.createObjectStore("s");
    r.onsuccess = () => ok(r.result);
    r.onerror = () => no(r.error);
  });
}
// Page A, mid-write: a readwrite transaction kept busy, as a page frozen
// between two requests of one transaction keeps it open.
export async function busy_writer(name) {
  const db = await open(name);
  const tx = db.transaction("s", "readwrite");
  const store = tx.objectStore("s");
  let n = 0;
  const more = () => {
    try { store.put(n++, "k").onsuccess = more; } catch (_) { /* aborted */ }
  };
  more();
  return new Promise((ok) => { tx.onabort = () => ok("aborted"); tx.oncomplete = () => ok("committed"); });
}
// Page B, another document of the same origin (an iframe: its own window,
// its own IndexedDB connection, nothing of this page's tracking): one write,
// resolved when it commits.
export async function one_write(name, events) {
  const frame = document.createElement("iframe");
  document.body.appendChild(frame);
  const db = await open(name, frame.contentWindow.indexedDB);
  const tx = db.transaction("s", "readwrite");
  tx.objectStore("s").put("b", "k");
  await new Promise((ok, no) => { tx.oncomplete = ok; tx.onerror = () => no(tx.error); });
  events.push("b committed");
  db.close();
  frame.remove();
}
export async function held_locks() {
  const state = await navigator.locks.query();
  return state.held.map((l) => l.name);
}

// --- visits.rs

export function fail_requests(store, method) {
  const original = IDBObjectStore.prototype[method];
  IDBObjectStore.prototype[method] = function () {
    if (this.name === store) throw new DOMException("made to fail", "UnknownError");
    return original.apply(this, arguments);
  };
  return () => { IDBObjectStore.prototype[method] = original; };
}

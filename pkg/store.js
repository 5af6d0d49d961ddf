// Where collections persist: the origin's private file system (OPFS), or IndexedDB where OPFS
// is missing. One file (or record) per collection holds its saved bytes (versioned and
// checksummed by the search module). A write replaces the previous bytes atomically: OPFS's
// `createWritable()` writes a swap file that `close()` commits in one step, and an IndexedDB
// `put` commits with its transaction, so a crash or a killed worker mid-write leaves the
// previous state or the new one, never a mix.

const FOLDER = 'simil';
const SUFFIX = '.siml';

/** A collection's file name: its name, percent-encoded so that any name is a safe file name. */
const fileName = (name) => encodeURIComponent(name).replace(/\./g, '%2E') + SUFFIX;
const nameOf = (file) => decodeURIComponent(file.slice(0, -SUFFIX.length));

/** Collections in OPFS, under `simil/`. */
async function opfsStore() {
  const root = await navigator.storage.getDirectory();
  const folder = await root.getDirectoryHandle(FOLDER, { create: true });
  return {
    kind: 'opfs',
    async names() {
      const names = [];
      for await (const [file, handle] of folder.entries()) {
        if (handle.kind === 'file' && file.endsWith(SUFFIX)) names.push(nameOf(file));
      }
      return names.sort();
    },
    async read(name) {
      const handle = await folder.getFileHandle(fileName(name));
      return new Uint8Array(await (await handle.getFile()).arrayBuffer());
    },
    async write(name, bytes) {
      const handle = await folder.getFileHandle(fileName(name), { create: true });
      const writable = await handle.createWritable();
      try {
        await writable.write(bytes);
      } catch (e) {
        await writable.abort().catch(() => {});
        throw e;
      }
      await writable.close();
    },
    async remove(name) {
      await folder.removeEntry(fileName(name)).catch((e) => {
        if (e?.name !== 'NotFoundError') throw e;
      });
    },
  };
}

/** Collections in IndexedDB (database `simil`, store `collections`, keyed by name). */
async function indexedDbStore() {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open(FOLDER, 1);
    request.onupgradeneeded = () => request.result.createObjectStore('collections');
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const run = (mode, act) => new Promise((resolve, reject) => {
    const tx = db.transaction('collections', mode);
    const request = act(tx.objectStore('collections'));
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('the IndexedDB transaction was aborted'));
  });
  return {
    kind: 'indexeddb',
    names: async () => (await run('readonly', (s) => s.getAllKeys())).map(String).sort(),
    read: async (name) => new Uint8Array(await run('readonly', (s) => s.get(name))),
    write: (name, bytes) => run('readwrite', (s) => s.put(bytes, name)),
    remove: (name) => run('readwrite', (s) => s.delete(name)),
  };
}

/** The origin's collection store: `kind` "opfs", "indexeddb", or "auto" (OPFS where the
 * browser has it with atomic writable streams, else IndexedDB). */
export async function openStore(kind = 'auto') {
  if (kind === 'indexeddb') return indexedDbStore();
  const writable = typeof FileSystemFileHandle !== 'undefined' && 'createWritable' in FileSystemFileHandle.prototype;
  if (kind === 'opfs' || (writable && navigator.storage?.getDirectory)) {
    try {
      return await opfsStore();
    } catch (e) {
      if (kind === 'opfs') throw e;
      // OPFS refused (some browsers' private mode): IndexedDB instead.
    }
  }
  return indexedDbStore();
}

/** The origin's storage use and quota, in bytes (null where the browser cannot tell). */
export async function usage() {
  const estimate = await navigator.storage?.estimate?.().catch(() => null);
  return { usage: estimate?.usage ?? null, quota: estimate?.quota ?? null };
}

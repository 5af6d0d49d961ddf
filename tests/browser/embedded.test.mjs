// Collections that embed (issue 15): fields bound to a model embed items' `image` / `text` and
// queries' inside the worker, loading the default model by themselves; raw vectors keep
// working; the answer says which path ran (image, text, clip, keywords, vector); add reports
// progress and a cancel stops between batches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { inPage, ROOT, sharedEnv } from './harness.mjs';

let images;
const env = sharedEnv(async () => {
  const fixture = JSON.parse(await readFile(new URL('tests/fixtures/mobilenet_parity.json', ROOT), 'utf8'));
  images = fixture.images.slice(0, 24).map((img) => `/${fixture.image_dir}/${img.file}`);
});

test('an image-bound field embeds added files and image queries; words fall back to keywords; vectors still work', async () => {
  const { result, errors } = await inPage(env, 'cpu', async (simil, names, { blobs }) => {
    const c = await simil.collection('pics', {
      fields: [{ name: 'image', metric: 'cosine' }],
      embed: { image: 'image' },
      textFields: ['name'],
    });
    const config = await c.config();
    const progress = [];
    const items = blobs.map((image, i) => ({ id: names[i], image, payload: { name: `emoji ${names[i]} ${i % 2 ? 'odd' : 'even'}` } }));
    const added = await c.add(items, { batchSize: 8, onProgress: (p) => progress.push(p) });
    const direct = await simil.embedImages(blobs.slice(0, 3));
    const stored = await c.get(names[1]);
    const cos = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);
    const byImage = await c.search({ image: blobs[5], k: 3 });
    const byWords = await c.search({ text: 'odd', k: 30 });
    const byVector = await c.search({ vector: direct[2], k: 1 });
    const noBound = await simil.collection('plain', { fields: [{ name: 'v', dim: 2, metric: 'l2' }] });
    const refused = await noBound.add([{ id: 'x', image: blobs[0] }]).catch((e) => e.code);
    const imageOnPlain = await noBound.search({ image: blobs[0], k: 1 }).catch((e) => e.code);
    return {
      dim: config.fields[0].dim, embed: config.embed, added, progress, count: await c.count(),
      storedCos: cos(Array.from(stored.vectors.image), Array.from(direct[1])),
      byImage: { ids: byImage.map((h) => h.id), via: byImage.via, top: byImage[0].score },
      byWords: { n: byWords.length, via: byWords.via, odd: byWords.every((h) => h.payload.name.endsWith('odd')) },
      byVector: { id: byVector[0].id, via: byVector.via },
      refused, imageOnPlain, backend: simil.backend,
    };
  }, images.map((f) => f.split('/').pop()), { files: images });
  assert.deepEqual(errors, []);
  assert.equal(result.backend, 'cpu');
  assert.ok(result.dim > 0, 'the bound field takes the model\'s width');
  assert.deepEqual(result.embed, { image: 'image' });
  assert.equal(result.added, images.length);
  assert.equal(result.count, images.length);
  assert.deepEqual(result.progress.map((p) => p.done), [8, 16, 24]);
  assert.ok(result.storedCos > 0.9999, `stored vector = embedImages' (cos ${result.storedCos})`);
  assert.equal(result.byImage.via, 'image');
  assert.equal(result.byImage.ids[0], images[5].split('/').pop());
  assert.ok(result.byImage.top > 0.999);
  assert.deepEqual(result.byWords, { n: 12, via: 'keywords', odd: true });
  assert.deepEqual(result.byVector, { id: images[2].split('/').pop(), via: 'vector' });
  assert.equal(result.refused, 'input');
  assert.equal(result.imageOnPlain, 'input');
});

test('a text-bound field embeds texts with the text model; add cancels between batches, keeping what was added', async () => {
  const { result, errors } = await inPage(env, 'cpu', async (simil) => {
    const notes = await simil.collection('notes', { fields: [{ name: 'meaning', metric: 'cosine' }], embed: { meaning: 'text' } });
    const texts = ['a red sports car on the road', 'a bowl of fresh strawberries', 'a kitten asleep on a sofa', 'snow on the mountain tops'];
    await notes.add(texts.map((text, i) => ({ id: `n${i}`, text, payload: { text } })));
    const car = await notes.search({ text: 'fast automobile', k: 1 });
    const fruit = await notes.search({ text: 'berries to eat', k: 1 });
    const many = Array.from({ length: 64 }, (_, i) => ({ id: `m${i}`, text: `note number ${i}` }));
    const controller = new AbortController();
    const cancelled = await notes.add(many, { batchSize: 4, onProgress: (p) => p.done >= 8 && controller.abort(), signal: controller.signal })
      .then(() => 'finished', (e) => e.name);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const models = await simil.models();
    return { car: [car[0].id, car.via], fruit: fruit[0].id, cancelled, count: await notes.count(), text: models.text?.dim };
  });
  assert.deepEqual(errors, []);
  assert.deepEqual(result.car, ['n0', 'text']);
  assert.equal(result.fruit, 'n1');
  assert.equal(result.cancelled, 'AbortError');
  assert.ok(result.count >= 4 + 8 && result.count < 4 + 64 && (result.count - 4) % 4 === 0, `count ${result.count}`);
  assert.equal(result.text, 384);
});

test('with CLIP loaded, words search an image-bound field through CLIP', async () => {
  const { result, errors } = await inPage(env, 'cpu', async (simil) => {
    const dir = '/tests/fixtures/clip/';
    await simil.loadClip({ weights: `${dir}model.safetensors`, config: `${dir}config.json`, vocab: `${dir}vocab.json`, merges: `${dir}merges.txt` });
    const c = await simil.collection('clipped', { fields: [{ name: 'image', metric: 'cosine' }], embed: { image: 'image' } });
    const pixel = (r, g, b) => new ImageData(new Uint8ClampedArray(Array.from({ length: 32 * 32 }, () => [r, g, b, 255]).flat()), 32, 32);
    await c.add([{ id: 'red', image: pixel(255, 0, 0) }, { id: 'blue', image: pixel(0, 0, 255) }]);
    const [words] = await simil.embedTexts(['a photo of a red square']);
    const hits = await c.search({ text: 'a photo of a red square', k: 2 });
    const direct = await c.search({ vector: words, k: 2 });
    return { dim: (await c.config()).fields[0].dim, via: hits.via, same: JSON.stringify(hits) === JSON.stringify(direct) };
  });
  assert.deepEqual(errors, []);
  assert.deepEqual(result, { dim: 24, via: 'clip', same: true });
});

test('without CLIP, words search an image-bound field through the collection\'s text→image aligner', async () => {
  const { result, errors } = await inPage(env, 'cpu', async (simil, names, { blobs }) => {
    // A linear head in simil's saved format (safetensors: layers.0.weight [input, output], bias).
    const saveHead = (columns) => {
      const [input, output] = [columns[0].length, columns.length];
      const weight = new Float32Array(input * output);
      columns.forEach((column, j) => column.forEach((x, i) => { weight[i * output + j] = x; }));
      const bias = new Float32Array(output);
      const header = {
        __metadata__: { head: JSON.stringify({ input, hidden: [], output }) },
        'layers.0.bias': { dtype: 'F32', shape: [output], data_offsets: [0, bias.byteLength] },
        'layers.0.weight': { dtype: 'F32', shape: [input, output], data_offsets: [bias.byteLength, bias.byteLength + weight.byteLength] },
      };
      let json = JSON.stringify(header);
      json += ' '.repeat((8 - (json.length % 8)) % 8);
      const out = new Uint8Array(8 + json.length + bias.byteLength + weight.byteLength);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
      out.set(new TextEncoder().encode(json), 8);
      out.set(new Uint8Array(bias.buffer), 8 + json.length);
      out.set(new Uint8Array(weight.buffer), 8 + json.length + bias.byteLength);
      return out;
    };
    const c = await simil.collection('aligned', { fields: [{ name: 'image', metric: 'cosine' }], embed: { image: 'image' }, textFields: ['name'] });
    await c.add(blobs.map((image, i) => ({ id: names[i], image, payload: { name: `picture ${i}` } })));
    const before = await c.search({ text: 'lighthouse', k: 3 });
    // Two joint dimensions: image A's and image B's directions on the image side, the words
    // "lighthouse" and "volcano" on the text side. Neither word is in any payload.
    const [a, b] = [names[3], names[9]];
    const imageOf = async (id) => Array.from((await c.get(id)).vectors.image);
    await simil.loadTextModel();
    const [wordA, wordB] = (await simil.embedTexts(['lighthouse', 'volcano'])).map((v) => Array.from(v));
    const fields = await c.learnField('joint', { source: 'image', head: saveHead([await imageOf(a), await imageOf(b)]), textHead: saveHead([wordA, wordB]) });
    const lighthouse = await c.search({ text: 'lighthouse', k: 3 });
    const volcano = await c.search({ text: 'volcano', k: 3 });
    const keywords = await c.search({ text: 'picture', k: 3 });
    return {
      before: before.via, fields: fields.map((f) => [f.name, f.dim, f.text?.input]),
      lighthouse: [lighthouse.via, lighthouse[0].id], volcano: [volcano.via, volcano[0].id], a, b,
      fused: keywords.length,
    };
  }, images.map((f) => f.split('/').pop()), { files: images.slice(0, 12) });
  assert.deepEqual(errors, []);
  assert.equal(result.before, 'keywords');
  assert.deepEqual(result.fields, [['joint', 2, 384]]);
  assert.deepEqual(result.lighthouse, ['aligner', result.a]);
  assert.deepEqual(result.volcano, ['aligner', result.b]);
  assert.equal(result.fused, 3, 'words in the payload still find items (keywords fused with the aligner)');
});

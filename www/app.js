// The simil demo: opens simil exactly as a user of the package would, indexes the sample digits
// (each digit's pixels are its vector: only the search module loads), and searches them when a
// digit is clicked; training a metric head loads the trainer on first use.
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
  $('backend').textContent = backend === 'auto' ? 'best available (WebGPU or CPU)' : backend;
  setStatus(`Indexing ${n} digits…`, 'loading');

  const digits = await simil.createCollection('digits', {
    fields: [{ name: 'pixels', dim: DIM, metric: 'cosine' }],
  });
  const items = sample.labels.map((label, i) => ({
    id: String(i),
    vectors: { pixels: Array.from(pixels.subarray(i * DIM, (i + 1) * DIM), (v) => v / 255) },
    payload: { label },
  }));
  await digits.add(items);
  $('count').textContent = await digits.count();

  const digitPixels = (i) => pixels.subarray(i * DIM, (i + 1) * DIM);
  let current = 0;
  async function query(i) {
    current = i;
    const label = sample.labels[i];
    const field = $('use-learned').checked ? 'learned' : 'pixels';
    const hits = await digits.search({ field, vector: items[i].vectors.pixels, k: 13 });
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
  setStatus(`Ready · ${n} items`, 'ready');
  setUpTraining(digits, () => query(current));
}

// Trains a metric head on the digits' labels (progress, cancel), then reports how well the
// learned field retrieves each digit's class, next to the plain vectors.
function setUpTraining(digits, refresh) {
  let controller = null;
  $('train').disabled = false;
  $('use-learned').addEventListener('change', refresh);
  $('cancel').addEventListener('click', () => controller?.abort());
  $('train').addEventListener('click', async () => {
    controller = new AbortController();
    $('train').disabled = true;
    $('cancel').disabled = false;
    const status = $('train-status');
    status.dataset.state = 'training';
    try {
      const result = await digits.trainHead({
        field: 'pixels', labelKey: 'label', output: 'learned', dim: 32, hidden: [128], steps: 150,
        signal: controller.signal,
        onProgress: ({ step, steps, loss }) => { status.textContent = `step ${step} of ${steps} · loss ${loss.toFixed(3)}`; },
      });
      const all = await Promise.all(Array.from({ length: await digits.count() }, (_, i) => digits.get(String(i))));
      const queries = { labelKey: 'label', vectors: all.map((it) => it.vectors.pixels), labels: all.map((it) => it.payload.label), k: 2 };
      const [plain, learned] = await Promise.all(['pixels', 'learned'].map((field) => digits.evaluate({ ...queries, field })));
      $('backend').textContent = result.backend;
      status.textContent = `Trained in ${result.trainS.toFixed(1)} s on ${result.backend}. Precision@2 (the item itself and its nearest neighbour): ` +
        `plain ${plain.precisionAtK.toFixed(3)}, learned ${learned.precisionAtK.toFixed(3)}.`;
      status.dataset.state = 'trained';
      $('use-learned').disabled = false;
    } catch (e) {
      status.textContent = e.name === 'AbortError' ? 'Training cancelled: the collection is unchanged.' : `Training failed: ${e.message}`;
      status.dataset.state = e.name === 'AbortError' ? 'cancelled' : 'error';
    } finally {
      $('train').disabled = false;
      $('cancel').disabled = true;
    }
  });
}

main().catch((e) => {
  console.warn(e);
  setStatus(`simil could not start: ${e.message}`, 'error');
});

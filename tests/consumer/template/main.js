// The consumer page: runs the README's quick start (./quickstart.js, which the test writes
// from README.md), then loads the default models from the package's own weights with download
// progress, embeds, and trains a tiny head (so the model and trainer modules load too). The
// outcome lands in `window.consumer` and in #result, for the test to read.
import { open } from 'simil';

const report = (window.consumer = { status: 'running' });
const show = () => {
  document.getElementById('result').textContent = JSON.stringify(report, null, 2);
};

try {
  const { hits } = await import('./quickstart.js');
  report.hits = hits.map(({ id, score, payload }) => ({ id, score, payload }));

  const simil = await open({ backend: 'cpu' });
  try {
    const progress = [];
    const onProgress = (p) => progress.push(p);
    report.text = await simil.loadTextModel({ onProgress });
    const [words] = await simil.embedTexts(['red fruit']);
    report.textDim = words.length;
    report.image = await simil.loadImageModel({ onProgress });
    const canvas = new OffscreenCanvas(64, 64);
    const context = canvas.getContext('2d');
    context.fillStyle = '#c33';
    context.fillRect(0, 0, 64, 64);
    const [picture] = await simil.embedImages([context.getImageData(0, 0, 64, 64)]);
    report.imageDim = picture.length;
    // The last report of each file (loaded === total when complete) and how many there were.
    report.downloads = {};
    for (const p of progress) report.downloads[p.file] = { ...p, reports: (report.downloads[p.file]?.reports ?? 0) + 1 };

    const c = await simil.collection('tiny', { fields: [{ name: 'v', dim: 8, metric: 'cosine' }] });
    await c.add(Array.from({ length: 16 }, (_, i) => ({
      id: `i${i}`,
      vectors: { v: Array.from({ length: 8 }, (_, j) => (j === i % 2 ? 1 : 0) + Math.sin(i * 8 + j) * 0.1) },
      payload: { label: String(i % 2) },
    })));
    const trained = await c.trainHead({ field: 'v', labelKey: 'label', output: 'learned', steps: 5, hidden: [16], dim: 8, classesPerBatch: 2, examplesPerClass: 4, selfSupervised: false, seed: 1 });
    report.trained = { steps: trained.steps, backend: trained.backend };
  } finally {
    simil.terminate();
  }
  report.status = 'done';
} catch (e) {
  report.status = 'failed';
  report.error = `${e?.name}: ${e?.message}\n${e?.stack ?? ''}`;
}
show();

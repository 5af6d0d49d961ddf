// Label & train: each item's subcategory (emoji) or folder (photos) is its label. Four items in
// five carry it as `label` and train a metric head here in the tab (the loss drawn live, the
// settings from the trainer's recipe); the fifth are held out, unlabelled: their vectors query
// the collection before (image field) and after (learned field), scored by their true label.
// Then searches may use the learned field.
import { $, el, hash01 } from './ui.js';
import { itemVectors } from './items.js';

const HELD_OUT = 0.2;
const K = 10;

/** The loss curve: `points` are `[step, loss]`, drawn over `steps`. */
function drawLoss(points, steps) {
  const max = points.reduce((m, [, loss]) => Math.max(m, loss), 1e-6);
  const xy = points.map(([step, loss]) => `${((step / Math.max(steps, 1)) * 296 + 2).toFixed(1)},${(96 - (loss / max) * 90).toFixed(1)}`);
  $('loss-curve').querySelector('polyline').setAttribute('points', xy.join(' '));
  $('loss-curve').dataset.points = String(points.length);
}

const showCurve = (shown) => $('loss-curve').toggleAttribute('hidden', !shown);

function metricsRow(name, m) {
  return el('tr', {}, el('th', { scope: 'row', text: name }),
    ...[m.precisionAtK, m.mapAtR, m.ndcgAtK].map((v) => el('td', { text: v.toFixed(3) })));
}

const held = (id) => hash01(id) < HELD_OUT;

export function setUpTraining(ctx) {
  let controller = null;
  $('train-cancel').addEventListener('click', () => controller?.abort());
  document.addEventListener('collectionchange', () => {
    $('metrics').hidden = true;
    $('train-status').textContent = '';
    showCurve(false);
  });
  $('train-start').addEventListener('click', () => {
    controller = new AbortController();
    const { signal } = controller;
    const steps = Number($('train-steps').value) ? Math.max(10, Math.min(2000, Number($('train-steps').value))) : null;
    $('train-start').disabled = true;
    $('train-cancel').disabled = false;
    $('train-status').dataset.state = 'preparing';
    const collection = ctx.collection;
    const source = ctx.trainKey;
    ctx.run('Training…', async () => {
      try {
        const items = await itemVectors(collection);
        const labelled = items.filter((it) => !held(it.id));
        if (new Set(labelled.map((it) => String(it.payload[source]))).size < 2) {
          throw new Error(`training needs items of at least two ${source}s`);
        }
        // Training items carry their label as `label`, held-out ones none (added again with
        // their vectors; only those whose label is not right yet).
        const relabel = items.filter((it) => (held(it.id) ? it.payload.label !== undefined : it.payload.label !== it.payload[source]));
        for (let i = 0; i < relabel.length; i += 256) {
          await collection.add(relabel.slice(i, i + 256).map(({ id, payload, vector }) => {
            const { label, ...rest } = payload;
            return { id, vectors: { image: vector }, payload: held(id) ? rest : { ...rest, label: payload[source] } };
          }));
          $('train-status').textContent = `Labelling: ${Math.min(i + 256, relabel.length)} of ${relabel.length}…`;
        }
        const test = items.filter((it) => held(it.id));
        const queries = { labelKey: source, vectors: test.map((it) => it.vector), labels: test.map((it) => String(it.payload[source])), k: K };
        const before = await collection.evaluate({ ...queries, field: 'image' });
        const losses = [];
        drawLoss([], 1);
        showCurve(true);
        $('metrics').hidden = true;
        $('train-status').dataset.state = 'training';
        $('train-status').textContent = `Training on ${labelled.length} labelled items…`;
        const result = await collection.trainHead({
          field: 'image', labelKey: 'label', output: 'learned', holdOut: 0, signal, ...(steps ? { steps } : {}),
          onProgress: ({ step, steps: total, loss }) => {
            losses.push([step, loss]);
            drawLoss(losses, total);
            $('train-status').textContent = `step ${step} of ${total} · loss ${loss.toFixed(3)}`;
          },
        });
        drawLoss(Array.from(result.losses, (loss, i) => [i + 1, loss]), result.losses.length);
        const installed = result.installed !== false;
        const rows = [metricsRow('before: image', before)];
        if (installed) rows.push(metricsRow('after: learned', await collection.evaluate({ ...queries, field: 'learned' })));
        $('metrics-about').textContent = `${test.length} held-out items, by ${source}, ${K} nearest`;
        $('metrics-head').replaceChildren(...['field', `precision@${K}`, 'mAP@R', `NDCG@${K}`].map((t) => el('th', { scope: 'col', text: t })));
        $('metrics').querySelector('tbody').replaceChildren(...rows);
        $('metrics').hidden = false;
        $('train-status').dataset.state = installed ? 'trained' : 'kept';
        $('train-status').textContent = `Trained ${result.steps} steps in ${result.trainS.toFixed(1)} s on ${result.backend}, ${result.classes.length} labels (${source}). ` +
          (installed ? 'Tick “use the learned field” to search with it.' : `Not installed: ${result.reason ?? 'it scored below the image field'}.`);
        if (installed) $('use-learned').disabled = false;
        await ctx.changed();
      } catch (e) {
        if (e?.name === 'AbortError') {
          $('train-status').dataset.state = 'cancelled';
          $('train-status').textContent = 'Training cancelled: the learned field is unchanged.';
        } else {
          $('train-status').dataset.state = 'error';
          throw e;
        }
      } finally {
        controller = null;
        $('train-start').disabled = false;
        $('train-cancel').disabled = true;
      }
    });
  });
}

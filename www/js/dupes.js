// Near-duplicates: each item's vector is searched (k 10) with `minScore` at the threshold the
// slider sets; the pairs found are joined into groups (union-find) here in the page. Pairs found
// at a threshold serve every higher one, so moving the slider up answers at once.
import { $, el, itemName, thumbnail } from './ui.js';
import { itemVectors } from './items.js';
import { groups } from './unionfind.js';

const SHOWN = 12;

export function setUpDupes(ctx) {
  let found = null; // { name, minScore, pairs: [[a, b, score]] }
  let running = null;

  document.addEventListener('collectionchange', () => {
    found = null;
    $('dupe-groups').replaceChildren();
    $('dupes-summary').textContent = '';
  });

  async function pairsAt(minScore) {
    if (found && found.name === ctx.name && found.minScore <= minScore) return found.pairs;
    const collection = ctx.collection;
    const items = await itemVectors(collection, (n, total) => { $('dupes-summary').textContent = `Reading vectors: ${n} of ${total}…`; });
    const pairs = [];
    for (let i = 0; i < items.length; i += 64) {
      const answers = await Promise.all(items.slice(i, i + 64).map((it) => collection.search({ vector: it.vector, field: 'image', k: 10, minScore })));
      answers.forEach((hits, j) => {
        const id = items[i + j].id;
        for (const h of hits) if (h.id > id) pairs.push([id, h.id, h.score]);
      });
      $('dupes-summary').textContent = `Comparing: ${Math.min(i + 64, items.length)} of ${items.length} items…`;
    }
    found = { name: ctx.name, minScore, pairs };
    return pairs;
  }

  async function update() {
    const threshold = Number($('dupe-threshold').value);
    $('dupe-value').textContent = threshold.toFixed(2);
    const items = await itemVectors(ctx.collection);
    const byId = new Map(items.map((it) => [it.id, it]));
    const pairs = (await pairsAt(threshold)).filter((p) => p[2] >= threshold);
    const best = new Map();
    for (const [a, b, s] of pairs) for (const id of [a, b]) best.set(id, Math.max(best.get(id) ?? 0, s));
    const grouped = groups(items.map((it) => it.id), pairs);
    const inGroups = grouped.reduce((n, g) => n + g.length, 0);
    $('dupes-summary').textContent = grouped.length
      ? `${grouped.length} groups (${inGroups} items) at similarity ≥ ${threshold.toFixed(2)}${grouped.length > SHOWN ? `; the ${SHOWN} largest shown` : ''}.`
      : `No two items reach ${threshold.toFixed(2)}: lower the threshold.`;
    $('dupe-groups').dataset.groups = String(grouped.length);
    $('dupe-groups').replaceChildren(...grouped.slice(0, SHOWN).map((g, i) => el('div', { class: 'group', role: 'group', 'aria-label': `group ${i + 1}, ${g.length} items` },
      el('span', { class: 'group-size', text: `${g.length}×` }),
      ...g.slice(0, 16).map((id) => {
        const { payload } = byId.get(id);
        return el('button', { type: 'button', class: 'mini', title: `${itemName(payload)} · best match ${best.get(id).toFixed(3)}`, onclick: () => ctx.moreLikeThis(id, { reveal: true }) }, thumbnail(payload, 40));
      }),
      g.length > 16 ? el('span', { class: 'more', text: `+${g.length - 16}` }) : null)));
  }

  const schedule = () => {
    $('dupe-value').textContent = Number($('dupe-threshold').value).toFixed(2);
    if (running) { running.again = true; return; }
    running = { again: false };
    ctx.run('Finding near-duplicates…', async () => {
      do {
        running.again = false;
        await update();
      } while (running.again);
    }).finally(() => { running = null; });
  };
  $('find-dupes').addEventListener('click', schedule);
  $('dupe-threshold').addEventListener('input', () => { if (found) schedule(); else $('dupe-value').textContent = Number($('dupe-threshold').value).toFixed(2); });
  $('dupe-threshold').addEventListener('change', schedule);
}

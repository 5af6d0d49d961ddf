// A 2-D map of the collection: PCA of the image vectors (power iteration, ./pca.js), one dot per
// item coloured by its label; hovering shows the item, clicking searches from it. Arrow keys
// move between items when the map has focus, Enter searches from the one shown.
import { $, el, itemName, labelOf, PALETTE, thumbnail } from './ui.js';
import { itemVectors, labelsOf } from './items.js';
import { pca2 } from './pca.js';

const PAD = 14;

export function setUpMap(ctx) {
  const canvas = $('map');
  let points = []; // { id, payload, x, y, colour }
  let current = -1;

  function paint() {
    const g = canvas.getContext('2d');
    g.clearRect(0, 0, canvas.width, canvas.height);
    if (!points.length) {
      g.fillStyle = '#5b6575';
      g.font = '16px system-ui, sans-serif';
      g.textAlign = 'center';
      g.fillText(`“Draw the map” places every item of “${ctx.name}” here.`, canvas.width / 2, canvas.height / 2);
      return;
    }
    for (const [i, p] of points.entries()) {
      g.fillStyle = p.colour;
      g.globalAlpha = current === -1 || current === i ? 0.85 : 0.55;
      g.beginPath();
      g.arc(p.x, p.y, current === i ? 6 : 3, 0, 2 * Math.PI);
      g.fill();
    }
    g.globalAlpha = 1;
  }

  function show(i) {
    current = i;
    paint();
    const tip = $('map-tip');
    if (i < 0) {
      tip.hidden = true;
      return;
    }
    const p = points[i];
    tip.replaceChildren(thumbnail(p.payload, 64), el('span', { text: `${itemName(p.payload)} · ${labelOf(p.payload)}` }));
    const scale = canvas.getBoundingClientRect().width / canvas.width;
    tip.style.left = `${Math.min(p.x * scale + 10, canvas.getBoundingClientRect().width - 170)}px`;
    tip.style.top = `${p.y * scale + 10}px`;
    tip.hidden = false;
    canvas.setAttribute('aria-label', `Map of the collection: ${itemName(p.payload)} (${labelOf(p.payload)}); Enter searches from it`);
  }

  function nearest(event) {
    const rect = canvas.getBoundingClientRect();
    const x = ((event.clientX - rect.left) / rect.width) * canvas.width;
    const y = ((event.clientY - rect.top) / rect.height) * canvas.height;
    let best = -1;
    let bestD = 10 * 10;
    points.forEach((p, i) => {
      const d = (p.x - x) ** 2 + (p.y - y) ** 2;
      if (d < bestD) { bestD = d; best = i; }
    });
    return best;
  }

  async function draw() {
    const items = await itemVectors(ctx.collection, (n, total) => { $('map-legend').replaceChildren(el('li', { text: `Reading vectors: ${n} of ${total}…` })); });
    if (items.length < 3) {
      points = [];
      paint();
      $('map-legend').replaceChildren(el('li', { text: 'The map needs at least three items.' }));
      return;
    }
    const xy = pca2(items.map((it) => it.vector));
    const xs = xy.map((p) => p[0]);
    const ys = xy.map((p) => p[1]);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const labels = labelsOf(items, labelOf);
    const colour = new Map(labels.map((l, i) => [l, PALETTE[i % PALETTE.length]]));
    points = items.map((it, i) => ({
      id: it.id, payload: it.payload, colour: colour.get(labelOf(it.payload)),
      x: PAD + ((xy[i][0] - x0) / (x1 - x0 || 1)) * (canvas.width - 2 * PAD),
      y: PAD + ((xy[i][1] - y0) / (y1 - y0 || 1)) * (canvas.height - 2 * PAD),
    }));
    canvas.dataset.points = String(points.length);
    canvas.tabIndex = 0;
    current = -1;
    paint();
    $('map-legend').replaceChildren(...labels.map((l) => el('li', {}, el('span', { class: 'swatch', style: { background: colour.get(l) } }), l)));
  }

  paint();
  $('draw-map').addEventListener('click', () => ctx.run('Drawing the map…', draw));
  document.addEventListener('collectionchange', () => {
    points = [];
    paint();
    show(-1);
    $('map-legend').replaceChildren();
    delete canvas.dataset.points;
  });
  canvas.addEventListener('mousemove', (e) => {
    const i = nearest(e);
    if (i !== current) show(i);
  });
  canvas.addEventListener('mouseleave', () => show(-1));
  canvas.addEventListener('click', (e) => {
    const i = nearest(e);
    if (i >= 0) ctx.moreLikeThis(points[i].id, { reveal: true });
  });
  canvas.addEventListener('keydown', (e) => {
    if (!points.length) return;
    if (e.key === 'ArrowRight' || e.key === 'ArrowDown') show((current + 1) % points.length);
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') show((current - 1 + points.length) % points.length);
    else if (e.key === 'Enter' && current >= 0) ctx.moreLikeThis(points[current].id, { reveal: true });
    else return;
    e.preventDefault();
  });
}

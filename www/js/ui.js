// Small DOM helpers and the item thumbnails every part of the page shows.
export const $ = (id) => document.getElementById(id);

/** An element with attributes / properties and children. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'style') Object.assign(node.style, value); // CSSOM: allowed under the strict CSP
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key in node && typeof value !== 'string') node[key] = value;
    else node.setAttribute(key, value === true ? '' : value);
  }
  node.append(...children.filter((c) => c !== undefined && c !== null));
  return node;
}

export function setStatus(text, state = 'ready') {
  $('status').textContent = text;
  $('status').dataset.state = state;
}

/** What an item is called: an emoji's name, a photo's file name. */
export const itemName = (payload) => payload?.name ?? '(unnamed)';

/** The label an item is grouped and trained by: an emoji's category, a photo's folder. */
export const labelOf = (payload) => payload?.category ?? payload?.folder ?? 'none';

/**
 * The picture of an item: an emoji's PNG (served with the page), or a photo's thumbnail kept in
 * its payload (JPEG bytes, base64), drawn on a canvas so that no blob: or data: URL is needed.
 */
export function thumbnail(payload, size = 64) {
  const alt = itemName(payload);
  if (payload?.file) return el('img', { src: `data/emoji/${payload.file}`, alt, width: size, height: size, decoding: 'async' });
  const canvas = el('canvas', { width: size, height: size, role: 'img', 'aria-label': alt, class: 'thumb' });
  if (payload?.thumb) drawBase64(canvas, payload.thumb);
  return canvas;
}

const decoded = new Map();
async function drawBase64(canvas, base64) {
  try {
    if (!decoded.has(base64)) {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      decoded.set(base64, createImageBitmap(new Blob([bytes], { type: 'image/jpeg' })));
    }
    drawCovering(canvas, await decoded.get(base64));
  } catch {
    // an unreadable thumbnail leaves the canvas blank; its aria-label still names the item
  }
}

/** Draws `bitmap` centred and cropped to fill `canvas`. */
export function drawCovering(canvas, bitmap) {
  const ctx = canvas.getContext('2d');
  const scale = Math.max(canvas.width / bitmap.width, canvas.height / bitmap.height);
  const w = bitmap.width * scale;
  const h = bitmap.height * scale;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(bitmap, (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
}

/** A canvas showing a picked or dropped image file. */
export async function fileThumbnail(file, size = 96) {
  const canvas = el('canvas', { width: size, height: size, role: 'img', 'aria-label': file.name || 'query image', class: 'thumb' });
  try {
    drawCovering(canvas, await createImageBitmap(file));
  } catch {
    // not an image the browser can decode: the search reports it
  }
  return canvas;
}

/** A small JPEG of an image file, as base64 (kept in a photo's payload for its thumbnail). */
export async function makeThumb(file, size = 72) {
  const bitmap = await createImageBitmap(file);
  const canvas = new OffscreenCanvas(size, size);
  drawCovering(canvas, bitmap);
  bitmap.close();
  const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.7 });
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/** A clickable card: the item's picture, its name, and its score when given. */
export function card(hit, onClick) {
  const name = itemName(hit.payload);
  const score = typeof hit.score === 'number' ? hit.score.toFixed(3) : null;
  return el('button', {
    type: 'button', class: 'card', 'data-id': hit.id,
    title: `${name}${score ? ` · score ${score}` : ''}: more like this`,
    onclick: () => onClick(hit),
  }, thumbnail(hit.payload), el('span', { class: 'name', text: name }), score && el('span', { class: 'score', text: score }));
}

export const fmtBytes = (n) => (n == null ? '?' : n < 1024 ** 2 ? `${(n / 1024).toFixed(0)} KB` : `${(n / 1024 ** 2).toFixed(1)} MB`);

/** A stable pseudo-random number in [0, 1) from a string (the held-out split). */
export function hash01(text) {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return ((h >>> 0) % 10007) / 10007;
}

/** Colours for labels, in order. */
export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#ad494a'];

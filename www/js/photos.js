// Bring your own photos: picked (a folder or files), dropped (folders too) or pasted, they are
// embedded in simil's worker into the collection "photos" (its image field is bound to the image
// model), with a progress bar (count, rate, time left) and a cancel button. Each photo's payload
// keeps its name, its folder (the first segment of its path) and a small thumbnail.
import { $, makeThumb, setStatus } from './ui.js';

export const PHOTOS = 'photos';
/** Where photos go while the user's CLIP is loaded: its vectors are another space than MobileNet's. */
export const CLIP_PHOTOS = 'photos-clip';
const CONFIG = {
  fields: [{ name: 'image', metric: 'cosine' }],
  embed: { image: 'image' },
  textFields: ['name', 'folder'],
};
const CHUNK = 64;

const countPhotos = (n) => `${n} photo${n === 1 ? '' : 's'}`;
const isImage = (file) => file.type.startsWith('image/') || /\.(jpe?g|png|gif|webp|avif|bmp)$/i.test(file.name);

/** Files under a dropped entry (a folder is walked), with the path they were dropped with. */
async function walk(entry, out) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    out.push({ file, path: entry.fullPath.replace(/^\//, '') });
  } else if (entry.isDirectory) {
    const reader = entry.createReader();
    for (;;) {
      const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
      if (!batch.length) break;
      for (const child of batch) await walk(child, out);
    }
  }
}

function seconds(s) {
  if (!Number.isFinite(s)) return '…';
  return s < 90 ? `${Math.max(0, Math.round(s))} s` : `${Math.round(s / 60)} min`;
}

export function setUpPhotos(ctx) {
  let controller = null;

  async function ingest(entries, source) {
    const photos = entries.filter(({ file }) => isImage(file));
    if (!photos.length) {
      setStatus(`No images among the ${source} files.`, 'error');
      return;
    }
    if (controller) {
      setStatus('Photos are being added already: wait or cancel first.', 'error');
      return;
    }
    controller = new AbortController();
    const { signal } = controller;
    const total = photos.length;
    const started = performance.now();
    let done = 0;
    $('ingest').hidden = false;
    $('ingest').dataset.state = 'running';
    $('ingest-cancel').disabled = false;
    const show = (count) => {
      const elapsed = (performance.now() - started) / 1000;
      const rate = count / Math.max(elapsed, 1e-3);
      $('ingest-progress').max = total;
      $('ingest-progress').value = count;
      $('ingest-text').textContent = `${count} of ${countPhotos(total)} · ${count ? rate.toFixed(1) : '…'} per second · ${count ? seconds((total - count) / rate) : '…'} left`;
    };
    show(0);
    const target = ctx.clipFiles ? CLIP_PHOTOS : PHOTOS;
    await ctx.run(`Adding ${countPhotos(total)} to “${target}” (the image model loads on first use)…`, async () => {
      try {
        await ctx.modelsFor(target);
        const collection = await ctx.simil.collection(target, CONFIG);
        for (let start = 0; start < total; start += CHUNK) {
          if (signal.aborted) throw new DOMException('cancelled', 'AbortError');
          const chunk = photos.slice(start, start + CHUNK);
          const items = await Promise.all(chunk.map(async ({ file, path }) => {
            // The folder a photo is labelled by: the first one under the folder picked or dropped
            // (album/beach/1.jpg → beach), else the picked folder itself.
            const segments = path.split('/').filter(Boolean);
            const folder = segments.length > 2 ? segments[1] : segments.length === 2 ? segments[0] : source;
            return {
              id: path,
              image: file,
              payload: { name: file.name, folder, thumb: await makeThumb(file).catch(() => null) },
            };
          }));
          await collection.add(items, {
            batchSize: 8, signal,
            // A lost WebGPU device is not an error: the batch runs again on the CPU.
            onProgress: ({ done: n, status, message }) => {
              if (status) $('ingest-text').textContent = `${message}: going on on the CPU…`;
              else show(done + n);
            },
          });
          done += chunk.length;
          show(done);
        }
        $('ingest-text').textContent = `Added ${countPhotos(total)} in ${((performance.now() - started) / 1000).toFixed(1)} s. They are searchable now, and kept in this browser.`;
        $('ingest').dataset.state = 'done';
      } catch (e) {
        if (e?.name !== 'AbortError') throw e;
        const kept = await (await ctx.simil.collection(target)).count();
        $('ingest-text').textContent = `Cancelled: the collection keeps ${countPhotos(kept)}.`;
        $('ingest').dataset.state = 'cancelled';
      } finally {
        controller = null;
        $('ingest-cancel').disabled = true;
        await ctx.changed(target);
        await ctx.switchTo(target);
      }
    });
  }

  $('ingest-cancel').addEventListener('click', () => controller?.abort());
  $('clip-files').addEventListener('change', () => {
    const files = [...$('clip-files').files];
    $('clip-files').value = '';
    const find = (test) => files.find((f) => test(f.name));
    const picked = {
      weights: find((n) => n.endsWith('.safetensors')),
      config: find((n) => n === 'config.json'),
      vocab: find((n) => n === 'vocab.json'),
      merges: find((n) => n === 'merges.txt'),
    };
    const missing = Object.entries(picked).filter(([, f]) => !f).map(([k]) => k);
    if (missing.length) {
      $('clip-status').textContent = `Missing: ${missing.join(', ')} (pick the four files together).`;
      return;
    }
    ctx.run('Loading your CLIP…', async () => {
      const info = await ctx.simil.loadClip(picked);
      ctx.clipFiles = picked;
      $('clip-status').textContent = `Your CLIP is loaded (${info.dim} dimensions, ${info.inputSize} px): photos you add now go to “${CLIP_PHOTOS}”, and words search them through it.`;
      $('clip-status').dataset.state = 'loaded';
    });
  });
  for (const id of ['pick-folder', 'pick-files']) {
    $(id).addEventListener('change', () => {
      const files = [...$(id).files];
      $(id).value = '';
      ingest(files.map((file) => ({ file, path: file.webkitRelativePath || file.name })), id === 'pick-folder' ? 'folder' : 'picked');
    });
  }
  const zone = $('photo-drop');
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', async (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    const entries = [...(e.dataTransfer?.items ?? [])].map((item) => item.webkitGetAsEntry?.()).filter(Boolean);
    const out = [];
    if (entries.length) for (const entry of entries) await walk(entry, out);
    else for (const file of e.dataTransfer?.files ?? []) out.push({ file, path: file.name });
    ingest(out, 'dropped');
  });
  document.addEventListener('paste', (e) => {
    if (document.activeElement !== zone) return;
    const files = [...(e.clipboardData?.files ?? [])];
    if (!files.length) return;
    e.preventDefault();
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    ingest(files.map((file, i) => ({ file, path: `pasted/${stamp}-${i}-${file.name || 'image.png'}` })), 'pasted');
  });
}

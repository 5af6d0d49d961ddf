// Every item of a collection, with its payload (and, when asked, its vectors), read through
// the public API: an exact search for all of them, then `get` for the vectors. Cached per
// collection until it changes.
const cache = new Map();

export function forget(name) {
  cache.delete(name);
}

async function fieldDim(collection) {
  const config = await collection.config();
  return config.fields[0].dim;
}

/** `[{ id, payload }]` of every item (at most 10,000), in the collection's own order. */
export async function listItems(collection) {
  const entry = cache.get(collection.name) ?? {};
  if (!entry.items) {
    const count = await collection.count();
    let items = [];
    if (count > 0) {
      const dim = await fieldDim(collection);
      const hits = await collection.search({ vector: new Float32Array(dim).fill(1), k: Math.min(count, 10_000), exact: true });
      items = hits.map(({ id, payload }) => ({ id, payload }));
      items.sort((a, b) => (a.payload?.order ?? 0) - (b.payload?.order ?? 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    }
    entry.items = items;
    cache.set(collection.name, entry);
  }
  return entry.items;
}

/** Every item with its image vector: `[{ id, payload, vector }]`. */
export async function itemVectors(collection, onProgress) {
  const entry = cache.get(collection.name) ?? {};
  if (!entry.vectors) {
    const items = await listItems(collection);
    const out = [];
    for (let i = 0; i < items.length; i += 200) {
      const got = await Promise.all(items.slice(i, i + 200).map((it) => collection.get(it.id)));
      got.forEach((item, j) => item && out.push({ ...items[i + j], vector: item.vectors.image }));
      onProgress?.(Math.min(i + 200, items.length), items.length);
    }
    entry.vectors = out;
    cache.set(collection.name, entry);
  }
  return entry.vectors;
}

/** The distinct labels (categories or folders) of the items, by count. */
export function labelsOf(items, labelOf) {
  const counts = new Map();
  for (const { payload } of items) counts.set(labelOf(payload), (counts.get(labelOf(payload)) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([label]) => label);
}

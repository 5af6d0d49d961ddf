// simil's builder: builds the HNSW graphs of index upkeep (sealing an exact segment, merging
// sealed ones) in its own worker, so that simil's worker keeps answering queries and writes
// meanwhile. simil's worker plans a job (`planUpkeep`: the rows, as bytes), posts it here as
// `{ id, job }`, and applies what comes back (`{ id, built }` or `{ id, error }`) with
// `applyUpkeep`, which keeps the writes made during the build. Only the search module loads here.
import init, { buildSegment } from './wasm/simil_search.js';

let ready = null;

self.addEventListener('message', async ({ data: { id, module, job } }) => {
  try {
    ready ??= init({ module_or_path: module });
    await ready;
    const built = buildSegment(job);
    self.postMessage({ id, built }, [built.buffer]);
  } catch (e) {
    self.postMessage({ id, error: e?.message ?? String(e) });
  }
});

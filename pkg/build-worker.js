// simil's builder: runs index upkeep in its own worker, so that simil's worker keeps answering
// queries and writes meanwhile. simil's worker plans a job (`planUpkeep`: rows as bytes), posts
// it here as `{ id, job }`, and applies what comes back (`{ id, built }` or `{ id, error }`) with
// `applyUpkeep`, which keeps the writes made meanwhile. A job builds a segment's graphs in one
// go, or grows the copy of a graph this builder keeps (sent with the first step) and returns the
// links that changed. Only the search module loads here.
import init, { SegmentBuilder } from './wasm/simil_search.js';

let ready = null;
let builder = null;

self.addEventListener('message', async ({ data: { id, module, job } }) => {
  try {
    ready ??= init({ module_or_path: module });
    await ready;
    builder ??= new SegmentBuilder();
    const built = builder.run(job);
    self.postMessage({ id, built }, [built.buffer]);
  } catch (e) {
    self.postMessage({ id, error: e?.message ?? String(e) });
  }
});

// simil's builder: runs index upkeep in its own worker, so that simil's worker keeps answering
// queries and writes meanwhile. simil's worker plans a job (`planUpkeep`: rows as bytes), posts
// it here as `{ id, job }`, and applies what comes back (`{ id, built }` or `{ id, error }`) with
// `applyUpkeep`, which keeps the writes made meanwhile. A job builds a segment's graphs in one
// go, or grows the copy of a graph this builder keeps (sent with the first step) and returns the
// links that changed. Only the search module loads here.
import init, { SearchEngine } from './wasm/simil_search.js';

let ready = null;
let engine = null;

self.addEventListener('message', async ({ data: { id, module, job } }) => {
  try {
    ready ??= init({ module_or_path: module });
    const { memory } = await ready;
    engine ??= new SearchEngine();
    const built = engine.runUpkeep(job);
    // The builder's memory (graph copies included) comes with each answer, for `memory()`.
    self.postMessage({ id, built, memory: memory.buffer.byteLength }, [built.buffer]);
  } catch (e) {
    self.postMessage({ id, error: e?.message ?? String(e) });
  }
});

// The seeded generator of the browser tests' pages (imported in the page: `await
// import('/tests/browser/seeded.js')`): mulberry32, uniform in [0, 1).

/** A uniform generator in [0, 1) seeded by `seed` (mulberry32). */
export function mulberry32(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

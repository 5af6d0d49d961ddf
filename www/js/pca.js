// The two main directions of a set of vectors (PCA by power iteration with deflation), and each
// vector's coordinates on them.
export function pca2(vectors, iterations = 40) {
  const n = vectors.length;
  const dim = vectors[0]?.length ?? 0;
  const mean = new Float64Array(dim);
  for (const v of vectors) for (let j = 0; j < dim; j++) mean[j] += v[j] / n;
  const centred = vectors.map((v) => Float64Array.from(v, (x, j) => x - mean[j]));
  const components = [];
  for (let c = 0; c < 2; c++) {
    let w = Float64Array.from({ length: dim }, (_, j) => Math.sin(j * 12.9898 + c * 78.233));
    for (let it = 0; it < iterations; it++) {
      const next = new Float64Array(dim);
      for (const x of centred) {
        let dot = 0;
        for (let j = 0; j < dim; j++) dot += x[j] * w[j];
        for (let j = 0; j < dim; j++) next[j] += dot * x[j];
      }
      for (const prev of components) {
        let dot = 0;
        for (let j = 0; j < dim; j++) dot += next[j] * prev[j];
        for (let j = 0; j < dim; j++) next[j] -= dot * prev[j];
      }
      const norm = Math.hypot(...next) || 1;
      w = next.map((x) => x / norm);
    }
    components.push(w);
  }
  return centred.map((x) => components.map((w) => {
    let dot = 0;
    for (let j = 0; j < dim; j++) dot += x[j] * w[j];
    return dot;
  }));
}

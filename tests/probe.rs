//! The end-to-end probe, natively: a seeded random projection of real MNIST digits on the CPU
//! backend, indexed and searched exactly. It also writes `tests/out/native-probe.json`, the
//! reference the browser tests compare WebGPU and wasm-CPU results against, and checks it:
//! deterministic, finite unit vectors equal to the projection computed in plain loops, and
//! each query's exact top-10 by cosine.

mod common;

use std::collections::BTreeMap;

use simil::index::{IndexConfig, Item, Query};
use simil::model::RandomProjection;
use simil::{Collection, Compute};

const PER_CLASS: usize = 20;
const OUT_DIM: usize = 64;
const SEED: u64 = 42;
const QUERIES: [usize; 5] = [0, 37, 85, 120, 199];

fn embed(seed: u64, pixels: &[f32]) -> Vec<f32> {
    let compute = Compute::cpu();
    let model = RandomProjection::new(&compute, 784, OUT_DIM, seed).unwrap();
    pollster::block_on(model.embed(&compute, pixels)).unwrap()
}

fn collection(vectors: &[f32], labels: &[u8]) -> Collection {
    let config: IndexConfig = serde_json::from_value(serde_json::json!({
        "fields": [{ "name": "pixels", "dim": OUT_DIM, "metric": "cosine" }]
    }))
    .unwrap();
    let mut collection = Collection::new(config).unwrap();
    let items = vectors
        .chunks(OUT_DIM)
        .zip(labels)
        .enumerate()
        .map(|(i, (v, label))| Item {
            id: i.to_string(),
            vectors: BTreeMap::from([("pixels".to_string(), v.to_vec())]),
            payload: serde_json::json!({ "label": label }),
        })
        .collect();
    collection.add(items).unwrap();
    collection
}

fn top10(collection: &Collection, vector: &[f32]) -> Vec<simil::index::Hit> {
    let query = Query {
        exact: true,
        ..Query::nearest("pixels", vector.to_vec(), 10)
    };
    collection.search(&query.into()).unwrap()
}

#[test]
fn projection_is_seeded_unit_length_and_keeps_digit_neighbourhoods() {
    let (pixels, labels) = common::mnist(PER_CLASS);
    let vectors = embed(SEED, &pixels);
    assert_eq!(vectors.len(), labels.len() * OUT_DIM);
    for v in vectors.chunks(OUT_DIM) {
        common::assert_unit_norm(v, 1e-5);
    }
    assert_eq!(vectors, embed(SEED, &pixels), "same seed, same vectors");
    assert_ne!(
        vectors,
        embed(SEED + 1, &pixels),
        "another seed, other vectors"
    );

    // Nearest neighbour (other than itself) shares the label far more often than chance (0.1).
    let collection = collection(&vectors, &labels);
    let correct = vectors
        .chunks(OUT_DIM)
        .enumerate()
        .filter(|(i, v)| {
            let hits = top10(&collection, v);
            let nn = hits.iter().find(|h| h.id != i.to_string()).unwrap();
            nn.payload["label"] == labels[*i]
        })
        .count();
    let accuracy = correct as f64 / labels.len() as f64;
    assert!(accuracy > 0.7, "1-NN accuracy {accuracy}");
}

#[test]
fn bad_input_is_a_clear_error() {
    let compute = Compute::cpu();
    let model = RandomProjection::new(&compute, 784, OUT_DIM, SEED).unwrap();
    let err = pollster::block_on(model.embed(&compute, &[0.5; 100])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "random projection expects a non-empty multiple of 784 values, got 100 values"
    );
    assert!(RandomProjection::new(&compute, 0, 8, 1).is_err());
}

/// The reference for the browser tests, as written: the projected digits and the exact top-10
/// of some of them.
fn reference() -> String {
    let (pixels, labels) = common::mnist(PER_CLASS);
    let vectors = embed(SEED, &pixels);
    let collection = collection(&vectors, &labels);
    let queries: Vec<_> = QUERIES
        .iter()
        .map(|&q| {
            let ids: Vec<String> = top10(&collection, &vectors[q * OUT_DIM..(q + 1) * OUT_DIM])
                .into_iter()
                .map(|h| h.id)
                .collect();
            serde_json::json!({ "index": q, "top10": ids })
        })
        .collect();
    serde_json::json!({
        "per_class": PER_CLASS, "input_dim": 784, "output_dim": OUT_DIM, "seed": SEED,
        "vectors": vectors, "queries": queries,
    })
    .to_string()
}

/// The projection computed apart from burn, in plain loops: `l2norm(relu(x·W))`, `W` drawn
/// from the seeded generator as `RandomProjection::new` documents it.
fn plain_projection(pixels: &[f32]) -> Vec<f32> {
    use rand::Rng;
    let bound = (3.0f32 / 784.0).sqrt();
    let mut rng = common::rng(SEED);
    let w: Vec<f32> = (0..784 * OUT_DIM)
        .map(|_| rng.gen_range(-bound..bound))
        .collect();
    let mut out = Vec::with_capacity(pixels.len() / 784 * OUT_DIM);
    for x in pixels.chunks(784) {
        let y: Vec<f32> = (0..OUT_DIM)
            .map(|j| {
                (0..784)
                    .map(|i| x[i] * w[i * OUT_DIM + j])
                    .sum::<f32>()
                    .max(0.0)
            })
            .collect();
        let norm = y.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        out.extend(y.iter().map(|v| v / norm));
    }
    out
}

/// Writes `tests/out/native-probe.json`, which `tests/browser/probe.test.mjs` compares WebGPU
/// and wasm-CPU results against, and checks what it wrote.
#[test]
fn writes_native_reference_for_browser_tests() {
    let json = reference();
    assert_eq!(json, reference(), "made twice, the same bytes");
    let path = common::root().join("tests/out/native-probe.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &json).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), json);

    // The shape the browser test reads.
    let written: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(written["per_class"], PER_CLASS);
    assert_eq!(written["input_dim"], 784);
    assert_eq!(written["output_dim"], OUT_DIM);
    assert_eq!(written["seed"], SEED);
    let vectors: Vec<f32> = serde_json::from_value(written["vectors"].clone()).unwrap();
    assert_eq!(vectors.len(), 10 * PER_CLASS * OUT_DIM);
    assert!(vectors.iter().all(|v| v.is_finite()));
    for v in vectors.chunks(OUT_DIM) {
        common::assert_unit_norm(v, 1e-5);
    }

    // The values, against the projection computed apart from burn.
    let (pixels, _) = common::mnist(PER_CLASS);
    let plain = plain_projection(&pixels);
    let diff = plain
        .iter()
        .zip(&vectors)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(diff <= 1e-5, "max |burn - plain loops| = {diff}");

    // Each query's top-10: itself first, then the best by cosine over every vector.
    let queries = written["queries"].as_array().unwrap();
    assert_eq!(queries.len(), QUERIES.len());
    let row = |i: usize| &vectors[i * OUT_DIM..(i + 1) * OUT_DIM];
    for (query, &q) in queries.iter().zip(&QUERIES) {
        assert_eq!(query["index"], q);
        let top: Vec<usize> = query["top10"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap().parse().unwrap())
            .collect();
        assert_eq!(top.len(), 10);
        assert_eq!(top[0], q, "a query's nearest is itself");
        let scores: Vec<f64> = top
            .iter()
            .map(|&i| common::cosine(row(q), row(i)))
            .collect();
        assert!(scores.windows(2).all(|s| s[0] >= s[1] - 1e-6), "{scores:?}");
        let best_left_out = (0..vectors.len() / OUT_DIM)
            .filter(|i| !top.contains(i))
            .map(|i| common::cosine(row(q), row(i)))
            .fold(f64::NEG_INFINITY, f64::max);
        assert!(
            scores[9] >= best_left_out - 1e-6,
            "query {q}: {best_left_out} left out"
        );
    }
}

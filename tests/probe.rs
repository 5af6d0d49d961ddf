//! The end-to-end probe, natively: a seeded random projection of real MNIST digits on the CPU
//! backend, indexed and searched exactly. It also writes `tests/out/native-probe.json`, the
//! reference the browser tests compare WebGPU and wasm-CPU results against.

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
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
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

/// Writes the reference for the browser tests (`tests/browser/probe.test.mjs`).
#[test]
fn writes_native_reference_for_browser_tests() {
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
    let reference = serde_json::json!({
        "per_class": PER_CLASS, "input_dim": 784, "output_dim": OUT_DIM, "seed": SEED,
        "vectors": vectors, "queries": queries,
    });
    let dir = common::root().join("tests/out");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("native-probe.json"), reference.to_string()).unwrap();
}

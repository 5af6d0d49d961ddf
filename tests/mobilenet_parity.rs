//! Parity of the burn MobileNetV2 embedder with the reference (@tensorflow/tfjs, CPU backend,
//! on the original nsfwjs model): `tests/fixtures/mobilenet_parity.json`, written by
//! `node scripts/reference-embed.mjs`, over 50 emoji PNGs from npm `emoji-datasource-google`.
//!
//! Needs `weights/mobilenet_v2.{f32,int8}.safetensors` (`node scripts/convert-mobilenet.mjs`)
//! and `node_modules/emoji-datasource-google` (`npm install`).
//!
//! Optional: `SIMIL_MOBILENET_INPUTS=/tmp/mobilenet_inputs.f32` (from
//! `node scripts/reference-embed.mjs --dump-inputs /tmp/mobilenet_inputs.f32`) feeds the exact
//! tfjs input tensors to the network as well, separating the network from preprocessing.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use serde::Deserialize;
use simil::model::preprocess::{self, INPUT_SIZE};
use simil::model::weights::WeightFormat;
use simil::model::{EMBEDDING_DIM, ImageEmbedder};

#[derive(Deserialize)]
struct Fixture {
    image_dir: String,
    images: Vec<FixtureImage>,
}

#[derive(Deserialize)]
struct FixtureImage {
    file: String,
    input_sum: f64,
    input_sumsq: f64,
    input_samples: Vec<(usize, f32)>,
    embedding: Vec<f32>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path, hint: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e} ({hint})", path.display()))
}

fn fixture() -> Fixture {
    let bytes = read(
        &root().join("tests/fixtures/mobilenet_parity.json"),
        "run `node scripts/reference-embed.mjs`",
    );
    serde_json::from_slice(&bytes).expect("fixture JSON")
}

fn load(fixture: &Fixture) -> Vec<image::RgbImage> {
    fixture
        .images
        .iter()
        .map(|img| {
            let path = root().join(&fixture.image_dir).join(&img.file);
            let bytes = read(&path, "run `npm install` (emoji-datasource-google)");
            preprocess::decode_image(&bytes).expect("decode")
        })
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn embedder(file: &str, device: &Device) -> ImageEmbedder {
    let bytes = read(
        &root().join("weights").join(file),
        "run `node scripts/convert-mobilenet.mjs`",
    );
    ImageEmbedder::load(&bytes, device).expect("load weights")
}

/// Embeds preprocessed CHW inputs in batches of 10; returns (min, mean) cosine to the fixture.
fn parity(model: &ImageEmbedder, inputs: &[Vec<f32>], fixture: &Fixture) -> (f64, f64) {
    let mut cos = Vec::new();
    for (chunk, refs) in inputs.chunks(10).zip(fixture.images.chunks(10)) {
        let n = chunk.len();
        let data: Vec<f32> = chunk.concat();
        let x = Tensor::<4>::from_data(
            TensorData::new(data, [n, 3, INPUT_SIZE, INPUT_SIZE]),
            model.device(),
        );
        let y = model
            .forward(x)
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        for (row, r) in y.chunks_exact(EMBEDDING_DIM).zip(refs) {
            cos.push(cosine(row, &r.embedding));
        }
    }
    let min = cos.iter().cloned().fold(f64::INFINITY, f64::min);
    (min, cos.iter().sum::<f64>() / cos.len() as f64)
}

#[test]
fn mobilenet_matches_tfjs() {
    let fixture = fixture();
    assert!(fixture.images.len() >= 50);
    let images = load(&fixture);
    let px = INPUT_SIZE * INPUT_SIZE;

    // 1. Preprocessing, against the tfjs input tensors (NHWC samples and sums).
    let inputs: Vec<Vec<f32>> = images.iter().map(preprocess::image_to_chw).collect();
    let mut worst = 0f32;
    for (chw, r) in inputs.iter().zip(&fixture.images) {
        for &(i, v) in &r.input_samples {
            let (p, c) = (i / 3, i % 3);
            worst = worst.max((chw[c * px + p] - v).abs());
        }
        let sum: f64 = chw.iter().map(|&v| v as f64).sum();
        let sumsq: f64 = chw.iter().map(|&v| (v as f64).powi(2)).sum();
        assert!(
            (sum - r.input_sum).abs() <= 1e-9 * r.input_sum.abs().max(1.0),
            "{}: sum {sum} vs {}",
            r.file,
            r.input_sum
        );
        assert!(
            (sumsq - r.input_sumsq).abs() <= 1e-9 * r.input_sumsq.abs().max(1.0),
            "{}: sumsq",
            r.file
        );
    }
    eprintln!("preprocessing: max |diff| over samples = {worst:e}");
    assert_eq!(worst, 0.0, "preprocessing must match tfjs bit for bit");

    // 2. The network, f32 and int8 weights.
    let device = Device::flex();
    let f32_model = embedder("mobilenet_v2.f32.safetensors", &device);
    assert_eq!(f32_model.weight_format(), WeightFormat::F32);
    let (min, mean) = parity(&f32_model, &inputs, &fixture);
    eprintln!(
        "f32 weights:  min cosine {min:.7} (1 - min = {:.1e}), mean {mean:.7}",
        1.0 - min
    );
    assert!(min >= 0.999, "f32 parity: min cosine {min}");

    let int8_model = embedder("mobilenet_v2.int8.safetensors", &device);
    assert_eq!(int8_model.weight_format(), WeightFormat::Int8PerChannel);
    let (min8, mean8) = parity(&int8_model, &inputs, &fixture);
    eprintln!("int8 weights: min cosine {min8:.6}, mean {mean8:.6}");
    assert!(min8 >= 0.99, "int8 parity: min cosine {min8}");

    // 3. Optionally, the exact tfjs input tensors (NHWC f32) through the network.
    if let Ok(path) = std::env::var("SIMIL_MOBILENET_INPUTS") {
        let raw = read(Path::new(&path), "SIMIL_MOBILENET_INPUTS");
        let vals: Vec<f32> = raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let exact: Vec<Vec<f32>> = vals
            .chunks_exact(px * 3)
            .map(|hwc| preprocess::hwc_to_chw(hwc, px, 3))
            .collect();
        assert_eq!(exact.len(), fixture.images.len());
        let same = exact.iter().zip(&inputs).all(|(a, b)| a == b);
        let (min, _) = parity(&f32_model, &exact, &fixture);
        eprintln!(
            "tfjs inputs (identical to ours: {same}), f32: min cosine {min:.7} (1 - min = {:.1e})",
            1.0 - min
        );
        assert!(min >= 0.999);
    }
}

#[test]
fn embed_batch_is_batch_invariant_and_unit_norm() {
    let fixture = fixture();
    let images = load(&fixture);
    let model = embedder("mobilenet_v2.int8.safetensors", &Device::flex());
    let batch = model.embed_batch(&images[..3]).unwrap();
    let single = model.embed_batch(&images[1..2]).unwrap();
    assert_eq!(batch.len(), 3);
    for v in &batch {
        assert_eq!(v.len(), EMBEDDING_DIM);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
    }
    assert!(cosine(&batch[1], &single[0]) > 0.99999);
}

#[test]
fn rejects_bad_weights() {
    let device = Device::flex();
    assert!(ImageEmbedder::load(b"not a safetensors file", &device).is_err());
    // A valid file with one tensor missing.
    let bytes = read(
        &root().join("weights/mobilenet_v2.f32.safetensors"),
        "convert first",
    );
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let kept: Vec<(String, safetensors::tensor::TensorView)> = st
        .tensors()
        .into_iter()
        .filter(|(n, _)| n != "block_5_depthwise.bias")
        .collect();
    let truncated = safetensors::serialize(kept, None).unwrap();
    let err = ImageEmbedder::load(&truncated, &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("block_5_depthwise.bias"), "{err}");
}

//! Parity of the burn InceptionV3 embedder with the reference (@tensorflow/tfjs, CPU backend,
//! on the original nsfwjs model): `tests/fixtures/inception_parity.json`, written by
//! `node scripts/reference-embed.mjs --model inception_v3`, over 50 emoji PNGs from npm
//! `emoji-datasource-google`, at 299 px.
//!
//! Needs `weights/inception_v3.{f32,int8}.safetensors` (`node scripts/convert-inception.mjs`)
//! and `node_modules/emoji-datasource-google` (`npm ci`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use serde::Deserialize;
use simil::model::preprocess;
use simil::model::weights::WeightFormat;
use simil::model::{Architecture, ImageEmbedder, inception};

#[derive(Deserialize)]
struct Fixture {
    image_dir: String,
    tap: String,
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
        &root().join("tests/fixtures/inception_parity.json"),
        "run `node scripts/reference-embed.mjs --model inception_v3`",
    );
    serde_json::from_slice(&bytes).expect("fixture JSON")
}

fn weights(format: &str) -> Vec<u8> {
    read(
        &root().join(format!("weights/inception_v3.{format}.safetensors")),
        "run `node scripts/convert-inception.mjs`",
    )
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// Embeds the preprocessed inputs; returns (min, mean) cosine to the fixture.
fn parity(model: &ImageEmbedder, inputs: &[Vec<f32>], fixture: &Fixture) -> (f64, f64) {
    let size = model.input_size();
    let mut cos = Vec::new();
    for (chunk, refs) in inputs.chunks(10).zip(fixture.images.chunks(10)) {
        let x = preprocess::chw_to_tensor_sized(chunk.concat(), size, model.device());
        let y = model
            .forward(x)
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        for (row, r) in y.chunks_exact(model.dim()).zip(refs) {
            cos.push(cosine(row, &r.embedding));
        }
    }
    let min = cos.iter().cloned().fold(f64::INFINITY, f64::min);
    (min, cos.iter().sum::<f64>() / cos.len() as f64)
}

#[test]
fn inception_matches_tfjs() {
    let fixture = fixture();
    assert!(fixture.images.len() >= 50);
    let size = inception::INPUT_SIZE;
    let px = size * size;

    // 1. Preprocessing at 299 px, against the tfjs input tensors (NHWC samples and sums).
    let inputs: Vec<Vec<f32>> = fixture
        .images
        .iter()
        .map(|img| {
            let path = root().join(&fixture.image_dir).join(&img.file);
            let bytes = read(&path, "run `npm ci` (emoji-datasource-google)");
            preprocess::image_to_chw_sized(&preprocess::decode_image(&bytes).unwrap(), size)
        })
        .collect();
    for (chw, r) in inputs.iter().zip(&fixture.images) {
        for &(i, v) in &r.input_samples {
            let (p, c) = (i / 3, i % 3);
            assert_eq!(chw[c * px + p], v, "{}: input value {i}", r.file);
        }
        let sum: f64 = chw.iter().map(|&v| v as f64).sum();
        let sumsq: f64 = chw.iter().map(|&v| (v as f64).powi(2)).sum();
        assert!(
            (sum - r.input_sum).abs() <= 1e-9 * r.input_sum.abs().max(1.0),
            "{}: sum",
            r.file
        );
        assert!(
            (sumsq - r.input_sumsq).abs() <= 1e-9 * r.input_sumsq.abs().max(1.0),
            "{}: sumsq",
            r.file
        );
    }

    // 2. The network to the fixture's tap, f32 and int8 weights.
    let device = Device::flex();
    let f32_model = ImageEmbedder::load(&weights("f32"), &device).expect("load f32");
    assert_eq!(f32_model.architecture(), Architecture::InceptionV3);
    assert_eq!(f32_model.weight_format(), WeightFormat::F32);
    assert_eq!(f32_model.dim(), fixture.images[0].embedding.len());
    let (min, mean) = parity(&f32_model, &inputs, &fixture);
    eprintln!(
        "InceptionV3 {} f32: min cosine {min:.7} (1 - min = {:.1e}), mean {mean:.7}",
        fixture.tap,
        1.0 - min
    );
    assert!(min >= 0.999, "f32 parity: min cosine {min}");

    // The decoded-image path (resize inside the embedder) gives the same vectors.
    let decoded: Vec<image::RgbImage> = fixture.images[..2]
        .iter()
        .map(|img| {
            let bytes = read(&root().join(&fixture.image_dir).join(&img.file), "npm ci");
            preprocess::decode_image(&bytes).unwrap()
        })
        .collect();
    for (v, r) in f32_model
        .embed_batch(&decoded)
        .unwrap()
        .iter()
        .zip(&fixture.images)
    {
        assert!(cosine(v, &r.embedding) >= 0.999, "{}: embed_batch", r.file);
    }

    let int8_model = ImageEmbedder::load(&weights("int8"), &device).expect("load int8");
    assert_eq!(int8_model.weight_format(), WeightFormat::Int8PerChannel);
    let (min8, mean8) = parity(&int8_model, &inputs, &fixture);
    eprintln!("InceptionV3 int8: min cosine {min8:.6}, mean {mean8:.6}");
    assert!(min8 >= 0.99, "int8 parity: min cosine {min8}");
}

/// Re-serialises the int8 file with other metadata.
fn with_metadata(meta: &[(&str, &str)]) -> Vec<u8> {
    let bytes = weights("int8");
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let meta: HashMap<String, String> = meta
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    safetensors::serialize(st.tensors(), Some(meta)).unwrap()
}

#[test]
fn int8_file_is_at_most_30_percent_of_f32() {
    let (f32_len, int8_len) = (weights("f32").len(), weights("int8").len());
    eprintln!("inception_v3 weights: f32 {f32_len} bytes, int8 {int8_len} bytes");
    assert!(
        int8_len * 10 <= f32_len * 3,
        "int8 {int8_len} vs f32 {f32_len}"
    );
}

#[test]
fn the_metadata_picks_the_network_and_is_checked() {
    let device = Device::flex();
    let err = |bytes: Vec<u8>| {
        ImageEmbedder::load(&bytes, &device)
            .unwrap_err()
            .to_string()
    };
    let unknown = err(with_metadata(&[("model", "resnet50")]));
    assert!(unknown.contains("unknown model `resnet50`"), "{unknown}");
    let no_tap = err(with_metadata(&[("model", "inception_v3")]));
    assert!(no_tap.contains("no `tap`"), "{no_tap}");
    let bad_tap = err(with_metadata(&[
        ("model", "inception_v3"),
        ("tap", "mixed11"),
    ]));
    assert!(
        bad_tap.contains("unknown InceptionV3 tap `mixed11`"),
        "{bad_tap}"
    );
    // Without metadata the file is read as MobileNetV2, whose tensors it lacks.
    let as_mobilenet = err(with_metadata(&[]));
    assert!(
        as_mobilenet.contains("lacks tensor `Conv1.weight`"),
        "{as_mobilenet}"
    );
    // A file tapping a later block than it holds lacks that block's convolutions.
    let later = fixture_tap_after();
    let short = err(with_metadata(&[("model", "inception_v3"), ("tap", &later)]));
    assert!(short.contains("lacks tensor `conv2d_"), "{short}");
}

fn fixture_tap_after() -> String {
    let tap = fixture().tap;
    inception::TAPS[inception::tap_index(&tap).unwrap() + 1].to_string()
}

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

mod common;

use burn::prelude::*;
use common::{ImageFixture, cosine, read};
use simil::model::preprocess::{self, INPUT_SIZE};
use simil::model::weights::WeightFormat;
use simil::model::{EMBEDDING_DIM, ImageEmbedder};

fn fixture() -> ImageFixture {
    ImageFixture::read(
        "mobilenet_parity.json",
        "run `node scripts/reference-embed.mjs`",
    )
}

fn embedder(file: &str, device: &Device) -> ImageEmbedder {
    let bytes = read(
        format!("weights/{file}"),
        "run `node scripts/convert-mobilenet.mjs`",
    );
    ImageEmbedder::load(&bytes, device).expect("load weights")
}

#[test]
fn mobilenet_matches_tfjs() {
    let fixture = fixture();
    assert!(fixture.images.len() >= 50);
    let images = fixture.decoded(fixture.images.len());
    let px = INPUT_SIZE * INPUT_SIZE;

    // 1. Preprocessing, against the tfjs input tensors (NHWC samples bit for bit, and sums).
    let inputs: Vec<Vec<f32>> = images.iter().map(preprocess::image_to_chw).collect();
    fixture.check_inputs(&inputs, INPUT_SIZE);

    // 2. The network, f32 and int8 weights.
    let device = Device::flex();
    let f32_model = embedder("mobilenet_v2.f32.safetensors", &device);
    assert_eq!(f32_model.weight_format(), WeightFormat::F32);
    let (min, mean) = fixture.parity(&f32_model, &inputs);
    eprintln!(
        "f32 weights:  min cosine {min:.7} (1 - min = {:.1e}), mean {mean:.7}",
        1.0 - min
    );
    assert!(min >= 0.999, "f32 parity: min cosine {min}");

    let int8_model = embedder("mobilenet_v2.int8.safetensors", &device);
    assert_eq!(int8_model.weight_format(), WeightFormat::Int8PerChannel);
    let (min8, mean8) = fixture.parity(&int8_model, &inputs);
    eprintln!("int8 weights: min cosine {min8:.6}, mean {mean8:.6}");
    assert!(min8 >= 0.99, "int8 parity: min cosine {min8}");

    // 3. Optionally, the exact tfjs input tensors (NHWC f32) through the network.
    if let Ok(path) = std::env::var("SIMIL_MOBILENET_INPUTS") {
        let raw = read(&path, "SIMIL_MOBILENET_INPUTS");
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
        let (min, _) = fixture.parity(&f32_model, &exact);
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
    let images = fixture.decoded(3);
    let model = embedder("mobilenet_v2.int8.safetensors", &Device::flex());
    let batch = model.embed_batch(&images[..3]).unwrap();
    let single = model.embed_batch(&images[1..2]).unwrap();
    assert_eq!(batch.len(), 3);
    for v in &batch {
        assert_eq!(v.len(), EMBEDDING_DIM);
        common::assert_unit_norm(v, 1e-4);
    }
    assert!(cosine(&batch[1], &single[0]) > 0.99999);
}

#[test]
fn rejects_bad_weights() {
    let device = Device::flex();
    assert!(ImageEmbedder::load(b"not a safetensors file", &device).is_err());
    // A valid file with one tensor missing.
    let bytes = read("weights/mobilenet_v2.f32.safetensors", "convert first");
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

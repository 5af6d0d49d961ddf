//! Parity of the burn InceptionV3 embedder with the reference (@tensorflow/tfjs, CPU backend,
//! on the original nsfwjs model): `tests/fixtures/inception_parity.json`, written by
//! `node scripts/reference-embed.mjs --model inception_v3`, over 50 emoji PNGs from npm
//! `emoji-datasource-google`, at 299 px.
//!
//! Needs `weights/inception_v3.{f32,int8}.safetensors` (`node scripts/convert-inception.mjs`)
//! and `node_modules/emoji-datasource-google` (`npm ci`).

mod common;

use std::collections::HashMap;

use burn::prelude::*;
use common::{ImageFixture, cosine, read};
use simil::model::preprocess;
use simil::model::weights::WeightFormat;
use simil::model::{Architecture, ImageEmbedder, inception};

fn fixture() -> ImageFixture {
    ImageFixture::read(
        "inception_parity.json",
        "run `node scripts/reference-embed.mjs --model inception_v3`",
    )
}

fn weights(format: &str) -> Vec<u8> {
    read(
        format!("weights/inception_v3.{format}.safetensors"),
        "run `node scripts/convert-inception.mjs`",
    )
}

#[test]
fn inception_matches_tfjs() {
    let fixture = fixture();
    assert!(fixture.images.len() >= 50);
    let size = inception::INPUT_SIZE;

    // 1. Preprocessing at 299 px, against the tfjs input tensors (NHWC samples bit for bit,
    // and sums).
    let inputs: Vec<Vec<f32>> = fixture
        .decoded(fixture.images.len())
        .iter()
        .map(|img| preprocess::image_to_chw_sized(img, size))
        .collect();
    fixture.check_inputs(&inputs, size);

    // 2. The network to the fixture's tap, f32 and int8 weights.
    let device = Device::flex();
    let f32_model = ImageEmbedder::load(&weights("f32"), &device).expect("load f32");
    assert_eq!(f32_model.architecture(), Architecture::InceptionV3);
    assert_eq!(f32_model.weight_format(), WeightFormat::F32);
    assert_eq!(f32_model.dim(), fixture.images[0].embedding.len());
    let (min, mean) = fixture.parity(&f32_model, &inputs);
    eprintln!(
        "InceptionV3 {} f32: min cosine {min:.7} (1 - min = {:.1e}), mean {mean:.7}",
        fixture.tap,
        1.0 - min
    );
    assert!(min >= 0.999, "f32 parity: min cosine {min}");

    // The decoded-image path (resize inside the embedder) gives the same vectors.
    let decoded = fixture.decoded(2);
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
    let (min8, mean8) = fixture.parity(&int8_model, &inputs);
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

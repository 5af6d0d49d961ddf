//! Each loss against a plain-loop implementation written from the papers' definitions (f64,
//! no tensors), on a tiny batch, for every distance; and autodiff gradients against central
//! finite differences of those loops.

use super::*;

/// Six points in 3-d: two of class 0, three of class 1, one of class 2 (no positive). No two
/// distances from one point are equal, so the mined choices are not ties.
fn batch() -> (Vec<f64>, Vec<u32>) {
    let x = vec![
        0.9, 0.1, 0.2, //
        0.7, 0.4, -0.1, //
        -0.3, 0.8, 0.5, //
        0.1, 0.9, -0.2, //
        0.62, 0.47, 0.33, //
        -0.5, -0.4, 0.9,
    ];
    (x, vec![0, 0, 1, 1, 1, 2])
}

const DIM: usize = 3;

fn dist(x: &[f64], i: usize, j: usize, distance: Distance) -> f64 {
    let a = &x[i * DIM..(i + 1) * DIM];
    let b = &x[j * DIM..(j + 1) * DIM];
    let dot = |u: &[f64], v: &[f64]| u.iter().zip(v).map(|(p, q)| p * q).sum::<f64>();
    match distance {
        Distance::Cosine => 1.0 - dot(a, b) / (dot(a, a).sqrt() * dot(b, b).sqrt()),
        Distance::SquaredL2 => a.iter().zip(b).map(|(p, q)| (p - q).powi(2)).sum(),
        Distance::L2 => a
            .iter()
            .zip(b)
            .map(|(p, q)| (p - q).powi(2))
            .sum::<f64>()
            .sqrt(),
    }
}

fn hinge(v: f64) -> f64 {
    v.max(0.0)
}

/// The loss, from its definition, with loops.
fn reference(loss: &Loss, distance: Distance, x: &[f64], labels: &[u32]) -> f64 {
    reference_at(loss, distance, x, x, labels)
}

/// [`reference`], with circle loss's self-paced weights taken at `weights_x`: the paper
/// treats them as constants in the gradient, so finite differences must hold them still.
fn reference_at(
    loss: &Loss,
    distance: Distance,
    x: &[f64],
    weights_x: &[f64],
    labels: &[u32],
) -> f64 {
    let n = labels.len();
    let d = |i: usize, j: usize| dist(x, i, j, distance);
    let s = |i: usize, j: usize| 1.0 - d(i, j);
    let sw = |i: usize, j: usize| 1.0 - dist(weights_x, i, j, distance);
    let positives = |i: usize| (0..n).filter(move |&j| j != i && labels[j] == labels[i]);
    let negatives = |i: usize| (0..n).filter(move |&j| labels[j] != labels[i]);
    let mut total = 0.0;
    let mut count = 0usize;
    match *loss {
        Loss::Contrastive { margin } => {
            for i in 0..n {
                for j in (0..n).filter(|&j| j != i) {
                    total += if labels[i] == labels[j] {
                        d(i, j).powi(2)
                    } else {
                        hinge(margin as f64 - d(i, j)).powi(2)
                    };
                    count += 1;
                }
            }
        }
        Loss::Triplet { margin, mining } => {
            let m = margin as f64;
            for a in 0..n {
                if negatives(a).count() == 0 {
                    continue;
                }
                match mining {
                    Mining::BatchHard => {
                        let Some(hp) = positives(a).map(|p| d(a, p)).reduce(f64::max) else {
                            continue;
                        };
                        let hn = negatives(a).map(|q| d(a, q)).reduce(f64::min).unwrap();
                        total += hinge(hp - hn + m);
                        count += 1;
                    }
                    Mining::SemiHard => {
                        for p in positives(a) {
                            let dap = d(a, p);
                            let semi = negatives(a)
                                .map(|q| d(a, q))
                                .filter(|&dq| dq > dap)
                                .reduce(f64::min);
                            let dn = semi.unwrap_or_else(|| {
                                negatives(a).map(|q| d(a, q)).reduce(f64::max).unwrap()
                            });
                            total += hinge(dap - dn + m);
                            count += 1;
                        }
                    }
                    Mining::BatchAll => {
                        for p in positives(a) {
                            for q in negatives(a) {
                                total += hinge(d(a, p) - d(a, q) + m);
                                count += 1;
                            }
                        }
                    }
                }
            }
        }
        Loss::Pn { margin } => {
            for a in 0..n {
                let Some(p) = positives(a).max_by(|&u, &v| d(a, u).total_cmp(&d(a, v))) else {
                    continue;
                };
                if negatives(a).count() == 0 {
                    continue;
                }
                let hn = negatives(a)
                    .map(|q| d(a, q).min(d(p, q)))
                    .reduce(f64::min)
                    .unwrap();
                total += hinge(d(a, p) - hn + margin as f64);
                count += 1;
            }
        }
        Loss::MultiSimilarity {
            alpha,
            beta,
            lambda,
            epsilon,
        } => {
            let (alpha, beta, lambda, eps) =
                (alpha as f64, beta as f64, lambda as f64, epsilon as f64);
            for i in 0..n {
                let max_neg = negatives(i).map(|q| s(i, q)).fold(f64::MIN, f64::max);
                let min_pos = positives(i).map(|p| s(i, p)).fold(f64::MAX, f64::min);
                let pos: f64 = positives(i)
                    .filter(|&p| s(i, p) - eps < max_neg)
                    .map(|p| (-alpha * (s(i, p) - lambda)).exp())
                    .sum();
                let neg: f64 = negatives(i)
                    .filter(|&q| s(i, q) + eps > min_pos)
                    .map(|q| (beta * (s(i, q) - lambda)).exp())
                    .sum();
                total += (1.0 + pos).ln() / alpha + (1.0 + neg).ln() / beta;
                count += 1;
            }
        }
        Loss::Circle { margin, gamma } => {
            let (m, g) = (margin as f64, gamma as f64);
            for i in 0..n {
                if positives(i).count() == 0 || negatives(i).count() == 0 {
                    continue;
                }
                let pos: f64 = positives(i)
                    .map(|p| {
                        let ap = hinge(1.0 + m - sw(i, p));
                        (-g * ap * (s(i, p) - (1.0 - m))).exp()
                    })
                    .sum();
                let neg: f64 = negatives(i)
                    .map(|q| {
                        let an = hinge(sw(i, q) + m);
                        (g * an * (s(i, q) - m)).exp()
                    })
                    .sum();
                total += (1.0 + pos * neg).ln();
                count += 1;
            }
        }
        Loss::SupervisedContrastive { temperature } => {
            let t = temperature as f64;
            for i in 0..n {
                let ps: Vec<usize> = positives(i).collect();
                if ps.is_empty() {
                    continue;
                }
                let denominator: f64 = (0..n)
                    .filter(|&a| a != i)
                    .map(|a| (-d(i, a) / t).exp())
                    .sum();
                let sum: f64 = ps
                    .iter()
                    .map(|&p| ((-d(i, p) / t).exp() / denominator).ln())
                    .sum();
                total += -sum / ps.len() as f64;
                count += 1;
            }
        }
    }
    if count == 0 {
        0.0
    } else {
        total / count as f64
    }
}

fn all_losses() -> Vec<Loss> {
    vec![
        Loss::Contrastive { margin: 0.5 },
        Loss::Triplet {
            margin: 0.2,
            mining: Mining::BatchHard,
        },
        Loss::Triplet {
            margin: 0.2,
            mining: Mining::SemiHard,
        },
        Loss::Triplet {
            margin: 0.2,
            mining: Mining::BatchAll,
        },
        Loss::MultiSimilarity {
            alpha: 2.0,
            beta: 10.0,
            lambda: 0.5,
            epsilon: 0.1,
        },
        Loss::Circle {
            margin: 0.25,
            gamma: 4.0,
        },
        Loss::SupervisedContrastive { temperature: 0.5 },
        Loss::Pn { margin: 0.2 },
    ]
}

const DISTANCES: [Distance; 3] = [Distance::Cosine, Distance::L2, Distance::SquaredL2];

fn tensor(x: &[f64], device: &Device) -> Tensor<2> {
    let v: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    Tensor::from_data(TensorData::new(v, [x.len() / DIM, DIM]), device)
}

fn value(loss: &Loss, distance: Distance, x: &[f64], labels: &[u32]) -> f64 {
    let t = tensor(x, &Device::flex());
    let out = compute(loss, distance, t, labels).unwrap();
    f64::from(out.into_scalar::<f32>())
}

#[test]
fn every_loss_matches_its_definition_for_every_distance() {
    let (x, labels) = batch();
    for loss in all_losses() {
        for distance in DISTANCES {
            let expected = reference(&loss, distance, &x, &labels);
            let got = value(&loss, distance, &x, &labels);
            assert!(
                (got - expected).abs() <= 1e-4 * (1.0 + expected.abs()),
                "{} / {distance:?}: got {got}, expected {expected}",
                loss.name()
            );
        }
    }
}

#[test]
fn losses_are_not_trivially_zero_on_the_test_batch() {
    // The comparisons above would pass vacuously if everything were 0.
    let (x, labels) = batch();
    for loss in all_losses() {
        assert!(reference(&loss, Distance::Cosine, &x, &labels) > 1e-3);
    }
}

#[test]
fn contrastive_loss_by_hand_on_two_pairs() {
    // 1-d points 0, 0.3 (class 0) and 1.0 (class 1), squared L2, margin 1:
    // pairs (ordered): 0-0.3 pos d=0.09 → 0.0081 (×2); 0-1 neg d=1 → 0 (×2);
    // 0.3-1 neg d=0.49 → 0.51² = 0.2601 (×2). Mean over 6 = (0.0162 + 0.5202) / 6.
    let device = Device::flex();
    let x = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 0.3, 1.0], [3, 1]), &device);
    let got = compute(
        &Loss::Contrastive { margin: 1.0 },
        Distance::SquaredL2,
        x,
        &[0, 0, 1],
    )
    .unwrap()
    .into_scalar::<f32>();
    assert!((got - (0.0162 + 0.5202) / 6.0).abs() < 1e-5, "{got}");
}

#[test]
fn gradients_match_finite_differences() {
    let (x, labels) = batch();
    let device = Device::flex().autodiff();
    let h = 1e-5;
    for loss in all_losses() {
        for distance in [Distance::Cosine, Distance::L2] {
            let input = tensor(&x, &device).require_grad();
            let out = compute(&loss, distance, input.clone(), &labels).unwrap();
            let grads = out.backward();
            let grad: Vec<f32> = input
                .grad(&grads)
                .expect("gradient")
                .into_data()
                .try_into_vec::<f32>()
                .unwrap();
            for k in 0..x.len() {
                let mut plus = x.clone();
                plus[k] += h;
                let mut minus = x.clone();
                minus[k] -= h;
                let numeric = (reference_at(&loss, distance, &plus, &x, &labels)
                    - reference_at(&loss, distance, &minus, &x, &labels))
                    / (2.0 * h);
                assert!(
                    (f64::from(grad[k]) - numeric).abs() <= 2e-3 * (1.0 + numeric.abs()),
                    "{} / {distance:?}, coordinate {k}: autodiff {}, numeric {numeric}",
                    loss.name(),
                    grad[k]
                );
            }
        }
    }
}

#[test]
fn mismatched_labels_are_an_error() {
    let x = Tensor::<2>::zeros([3, 2], &Device::flex());
    let err = compute(&Loss::Pn { margin: 0.1 }, Distance::L2, x, &[0, 1]).unwrap_err();
    assert!(matches!(err, TrainError::BatchShape { rows: 3, labels: 2 }));
}

#[test]
fn loss_names_round_trip() {
    for loss in all_losses() {
        assert_eq!(Loss::from_name(loss.name()).unwrap().name(), loss.name());
    }
    assert!(Loss::from_name("nope").is_err());
}

/// The source-neighbour term from its definition, with loops: per item with neighbours of
/// other labels, KL(softmax of the source's cosines ‖ softmax of the embeddings' cosines)
/// over those neighbours.
fn source_neighbours_reference(source: &[f64], x: &[f64], labels: &[u32], t: f64) -> f64 {
    let n = labels.len();
    let (mut total, mut count) = (0.0, 0);
    for i in 0..n {
        let others: Vec<usize> = (0..n).filter(|&j| labels[j] != labels[i]).collect();
        if others.is_empty() {
            continue;
        }
        let soft = |rows: &[f64]| -> Vec<f64> {
            let s: Vec<f64> = others
                .iter()
                .map(|&j| (1.0 - dist(rows, i, j, Distance::Cosine)) / t)
                .collect();
            let z: f64 = s.iter().map(|v| v.exp()).sum();
            s.iter().map(|v| v.exp() / z).collect()
        };
        let (p, q) = (soft(source), soft(x));
        total += p.iter().zip(&q).map(|(a, b)| a * (a / b).ln()).sum::<f64>();
        count += 1;
    }
    total / count as f64
}

#[test]
fn the_source_neighbour_term_matches_its_definition_and_its_gradient() {
    let (x, labels) = batch();
    // The source: the batch turned a little, so the term is not zero.
    let source: Vec<f64> = x
        .chunks(DIM)
        .flat_map(|r| [r[0] + 0.3 * r[1], r[1], r[2] - 0.2 * r[0]])
        .collect();
    let device = Device::flex().autodiff();
    let input = tensor(&x, &device).require_grad();
    let out = source_neighbours(tensor(&source, &device), input.clone(), &labels, 0.5).unwrap();
    let expected = source_neighbours_reference(&source, &x, &labels, 0.5);
    let got = f64::from(out.clone().into_scalar::<f32>());
    assert!(expected > 1e-3, "{expected}");
    assert!(
        (got - expected).abs() <= 1e-4 * (1.0 + expected),
        "{got} vs {expected}"
    );
    // Zero when the embeddings rank the other labels' items as the source does.
    let same = source_neighbours(tensor(&x, &device), tensor(&x, &device), &labels, 0.5).unwrap();
    assert!(same.into_scalar::<f32>().abs() < 1e-6);
    let grad: Vec<f32> = input
        .grad(&out.backward())
        .expect("gradient")
        .into_data()
        .try_into_vec::<f32>()
        .unwrap();
    let h = 1e-5;
    for k in 0..x.len() {
        let (mut plus, mut minus) = (x.clone(), x.clone());
        plus[k] += h;
        minus[k] -= h;
        let numeric = (source_neighbours_reference(&source, &plus, &labels, 0.5)
            - source_neighbours_reference(&source, &minus, &labels, 0.5))
            / (2.0 * h);
        assert!(
            (f64::from(grad[k]) - numeric).abs() <= 2e-3 * (1.0 + numeric.abs()),
            "coordinate {k}: autodiff {}, numeric {numeric}",
            grad[k]
        );
    }
    let three = Tensor::<2>::zeros([3, 2], &Device::flex());
    assert!(source_neighbours(three.clone(), three, &[0, 1], 0.5).is_err());
}

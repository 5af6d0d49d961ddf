//! Text→image alignment trained on-device, LiT-style: the image and text encoders stay frozen
//! and only two small linear heads are trained, one per side, with the symmetric contrastive
//! (InfoNCE / CLIP) loss on `(image vector, text vector)` pairs the user has (labels, file
//! names, captions). After training, a text query projected by the text head lands near the
//! projected vectors of matching images; zero-shot labelling (an image → the best of N label
//! texts) uses the same space.
//!
//! Training runs in burn with autodiff on any device (`Device::flex()` natively); the update is
//! Adam, written out here on the two weight matrices. (The general trainer, losses and miners
//! live in their own module; this is the one loss alignment needs.)

use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::error::ModelError;

/// Training settings of an [`Aligner`].
#[derive(Clone, Debug)]
pub struct AlignerConfig {
    /// Width of the joint space.
    pub dim: usize,
    /// Passes over the pairs.
    pub epochs: usize,
    /// Pairs per step (each pair's other pairs in the batch are its negatives).
    pub batch_size: usize,
    /// Adam learning rate.
    pub learning_rate: f32,
    /// Softmax temperature of the contrastive loss.
    pub temperature: f32,
    /// L2 penalty on the weights (decoupled, as AdamW).
    pub weight_decay: f32,
    /// Seed of the initialisation and the batch order.
    pub seed: u64,
}

impl Default for AlignerConfig {
    fn default() -> Self {
        AlignerConfig {
            dim: 256,
            epochs: 60,
            batch_size: 256,
            learning_rate: 1e-3,
            temperature: 0.05,
            weight_decay: 1e-4,
            seed: 0,
        }
    }
}

/// Two trained linear heads mapping frozen image and text vectors into one unit-norm space.
#[derive(Clone, Debug)]
pub struct Aligner {
    image: Tensor<2>,
    text: Tensor<2>,
    device: Device,
}

/// Adam moments of one matrix.
struct Moments {
    m: Tensor<2>,
    v: Tensor<2>,
}

fn rows_tensor(values: &[f32], dim: usize, device: &Device) -> Tensor<2> {
    let n = values.len() / dim;
    Tensor::from_data(TensorData::new(values.to_vec(), [n, dim]), device)
}

fn unit_rows(x: Tensor<2>) -> Tensor<2> {
    crate::model::l2_normalize(x)
}

/// Symmetric InfoNCE: mean of the cross-entropies image→text and text→image, the matching
/// pair (the diagonal) being the target; `a`, `b` unit rows `[n, d]`.
pub fn symmetric_info_nce(a: Tensor<2>, b: Tensor<2>, temperature: f32) -> Tensor<1> {
    let n = a.dims()[0];
    let logits = a.matmul(b.transpose()) / temperature;
    let eye = Tensor::<2>::eye(n, &logits.device());
    let rows = (log_softmax(logits.clone(), 1) * eye.clone()).sum();
    let cols = (log_softmax(logits, 0) * eye).sum();
    (rows + cols) / (-2.0 * n as f32)
}

impl Aligner {
    /// Trains the heads on `n` pairs: `images` `n × image_dim` and `texts` `n × text_dim`,
    /// row-major (row `i` of each is one pair). Returns the aligner (on `device`, without
    /// autodiff) and the mean loss of each epoch.
    pub fn train(
        images: &[f32],
        image_dim: usize,
        texts: &[f32],
        text_dim: usize,
        config: &AlignerConfig,
        device: &Device,
    ) -> Result<(Aligner, Vec<f32>), ModelError> {
        let n = images.len() / image_dim.max(1);
        if image_dim == 0 || text_dim == 0 || images.len() != n * image_dim {
            return Err(ModelError::InvalidConfig(
                "aligner: image rows do not match image_dim".into(),
            ));
        }
        if texts.len() != n * text_dim {
            return Err(ModelError::InvalidConfig(format!(
                "aligner: {n} images but {} texts",
                texts.len() / text_dim
            )));
        }
        if n < 2 || config.batch_size < 2 || config.dim == 0 || config.temperature <= 0.0 {
            return Err(ModelError::InvalidConfig(
                "aligner: needs at least 2 pairs, batch_size >= 2, dim >= 1, temperature > 0"
                    .into(),
            ));
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(config.seed);
        let init = |rows: usize, rng: &mut rand_chacha::ChaCha8Rng| {
            use rand::Rng;
            let scale = (1.0 / rows as f32).sqrt();
            let values: Vec<f32> = (0..rows * config.dim)
                .map(|_| rng.gen_range(-scale..scale))
                .collect();
            Tensor::<2>::from_data(TensorData::new(values, [rows, config.dim]), device)
        };
        let mut weights = [init(image_dim, &mut rng), init(text_dim, &mut rng)];
        let mut moments = weights.clone().map(|w| Moments {
            m: w.zeros_like(),
            v: w.zeros_like(),
        });
        let all_images = rows_tensor(images, image_dim, device);
        let all_texts = rows_tensor(texts, text_dim, device);
        let (beta1, beta2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        let mut order: Vec<usize> = (0..n).collect();
        let mut losses = Vec::with_capacity(config.epochs);
        let mut t = 0i32;
        for _ in 0..config.epochs {
            order.shuffle(&mut rng);
            let mut epoch_loss = 0.0;
            let mut steps = 0;
            for batch in order.chunks(config.batch_size) {
                if batch.len() < 2 {
                    continue;
                }
                let idx = Tensor::<1, Int>::from_data(
                    TensorData::new(batch.iter().map(|&i| i as i32).collect(), [batch.len()]),
                    device,
                );
                let xi = all_images.clone().select(0, idx.clone());
                let xt = all_texts.clone().select(0, idx);
                let tracked = weights.clone().map(|w| w.autodiff().require_grad());
                let zi = unit_rows(xi.autodiff().matmul(tracked[0].clone()));
                let zt = unit_rows(xt.autodiff().matmul(tracked[1].clone()));
                let loss = symmetric_info_nce(zi, zt, config.temperature);
                let grads = loss.backward();
                epoch_loss += loss.inner().into_scalar::<f32>();
                steps += 1;
                t += 1;
                for (k, w) in tracked.iter().enumerate() {
                    let g = w
                        .grad(&grads)
                        .expect("heads take part in the loss")
                        .without_autodiff();
                    let mo = &mut moments[k];
                    mo.m = mo.m.clone() * beta1 + g.clone() * (1.0 - beta1);
                    mo.v = mo.v.clone() * beta2 + g.powi_scalar(2) * (1.0 - beta2);
                    let m_hat = mo.m.clone() / (1.0 - beta1.powi(t));
                    let v_hat = mo.v.clone() / (1.0 - beta2.powi(t));
                    let step = m_hat / (v_hat.sqrt() + eps);
                    let w0 = weights[k].clone();
                    weights[k] = w0.clone() * (1.0 - config.learning_rate * config.weight_decay)
                        - step * config.learning_rate;
                }
            }
            losses.push(epoch_loss / steps.max(1) as f32);
        }
        let [image, text] = weights;
        Ok((
            Aligner {
                image,
                text,
                device: device.clone(),
            },
            losses,
        ))
    }

    /// Projects image vectors (`n × image_dim`, row-major) into the joint space: unit rows.
    pub fn project_images(&self, images: &[f32]) -> Vec<f32> {
        self.project(&self.image, images)
    }

    /// Projects text vectors (`n × text_dim`, row-major) into the joint space: unit rows.
    pub fn project_texts(&self, texts: &[f32]) -> Vec<f32> {
        self.project(&self.text, texts)
    }

    /// Width of the joint space.
    pub fn dim(&self) -> usize {
        self.image.dims()[1]
    }

    /// The two heads in simil's saved head format (`[image head, text head]`, linear, no
    /// hidden layer): a collection installs them as a learned field and its text head
    /// (`Collection::learn_aligned_field`), so that words search images in the browser without
    /// burn.
    pub fn save_heads(&self) -> Result<[Vec<u8>; 2], simil_search::head::HeadError> {
        let save = |head: &Tensor<2>| {
            let [input, output] = head.dims();
            let weight = (head.clone().into_data().convert::<f32>())
                .try_into_vec::<f32>()
                .expect("f32 data");
            let config = simil_search::head::HeadConfig {
                input,
                hidden: vec![],
                output,
            };
            simil_search::head::write_saved(&config, &[(weight, vec![0.0; output])])
        };
        Ok([save(&self.image)?, save(&self.text)?])
    }

    fn project(&self, head: &Tensor<2>, rows: &[f32]) -> Vec<f32> {
        let [input, _] = head.dims();
        if rows.is_empty() {
            return Vec::new();
        }
        let x = rows_tensor(rows, input, &self.device);
        unit_rows(x.matmul(head.clone()))
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .expect("f32 data")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn saved_heads_project_as_the_aligner_does() {
        let config = AlignerConfig {
            epochs: 2,
            ..AlignerConfig::default()
        };
        let (images, texts) = pairs(64, 1);
        let device = Device::flex();
        let (aligner, _) = Aligner::train(&images, 24, &texts, 16, &config, &device).unwrap();
        let [image_head, text_head] = aligner.save_heads().unwrap();
        let image_head = simil_search::head::DenseHead::from_safetensors(&image_head).unwrap();
        let text_head = simil_search::head::DenseHead::from_safetensors(&text_head).unwrap();
        let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5);
        assert!(close(
            &image_head.apply_rows(&images),
            &aligner.project_images(&images)
        ));
        assert!(close(
            &text_head.apply_rows(&texts),
            &aligner.project_texts(&texts)
        ));
    }

    /// Pairs that share a hidden 8-d latent seen through two different random linear maps
    /// plus noise, as two frozen encoders of one thing would be.
    fn pairs(n: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(99);
        let (di, dt, k) = (24, 16, 8);
        let a: Vec<f32> = (0..k * di).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let b: Vec<f32> = (0..k * dt).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let (mut xi, mut xt) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let z: Vec<f32> = (0..k).map(|_| rng.gen_range(-1.0..1.0)).collect();
            for (d, map, out) in [(di, &a, &mut xi), (dt, &b, &mut xt)] {
                for j in 0..d {
                    let v: f32 = (0..k).map(|l| z[l] * map[l * d + j]).sum();
                    out.push(v + rng.gen_range(-0.05..0.05));
                }
            }
        }
        (xi, xt)
    }

    fn recall_at_1(a: &[f32], b: &[f32], d: usize) -> f32 {
        let n = a.len() / d;
        let hits = (0..n)
            .filter(|&i| {
                let q = &a[i * d..(i + 1) * d];
                let best = (0..n)
                    .max_by(|&x, &y| {
                        let s = |j: usize| -> f32 {
                            q.iter()
                                .zip(&b[j * d..(j + 1) * d])
                                .map(|(u, v)| u * v)
                                .sum()
                        };
                        s(x).total_cmp(&s(y))
                    })
                    .unwrap();
                best == i
            })
            .count();
        hits as f32 / n as f32
    }

    #[test]
    fn loss_is_log_n_for_uniform_logits_and_small_when_aligned() {
        let device = Device::flex();
        let same = Tensor::<2>::from_data(TensorData::new(vec![1.0f32; 4 * 2], [4, 2]), &device);
        let uniform = symmetric_info_nce(unit_rows(same.clone()), unit_rows(same), 1.0);
        let v = uniform.into_scalar::<f32>();
        assert!((v - 4f32.ln()).abs() < 1e-5, "{v}");
        let eye = Tensor::<2>::eye(4, &device);
        let aligned = symmetric_info_nce(eye.clone(), eye, 0.05).into_scalar::<f32>();
        assert!(aligned < 1e-6, "{aligned}");
    }

    #[test]
    fn training_aligns_held_out_pairs() {
        let device = Device::flex();
        let (xi, xt) = pairs(300, 1);
        let config = AlignerConfig {
            dim: 16,
            epochs: 40,
            batch_size: 64,
            learning_rate: 1e-2,
            ..Default::default()
        };
        let (aligner, losses) = Aligner::train(&xi, 24, &xt, 16, &config, &device).unwrap();
        assert_eq!(losses.len(), 40);
        assert!(losses[39] < losses[0] * 0.5, "{losses:?}");
        // New pairs from the same two "encoders": text → image retrieval far above chance.
        let (hi, ht) = pairs(100, 2);
        let pi = aligner.project_images(&hi);
        let pt = aligner.project_texts(&ht);
        let r1 = recall_at_1(&pt, &pi, aligner.dim());
        assert!(r1 > 0.5, "held-out recall@1 {r1} (chance 0.01)");
        assert!(aligner.project_texts(&[]).is_empty());
    }

    #[test]
    fn rejects_mismatched_inputs() {
        let device = Device::flex();
        let c = AlignerConfig::default();
        assert!(Aligner::train(&[0.0; 6], 3, &[0.0; 3], 3, &c, &device).is_err());
        assert!(Aligner::train(&[0.0; 3], 3, &[0.0; 3], 3, &c, &device).is_err());
    }
}

//! A seeded random projection: the simplest real embedding (Johnson–Lindenstrauss), used as
//! the pixel baseline and as the end-to-end probe of every backend.

use burn::prelude::*;
use burn::tensor::activation::relu;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::compute::Compute;
use crate::error::{ModelError, Result};

/// Projects `input_dim`-d rows to `output_dim`-d unit vectors: `l2norm(relu(x·W))` with `W`
/// drawn from a seeded generator on the host, so every backend gets identical weights.
#[derive(Clone, Debug)]
pub struct RandomProjection {
    input_dim: usize,
    output_dim: usize,
    weight: Tensor<2>,
}

impl RandomProjection {
    /// Largest accepted dimension on either side.
    pub const MAX_DIM: usize = 1 << 16;

    /// Draws the projection matrix from `seed`, uniform in ±sqrt(3/input_dim) (unit variance
    /// of each output before the ReLU).
    pub fn new(compute: &Compute, input_dim: usize, output_dim: usize, seed: u64) -> Result<Self> {
        for (what, dim) in [("input", input_dim), ("output", output_dim)] {
            if dim == 0 || dim > Self::MAX_DIM {
                return Err(ModelError::InvalidConfig(format!(
                    "random projection {what} dimension must be in 1..={}, got {dim}",
                    Self::MAX_DIM
                ))
                .into());
            }
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let bound = (3.0 / input_dim as f32).sqrt();
        let values: Vec<f32> = (0..input_dim * output_dim)
            .map(|_| rng.gen_range(-bound..bound))
            .collect();
        let weight = Tensor::from_data(
            TensorData::new(values, [input_dim, output_dim]),
            compute.device(),
        );
        Ok(RandomProjection {
            input_dim,
            output_dim,
            weight,
        })
    }

    /// The length of the vectors this model outputs.
    pub fn output_dim(&self) -> usize {
        self.output_dim
    }

    /// Embeds `rows` (row-major, `input_dim` values each) and returns `rows.len() /
    /// input_dim` unit vectors, flattened row-major.
    pub async fn embed(&self, compute: &Compute, rows: &[f32]) -> Result<Vec<f32>> {
        if rows.is_empty() || !rows.len().is_multiple_of(self.input_dim) {
            return Err(ModelError::InputShape {
                model: "random projection",
                expected: format!("a non-empty multiple of {} values", self.input_dim),
                got: format!("{} values", rows.len()),
            }
            .into());
        }
        let n = rows.len() / self.input_dim;
        let x: Tensor<2> = Tensor::from_data(
            TensorData::new(rows.to_vec(), [n, self.input_dim]),
            compute.device(),
        );
        let y = super::l2_normalize(relu(x.matmul(self.weight.clone())));
        compute.read_f32(y).await
    }
}

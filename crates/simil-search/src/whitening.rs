//! PCA whitening of embeddings, learnt from unlabelled vectors (Jégou & Chum, "Negative
//! evidences and co-occurrences in image retrieval", 2012; Radenović et al. use it on GeM).
//!
//! CNN activations are all positive and strongly correlated, so raw cosine similarity is
//! dominated by a few directions every image shares. Whitening subtracts the mean and rescales
//! the principal directions to unit variance; a shrinkage term (a fraction of the largest
//! eigenvalue added to every eigenvalue) keeps the low-variance, noisy directions from being
//! blown up. On emoji across vendors it lifts recall@10 of the MobileNetV2 embedding from
//! about 0.64 to about 0.71 (see BENCHMARKS.md), learnt on images that carry no labels.

use nalgebra::{DMatrix, SymmetricEigen};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

/// Failures while fitting or applying a whitening.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WhiteningError {
    /// Fewer vectors than a covariance needs.
    #[error("whitening needs at least 2 vectors, got {0}")]
    TooFew(usize),
    /// A vector whose length differs from the others (or from the fitted dimension).
    #[error("vector {index} has {got} values, expected {expected}")]
    Dimension {
        /// Position of the vector.
        index: usize,
        /// Length expected.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// An output size of 0 or above the input dimension.
    #[error("output dimension must be in 1..={dim}, got {got}")]
    OutputDim {
        /// Input dimension.
        dim: usize,
        /// Requested output dimension.
        got: usize,
    },
    /// A shrinkage that is negative or not finite.
    #[error("shrinkage must be a finite number >= 0, got {0}")]
    Shrinkage(f64),
    /// A vector with NaN or infinite values.
    #[error("vector {0} has a NaN or infinite value")]
    NotFinite(usize),
    /// A whitening file that cannot be read.
    #[error("invalid whitening file: {0}")]
    File(String),
}

/// A learnt whitening: `y = P (x − μ)`, then scaled to unit length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Whitening {
    dim: usize,
    out_dim: usize,
    mean: Vec<f32>,
    /// `out_dim × dim`, row-major: the principal directions scaled by `1 / sqrt(λ + s·λmax)`.
    projection: Vec<f32>,
}

/// Shrinkage that measured best on emoji across vendors (0.003–0.03 are all close).
pub const DEFAULT_SHRINKAGE: f64 = 0.01;

impl Whitening {
    /// Learns a whitening from `vectors` (all of one length), keeping the `out_dim` directions
    /// of largest variance, with `shrinkage` × the largest eigenvalue added to each.
    pub fn fit(
        vectors: &[Vec<f32>],
        out_dim: usize,
        shrinkage: f64,
    ) -> Result<Self, WhiteningError> {
        let n = vectors.len();
        if n < 2 {
            return Err(WhiteningError::TooFew(n));
        }
        let dim = vectors[0].len();
        if out_dim == 0 || out_dim > dim {
            return Err(WhiteningError::OutputDim { dim, got: out_dim });
        }
        if !shrinkage.is_finite() || shrinkage < 0.0 {
            return Err(WhiteningError::Shrinkage(shrinkage));
        }
        for (index, v) in vectors.iter().enumerate() {
            if v.len() != dim {
                return Err(WhiteningError::Dimension {
                    index,
                    expected: dim,
                    got: v.len(),
                });
            }
            if v.iter().any(|x| !x.is_finite()) {
                return Err(WhiteningError::NotFinite(index));
            }
        }
        let mut mean = vec![0f64; dim];
        for v in vectors {
            mean.iter_mut()
                .zip(v)
                .for_each(|(m, &x)| *m += f64::from(x));
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let centred = DMatrix::from_fn(n, dim, |r, c| f64::from(vectors[r][c]) - mean[c]);
        let covariance = centred.tr_mul(&centred) / (n - 1) as f64;
        let eigen = SymmetricEigen::new(covariance);
        let mut order: Vec<usize> = (0..dim).collect();
        order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
        let largest = eigen.eigenvalues[order[0]].max(0.0);
        // Floor keeps a degenerate (e.g. constant) input finite.
        let floor = (largest * shrinkage).max(1e-12);
        let mut projection = Vec::with_capacity(out_dim * dim);
        for &k in &order[..out_dim] {
            let scale = 1.0 / (eigen.eigenvalues[k].max(0.0) + floor).sqrt();
            projection.extend(
                eigen
                    .eigenvectors
                    .column(k)
                    .iter()
                    .map(|&e| (e * scale) as f32),
            );
        }
        Ok(Whitening {
            dim,
            out_dim,
            mean: mean.into_iter().map(|m| m as f32).collect(),
            projection,
        })
    }

    /// Input dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Output dimension.
    pub fn out_dim(&self) -> usize {
        self.out_dim
    }

    /// Writes the whitening as safetensors: `mean` `[dim]` and `projection` `[out_dim, dim]`,
    /// both f32.
    pub fn to_safetensors(&self) -> Vec<u8> {
        let bytes = |v: &[f32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
        let (mean, projection) = (bytes(&self.mean), bytes(&self.projection));
        let tensors = [
            ("mean", TensorView::new(Dtype::F32, vec![self.dim], &mean)),
            (
                "projection",
                TensorView::new(Dtype::F32, vec![self.out_dim, self.dim], &projection),
            ),
        ];
        let tensors = tensors.map(|(name, view)| (name, view.expect("shapes match the data")));
        safetensors::serialize(tensors, None).expect("two f32 tensors serialize")
    }

    /// Reads a whitening written by [`Whitening::to_safetensors`], checking shapes and values.
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self, WhiteningError> {
        let file =
            SafeTensors::deserialize(bytes).map_err(|e| WhiteningError::File(e.to_string()))?;
        let read = |name: &str| -> Result<(Vec<usize>, Vec<f32>), WhiteningError> {
            let t = file
                .tensor(name)
                .map_err(|e| WhiteningError::File(format!("`{name}`: {e}")))?;
            if t.dtype() != Dtype::F32 {
                return Err(WhiteningError::File(format!("`{name}` is not f32")));
            }
            let values: Vec<f32> = t
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            if values.iter().any(|x| !x.is_finite()) {
                return Err(WhiteningError::File(format!(
                    "`{name}` has a NaN or infinity"
                )));
            }
            Ok((t.shape().to_vec(), values))
        };
        let (mean_shape, mean) = read("mean")?;
        let (shape, projection) = read("projection")?;
        match (mean_shape.as_slice(), shape.as_slice()) {
            (&[dim], &[out_dim, d]) if d == dim && dim > 0 && (1..=dim).contains(&out_dim) => {
                Ok(Whitening {
                    dim,
                    out_dim,
                    mean,
                    projection,
                })
            }
            _ => Err(WhiteningError::File(format!(
                "shapes {mean_shape:?} and {shape:?} do not make a whitening"
            ))),
        }
    }

    /// Whitens each `dim`-long row of `rows` (row-major); returns the `out_dim`-long rows.
    pub fn apply_rows(&self, rows: &[f32]) -> Result<Vec<f32>, WhiteningError> {
        if !rows.len().is_multiple_of(self.dim) {
            return Err(WhiteningError::Dimension {
                index: rows.len() / self.dim,
                expected: self.dim,
                got: rows.len() % self.dim,
            });
        }
        let mut out = Vec::with_capacity(rows.len() / self.dim * self.out_dim);
        for row in rows.chunks_exact(self.dim) {
            out.extend(self.apply(row)?);
        }
        Ok(out)
    }

    /// Whitens one vector and scales it to unit length (a zero result stays zero).
    pub fn apply(&self, vector: &[f32]) -> Result<Vec<f32>, WhiteningError> {
        if vector.len() != self.dim {
            return Err(WhiteningError::Dimension {
                index: 0,
                expected: self.dim,
                got: vector.len(),
            });
        }
        let centred: Vec<f32> = vector.iter().zip(&self.mean).map(|(x, m)| x - m).collect();
        let mut out: Vec<f32> = self
            .projection
            .chunks_exact(self.dim)
            .map(|row| row.iter().zip(&centred).map(|(p, x)| p * x).sum())
            .collect();
        let norm = out.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            out.iter_mut().for_each(|x| *x /= norm);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Correlated 4-d data: x = A z with z standard normal-ish (sum of uniforms).
    fn correlated(n: usize) -> Vec<Vec<f32>> {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let a = [
            [3.0, 0.0, 0.0, 0.0],
            [2.0, 0.5, 0.0, 0.0],
            [0.0, 1.0, 1.0, 0.0],
            [1.0, 0.0, 0.0, 0.1],
        ];
        (0..n)
            .map(|_| {
                let z: Vec<f32> = (0..4)
                    .map(|_| (0..6).map(|_| rng.r#gen::<f32>()).sum::<f32>() - 3.0)
                    .collect();
                a.iter()
                    .map(|row| 5.0 + row.iter().zip(&z).map(|(x, y)| x * y).sum::<f32>())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn whitened_training_data_has_identity_covariance() {
        let data = correlated(4000);
        let w = Whitening::fit(&data, 4, 0.0).unwrap();
        // Unnormalised whitened values: project without the final L2 step.
        let projected: Vec<Vec<f64>> = data
            .iter()
            .map(|v| {
                w.projection
                    .chunks_exact(4)
                    .map(|row| {
                        row.iter()
                            .zip(v)
                            .zip(&w.mean)
                            .map(|((p, x), m)| f64::from(p * (x - m)))
                            .sum()
                    })
                    .collect()
            })
            .collect();
        for i in 0..4 {
            for j in 0..4 {
                let c: f64 = projected.iter().map(|y| y[i] * y[j]).sum::<f64>() / 3999.0;
                let expected = if i == j { 1.0 } else { 0.0 };
                assert!((c - expected).abs() < 1e-3, "cov[{i}][{j}] = {c}");
            }
        }
    }

    #[test]
    fn output_is_unit_length_and_keeps_the_strongest_directions() {
        let data = correlated(500);
        let w = Whitening::fit(&data, 2, DEFAULT_SHRINKAGE).unwrap();
        assert_eq!((w.dim(), w.out_dim()), (4, 2));
        let y = w.apply(&data[0]).unwrap();
        assert_eq!(y.len(), 2);
        assert!((y.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-5);
        // The mean itself whitens to the zero vector, which stays zero.
        let mean = w.mean.clone();
        assert!(w.apply(&mean).unwrap().iter().all(|x| x.abs() < 1e-3));
    }

    #[test]
    fn constant_input_stays_finite() {
        let data = vec![vec![1.0f32; 3]; 10];
        let w = Whitening::fit(&data, 3, 0.0).unwrap();
        assert!(
            w.apply(&[1.0, 2.0, 3.0])
                .unwrap()
                .iter()
                .all(|x| x.is_finite())
        );
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        let data = correlated(10);
        assert_eq!(
            Whitening::fit(&data[..1], 2, 0.0),
            Err(WhiteningError::TooFew(1))
        );
        assert_eq!(
            Whitening::fit(&data, 5, 0.0),
            Err(WhiteningError::OutputDim { dim: 4, got: 5 })
        );
        assert_eq!(
            Whitening::fit(&data, 0, 0.0),
            Err(WhiteningError::OutputDim { dim: 4, got: 0 })
        );
        assert_eq!(
            Whitening::fit(&data, 4, -1.0),
            Err(WhiteningError::Shrinkage(-1.0))
        );
        let mut ragged = data.clone();
        ragged[3].pop();
        assert_eq!(
            Whitening::fit(&ragged, 2, 0.0),
            Err(WhiteningError::Dimension {
                index: 3,
                expected: 4,
                got: 3
            })
        );
        let mut nan = data.clone();
        nan[2][1] = f32::NAN;
        assert_eq!(
            Whitening::fit(&nan, 2, 0.0),
            Err(WhiteningError::NotFinite(2))
        );
        let w = Whitening::fit(&data, 2, 0.0).unwrap();
        assert_eq!(
            w.apply(&[1.0]).unwrap_err().to_string(),
            "vector 0 has 1 values, expected 4"
        );
        assert_eq!(
            WhiteningError::OutputDim { dim: 4, got: 5 }.to_string(),
            "output dimension must be in 1..=4, got 5"
        );
    }

    #[test]
    fn safetensors_round_trip_and_bad_files() {
        let w = Whitening::fit(&correlated(200), 3, DEFAULT_SHRINKAGE).unwrap();
        let bytes = w.to_safetensors();
        assert_eq!(Whitening::from_safetensors(&bytes).unwrap(), w);
        assert!(matches!(
            Whitening::from_safetensors(&bytes[..bytes.len() - 3]),
            Err(WhiteningError::File(_))
        ));
        assert!(matches!(
            Whitening::from_safetensors(b"not a file"),
            Err(WhiteningError::File(_))
        ));
    }
}

//! Random affine augmentation of square grey images (small shifts, rotations and scalings,
//! bilinear), the views a self-supervised (SimCLR) term compares.

use rand::Rng;

/// Ranges of the random affine transform applied to each image.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Augment {
    /// Side of the square images (rows hold `side × side` pixels).
    pub side: usize,
    /// Largest shift, in pixels, along each axis.
    pub max_shift: f32,
    /// Largest rotation, in degrees, either way.
    pub max_rotation_deg: f32,
    /// Largest relative change of scale (0.1 = 0.9× to 1.1×).
    pub max_scale: f32,
}

impl Augment {
    /// Moderate MNIST-style ranges for `side × side` images: ±2 px, ±12°, ±10 %.
    pub fn digits(side: usize) -> Self {
        Augment {
            side,
            max_shift: 2.0,
            max_rotation_deg: 12.0,
            max_scale: 0.1,
        }
    }

    /// A randomly transformed copy of one image (`side²` pixels); outside pixels read as 0.
    pub fn apply(&self, image: &[f32], rng: &mut impl Rng) -> Vec<f32> {
        let s = self.side;
        let uniform = |rng: &mut dyn rand::RngCore, r: f32| {
            if r > 0.0 { rng.gen_range(-r..r) } else { 0.0 }
        };
        let angle = uniform(rng, self.max_rotation_deg).to_radians();
        let scale = 1.0 + uniform(rng, self.max_scale);
        let (dx, dy) = (uniform(rng, self.max_shift), uniform(rng, self.max_shift));
        let (sin, cos) = angle.sin_cos();
        let c = (s as f32 - 1.0) / 2.0;
        let pixel = |x: isize, y: isize| {
            if x < 0 || y < 0 || x >= s as isize || y >= s as isize {
                0.0
            } else {
                image[y as usize * s + x as usize]
            }
        };
        let mut out = vec![0f32; s * s];
        for y in 0..s {
            for x in 0..s {
                // Inverse map: output pixel → source position.
                let (u, v) = (x as f32 - c - dx, y as f32 - c - dy);
                let sx = (cos * u + sin * v) / scale + c;
                let sy = (-sin * u + cos * v) / scale + c;
                let (x0, y0) = (sx.floor(), sy.floor());
                let (fx, fy) = (sx - x0, sy - y0);
                let (x0, y0) = (x0 as isize, y0 as isize);
                out[y * s + x] = pixel(x0, y0) * (1.0 - fx) * (1.0 - fy)
                    + pixel(x0 + 1, y0) * fx * (1.0 - fy)
                    + pixel(x0, y0 + 1) * (1.0 - fx) * fy
                    + pixel(x0 + 1, y0 + 1) * fx * fy;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn identity_ranges_copy_the_image_and_shifts_move_it() {
        let mut image = vec![0f32; 25];
        image[12] = 1.0; // centre of a 5×5
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let none = Augment {
            side: 5,
            max_shift: 0.0,
            max_rotation_deg: 0.0,
            max_scale: 0.0,
        };
        assert_eq!(none.apply(&image, &mut rng), image);
        let moved = Augment::digits(5).apply(&image, &mut rng);
        assert_ne!(moved, image);
        // Bilinear sampling spreads the pixel without creating mass beyond scale².
        let total: f32 = moved.iter().sum();
        assert!(total > 0.0 && total < 1.3, "{total}");
    }
}

//! Winograd convolution's arithmetic, which both backends share: the tile sizes, which
//! convolutions it applies to, and the weight transform.

use crate::graph::{Conv2dSpec, Window};

/// Output tile side: F(2x2, 3x3) or F(4x4, 3x3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Size {
    F2,
    F4,
}

impl Size {
    pub const ALL: [Size; 2] = [Size::F2, Size::F4];

    /// Output pixels per tile side.
    pub fn m(self) -> u32 {
        match self {
            Size::F2 => 2,
            Size::F4 => 4,
        }
    }

    /// Positions of a transformed tile: (m + 2)^2, one GEMM each.
    pub fn positions(self) -> u32 {
        (self.m() + 2) * (self.m() + 2)
    }

    /// The weight transform matrix G ((m + 2) x 3).
    fn g(self) -> Vec<[f64; 3]> {
        match self {
            Size::F2 => vec![[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]],
            Size::F4 => vec![
                [1.0 / 4.0, 0.0, 0.0],
                [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
                [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
                [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
                [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
                [0.0, 0.0, 1.0],
            ],
        }
    }
}

/// Whether a convolution can use this algorithm.
pub fn applies(spec: &Conv2dSpec) -> bool {
    spec.window == Window::square(3, 1, 1) || spec.window == Window::square(3, 1, 0)
}

/// U = G g Gᵀ of one 3x3 kernel `g` (row-major), computed in f64: the (m + 2)^2 values,
/// row-major. The CPU backend's Winograd and the GPU's both transform their weights so.
pub fn transform_weights(size: Size, g: &[f32]) -> Vec<f32> {
    let g_matrix = size.g();
    let side = g_matrix.len();
    let mut u = vec![0.0f32; side * side];
    for i in 0..side {
        for j in 0..side {
            let mut sum = 0.0;
            for a in 0..3 {
                for b in 0..3 {
                    sum += g_matrix[i][a] * g[a * 3 + b] as f64 * g_matrix[j][b];
                }
            }
            u[i * side + j] = sum as f32;
        }
    }
    u
}

//! 3x3 stride-1 convolutions on the CPU by Winograd's F(4x4, 3x3) (Lavin and Gray): each
//! 6x6 input tile becomes 36 values (`V = Bᵀ d B`), the weights were transformed at load
//! (`U = G g Gᵀ`), the 36 products over input channels are 36 GEMMs of the same shape run
//! as one batch, and each 6x6 result becomes a 4x4 output tile (`Y = Aᵀ M A`) with the
//! bias and ReLU. 2.25 times fewer multiplies than the direct GEMM (4 at the GEMM, the
//! transforms cost the rest); the CPU twin of the GPU's `shaders/winograd.wgsl` F(4x4).

use super::gemm::{self, PackedA, Rows};
use super::kernels::MicroKernel;
use super::{CpuCall, CpuLayer};
use crate::graph::{Conv2dSpec, Shape, Window};
use crate::parallel::{self, Disjoint};

use crate::plan::winograd::{self as plan_winograd, Size};

use crate::weights::LayerParams;
use std::sync::Mutex;

/// Output tile side, and input tile side (the output plus the kernel's 2).
const OUT: usize = 4;
const TILE: usize = 6;

/// Whether a convolution runs so: 3x3, stride 1, on planes of at least 16 tiles. Smaller
/// planes leave the GEMMs too few columns for a register tile (7x7 is 4 tiles: GoogLeNet's
/// 5a/5b 3x3s took 0.86 and 1.2 ms so against 0.49 and 0.71 ms direct, natively).
pub fn applies(spec: &Conv2dSpec, input: Shape) -> bool {
    let (rows, cols) = tiles(spec.output_shape(input));
    spec.window.kernel == (3, 3) && spec.window.stride == (1, 1) && rows * cols >= 16
}

pub struct Winograd {
    spec: Conv2dSpec,
    kernel: MicroKernel,
    /// The transformed weights, one GEMM's A per position of the 6x6 tile.
    u: Vec<PackedA>,
    bias: Vec<f32>,
    /// V and M, kept from pass to pass (megabytes: allocating them per pass costs page faults).
    scratch: Mutex<(Vec<f32>, Vec<f32>)>,
}

impl Winograd {
    pub fn new(spec: Conv2dSpec, input: Shape, params: &LayerParams, kernel: MicroKernel) -> Winograd {
        assert!(spec.window.kernel == (3, 3) && spec.window.stride == (1, 1), "Winograd F(4x4, 3x3) is for 3x3 stride 1");
        let (m, c) = (spec.out_c as usize, input.c as usize);
        let mut u = vec![vec![0.0f32; m * c]; TILE * TILE];
        for o in 0..m {
            for ci in 0..c {
                let transformed = plan_winograd::transform_weights(Size::F4, &params.weight[(o * c + ci) * 9..][..9]);
                for (position, value) in transformed.into_iter().enumerate() {
                    u[position][o * c + ci] = value;
                }
            }
        }
        let zero = vec![0.0; m];
        let u = u.iter().map(|a| PackedA::pack(a, &zero, m, c, &kernel)).collect();
        Winograd { spec, kernel, u, bias: params.bias.clone(), scratch: Mutex::new((Vec::new(), Vec::new())) }
    }
}

/// Tiles of an output plane: rows and columns of 4x4 tiles.
fn tiles(out: Shape) -> (usize, usize) {
    ((out.h as usize).div_ceil(OUT), (out.w as usize).div_ceil(OUT))
}

impl CpuLayer for Winograd {
    fn run(&self, call: CpuCall) {
        let (input, out) = (call.input_shape, self.spec.output_shape(call.input_shape));
        let (c, m) = (input.c as usize, self.spec.out_c as usize);
        let (rows, cols) = tiles(out);
        let t = rows * cols;
        let plane = input.pixels() as usize;
        let x = &call.input.data[call.input.c_offset as usize * plane..][..input.elements()];
        let out_plane = out.pixels() as usize;
        let y = &mut call.output.data[call.output.c_offset as usize * out_plane..][..out.elements()];
        let mut scratch = self.scratch.lock().unwrap();
        let (v, products) = &mut *scratch;
        v.resize(TILE * TILE * c * t, 0.0);
        products.resize(TILE * TILE * m * t, 0.0);
        transform_input(x, input, self.spec.window, (rows, cols), v);
        let b: Vec<Rows> = (0..TILE * TILE).map(|i| Rows { data: &v[i * c * t..(i + 1) * c * t], pixels: t }).collect();
        gemm::gemm_batch(&self.kernel, &self.u, &b, t, false, products, t, m * t);
        transform_output(products, &self.bias, self.spec.relu, out, (rows, cols), y);
    }

    fn weight_bytes(&self) -> u64 {
        self.u.iter().map(PackedA::bytes).sum::<u64>() + 4 * self.bias.len() as u64
    }
}

/// Tiles transformed at once, as the lanes of plain arrays the compiler vectorises (tiles
/// next to each other in a row are next to each other in V and M).
const LANES: usize = 8;
type Lanes = [f32; LANES];

/// Bᵀ x for 6 values per lane (Lavin's F(4x4, 3x3) input transform, its zeros skipped).
fn input_1d(d: &[Lanes; TILE]) -> [Lanes; TILE] {
    let mut r = [[0.0; LANES]; TILE];
    for l in 0..LANES {
        let [d0, d1, d2, d3, d4, d5] = [d[0][l], d[1][l], d[2][l], d[3][l], d[4][l], d[5][l]];
        r[0][l] = 4.0 * d0 - 5.0 * d2 + d4;
        r[1][l] = -4.0 * (d1 + d2) + d3 + d4;
        r[2][l] = 4.0 * (d1 - d2) - d3 + d4;
        r[3][l] = 2.0 * (d3 - d1) - d2 + d4;
        r[4][l] = 2.0 * (d1 - d3) - d2 + d4;
        r[5][l] = 4.0 * d1 - 5.0 * d3 + d5;
    }
    r
}

/// Aᵀ m for 6 values per lane (the output transform).
fn output_1d(m: &[Lanes; TILE]) -> [Lanes; OUT] {
    let mut r = [[0.0; LANES]; OUT];
    for l in 0..LANES {
        let [m0, m1, m2, m3, m4, m5] = [m[0][l], m[1][l], m[2][l], m[3][l], m[4][l], m[5][l]];
        let (sum12, diff12, sum34, diff34) = (m1 + m2, m1 - m2, m3 + m4, m3 - m4);
        r[0][l] = m0 + sum12 + sum34;
        r[1][l] = diff12 + 2.0 * diff34;
        r[2][l] = sum12 + 4.0 * sum34;
        r[3][l] = diff12 + 8.0 * diff34 + m5;
    }
    r
}

/// V[ξ][c][t] = (Bᵀ d B)[ξ] for the 6x6 input patch d of tile t (zeros outside), a channel
/// per task, LANES tiles of a row at a time.
fn transform_input(x: &[f32], input: Shape, window: Window, (rows, cols): (usize, usize), v: &mut [f32]) {
    let (c, t) = (input.c as usize, rows * cols);
    let (h, w) = (input.h as isize, input.w as isize);
    let (py, px) = (window.pad.0 as isize, window.pad.1 as isize);
    let plane = (h * w) as usize;
    let v = Disjoint::new(v, 1);
    parallel::for_each(c, |ci| {
        let channel = &x[ci * plane..(ci + 1) * plane];
        let at =
            |y: isize, x: isize| if (0..h).contains(&y) && (0..w).contains(&x) { channel[(y * w + x) as usize] } else { 0.0 };
        for ty in 0..rows {
            for tx0 in (0..cols).step_by(LANES) {
                let lanes = LANES.min(cols - tx0);
                let y0 = ty as isize * OUT as isize - py;
                // rows of the patch transformed (Bᵀ d), then its columns ((Bᵀ d) B)
                // [column j][row i]
                let half: [[Lanes; TILE]; TILE] = std::array::from_fn(|j| {
                    let mut column = [[0.0; LANES]; TILE];
                    for (i, values) in column.iter_mut().enumerate() {
                        for (l, value) in values.iter_mut().enumerate().take(lanes) {
                            *value = at(y0 + i as isize, ((tx0 + l) * OUT + j) as isize - px);
                        }
                    }
                    input_1d(&column)
                });
                let rows: [[Lanes; TILE]; TILE] = std::array::from_fn(|i| std::array::from_fn(|j| half[j][i]));
                for (i, row) in rows.iter().enumerate() {
                    for (j, values) in input_1d(row).iter().enumerate() {
                        let xi = i * TILE + j;
                        // SAFETY: V[ξ][ci][tiles] belongs to this channel's task alone.
                        let dst = unsafe { v.range((xi * c + ci) * t + ty * cols + tx0, lanes) };
                        dst.copy_from_slice(&values[..lanes]);
                    }
                }
            }
        }
    });
}

/// Y = Aᵀ M A + bias (ReLU if asked) for every output channel and tile, a channel per
/// task, LANES tiles of a row at a time.
fn transform_output(products: &[f32], bias: &[f32], relu: bool, out: Shape, (rows, cols): (usize, usize), y: &mut [f32]) {
    let (m, t) = (out.c as usize, rows * cols);
    let (h, w) = (out.h as usize, out.w as usize);
    let channels = Disjoint::new(y, h * w);
    parallel::for_each(m, |o| {
        // SAFETY: each task writes its own channel.
        let plane = unsafe { channels.get(o) };
        for ty in 0..rows {
            for tx0 in (0..cols).step_by(LANES) {
                let lanes = LANES.min(cols - tx0);
                // [column j][row i]: Aᵀ M
                let half: [[Lanes; OUT]; TILE] = std::array::from_fn(|j| {
                    let mut column = [[0.0; LANES]; TILE];
                    for (i, values) in column.iter_mut().enumerate() {
                        let start = ((i * TILE + j) * m + o) * t + ty * cols + tx0;
                        values[..lanes].copy_from_slice(&products[start..start + lanes]);
                    }
                    output_1d(&column)
                });
                let rows: [[Lanes; TILE]; OUT] = std::array::from_fn(|i| std::array::from_fn(|j| half[j][i]));
                for (i, row) in rows.iter().enumerate() {
                    let yy = ty * OUT + i;
                    if yy >= h {
                        break;
                    }
                    for (j, values) in output_1d(row).iter().enumerate() {
                        for (l, &value) in values.iter().enumerate().take(lanes) {
                            let xx = (tx0 + l) * OUT + j;
                            if xx < w {
                                let value = value + bias[o];
                                plane[yy * w + xx] = if relu { super::relu(value) } else { value };
                            }
                        }
                    }
                }
            }
        }
    });
}

//! Convolutions in int8 on the CPU: the layer's input quantized to 7 bits with the range
//! calibrated for it (stored in the weights file, see `convert`), the weights to int8 per
//! output channel, one integer GEMM (`kernels::dot`: exact i32 sums), and the epilogue
//! that turns the sums back into float32 with the bias and ReLU. Inputs and outputs stay
//! float32 in the plan's buffers, so pools, LRN, concatenations and the classifier are
//! unchanged; each int8 layer quantizes what it reads, once per pass.
//!
//! B, the quantized input, is written whole before the GEMM (a quarter of the float32
//! im2col's bytes): `[k/4][pixels rounded up to NR][4]`, four consecutive k of a pixel side
//! by side, as the dot products read them.

use super::conv2d::tap_run;
use super::kernels::{DotKernel, DotTile};
use super::{CpuCall, CpuLayer};
use crate::graph::{Conv2dSpec, Shape, Window};
use crate::parallel::{self, Disjoint};
use crate::weights::LayerParams;
use std::sync::Mutex;

/// The largest quantized activation: 7 bits (see `kernels::dot` for why).
pub const QMAX: f32 = 127.0;

/// How one tensor is quantized: `x ~ scale * (q - zero)`, q in 0..=127.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quantizer {
    pub scale: f32,
    pub zero: u8,
    inverse: f32,
}

impl Quantizer {
    /// The 7-bit quantizer of a calibrated range: zero at 0 for a range that is never
    /// negative (what follows a ReLU), else asymmetric (the normalised image).
    pub fn of_range(min: f32, max: f32) -> Quantizer {
        let (min, max) = (min.min(0.0), max.max(0.0));
        let span = max - min;
        let scale = if span > 0.0 { span / QMAX } else { 1.0 };
        let zero = (-min / scale).round().clamp(0.0, QMAX) as u8;
        Quantizer { scale, zero, inverse: 1.0 / scale }
    }

    /// `x` rounded to the nearest step (halves up), clamped to 0..=127 (NaN gives 0).
    #[inline(always)]
    pub fn quantize(&self, x: f32) -> u8 {
        (x * self.inverse + (self.zero as f32 + 0.5)).clamp(0.0, QMAX) as u8
    }
}

/// Weights quantized per output channel and packed into MR-high panels of `[k/4][MR][4]`,
/// with what the epilogue needs per row: `out = (sum - offset) * scale + bias`.
pub struct PackedInt8 {
    m: usize,
    quads: usize,
    mr: usize,
    data: Vec<i8>,
    /// The weight scale times the input's.
    scale: Vec<f32>,
    /// The input's zero point times the row's sum of weights.
    offset: Vec<i32>,
    bias: Vec<f32>,
}

impl PackedInt8 {
    /// `weight` is row-major M x K.
    pub fn pack(weight: &[f32], bias: &[f32], m: usize, k: usize, input: Quantizer, kernel: &DotKernel) -> PackedInt8 {
        assert_eq!(weight.len(), m * k);
        let (mr, quads) = (kernel.mr, k.div_ceil(4));
        let panels = m.div_ceil(mr);
        let mut data = vec![0i8; panels * mr * quads * 4];
        let (mut scale, mut offset) = (Vec::with_capacity(m), Vec::with_capacity(m));
        for (row, w) in weight.chunks_exact(k).enumerate() {
            let largest = w.iter().fold(0f32, |a, v| a.max(v.abs()));
            let step = if largest > 0.0 { largest / 127.0 } else { 1.0 };
            let (panel, r) = (row / mr, row % mr);
            let mut sum = 0i32;
            for (kk, v) in w.iter().enumerate() {
                let q = (v / step).round().clamp(-127.0, 127.0) as i8;
                data[((panel * quads + kk / 4) * mr + r) * 4 + kk % 4] = q;
                sum += q as i32;
            }
            scale.push(step * input.scale);
            offset.push(input.zero as i32 * sum);
        }
        PackedInt8 { m, quads, mr, data, scale, offset, bias: bias.to_vec() }
    }

    pub fn bytes(&self) -> u64 {
        (self.data.len() + 4 * (self.scale.len() + self.offset.len() + self.bias.len())) as u64
    }
}

/// Pixels per task: 8 tiles.
const TILES_PER_BLOCK: usize = 8;

/// `c` (M rows `ldc` apart) = the epilogue of A x B over `n` pixels, B quantized
/// `[quads][npad][4]` with `npad` a multiple of the kernel's NR.
#[allow(clippy::too_many_arguments, reason = "a GEMM's operands, sizes and epilogue")]
pub fn gemm(kernel: &DotKernel, a: &PackedInt8, b: &[u8], npad: usize, n: usize, relu: bool, c: &mut [f32], ldc: usize) {
    let (mr, nr) = (kernel.mr, kernel.nr);
    assert!(a.mr == mr && npad % nr == 0 && npad >= n && b.len() >= a.quads * npad * 4, "operands packed for another kernel");
    assert!(mr * nr <= 256 && c.len() >= (a.m - 1) * ldc + n, "C is too small");
    let tiles = npad / nr;
    // As the float32 GEMM: blocks of pixels, and the output channels split too where
    // there are few blocks (the 7x7 and 14x14 layers), for two tasks per thread.
    let threads = parallel::count();
    let block = (tiles / (2 * threads)).clamp(1, TILES_PER_BLOCK);
    let blocks = tiles.div_ceil(block);
    let panels = a.m.div_ceil(mr);
    let groups = panels.min((2 * threads).div_ceil(blocks)).max(1);
    let per_group = panels.div_ceil(groups);
    let out = SharedOut(c.as_mut_ptr());
    parallel::for_each(blocks * groups, |task| {
        let (block_index, group) = (task / groups, task % groups);
        let mut sums = [0i32; 256];
        for panel in group * per_group..((group + 1) * per_group).min(panels) {
            for tile in block_index * block..((block_index + 1) * block).min(tiles) {
                let col0 = tile * nr;
                let dot = DotTile {
                    quads: a.quads,
                    a: a.data[panel * mr * a.quads * 4..].as_ptr(),
                    b: b[col0 * 4..].as_ptr(),
                    ldb: npad * 4,
                    out: sums.as_mut_ptr(),
                };
                // SAFETY: A holds `quads` steps of the panel, B `quads` runs of `npad`
                // pixels (col0 + nr <= npad), `sums` MR x NR.
                unsafe { kernel.run(&dot) };
                let rows = panel * mr..(panel * mr + mr).min(a.m);
                let cols = nr.min(n.saturating_sub(col0));
                // SAFETY: tasks write disjoint tiles of C (rows < m, columns < n).
                unsafe { epilogue(a, &sums[..mr * nr], nr, rows, col0, cols, relu, &out, ldc) };
            }
        }
    });
}

/// A pointer to C that tasks share; each writes only its own tiles.
struct SharedOut(*mut f32);
unsafe impl Sync for SharedOut {}

/// One tile's sums to float32: `(sum - offset) * scale + bias`, ReLU; the same plain
/// arithmetic for every tier, so every tier gives the same bits.
#[allow(clippy::too_many_arguments, reason = "a tile's place in C and its rows' factors")]
#[inline(always)]
unsafe fn epilogue(
    a: &PackedInt8,
    sums: &[i32],
    nr: usize,
    rows: std::ops::Range<usize>,
    col0: usize,
    cols: usize,
    relu: bool,
    c: &SharedOut,
    ldc: usize,
) {
    let first = rows.start;
    for row in rows {
        let (offset, scale, bias) = (a.offset[row], a.scale[row], a.bias[row]);
        let out = std::slice::from_raw_parts_mut(c.0.add(row * ldc + col0), cols);
        for (o, &sum) in out.iter_mut().zip(&sums[(row - first) * nr..]) {
            let y = (sum - offset) as f32 * scale + bias;
            *o = if relu { y.max(0.0) } else { y };
        }
    }
}

/// A convolution computed in int8.
pub struct Int8Conv {
    spec: Conv2dSpec,
    kernel: DotKernel,
    input: Quantizer,
    weights: PackedInt8,
    /// The quantized B, kept from pass to pass.
    scratch: Mutex<Vec<u8>>,
}

impl Int8Conv {
    /// `None` where the parameters have no calibrated input range.
    pub fn new(spec: Conv2dSpec, input: Shape, params: &LayerParams, kernel: DotKernel) -> Option<Int8Conv> {
        let (min, max) = params.input_range?;
        let quantizer = Quantizer::of_range(min, max);
        let k = (input.c * spec.window.positions()) as usize;
        let weights = PackedInt8::pack(&params.weight, &params.bias, spec.out_c as usize, k, quantizer, &kernel);
        Some(Int8Conv { spec, kernel, input: quantizer, weights, scratch: Mutex::new(Vec::new()) })
    }
}

impl CpuLayer for Int8Conv {
    fn run(&self, call: CpuCall) {
        let out = self.spec.output_shape(call.input_shape);
        let plane = call.input_shape.pixels() as usize;
        let input = &call.input.data[call.input.c_offset as usize * plane..][..call.input_shape.elements()];
        let n = out.pixels() as usize;
        let npad = n.next_multiple_of(self.kernel.nr);
        let output = &mut call.output.data[call.output.c_offset as usize * n..][..out.elements()];
        let mut b = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        let gather = Gather { window: self.spec.window, input: call.input_shape, output: out, data: input };
        gather.quantize(self.input, npad, &mut b);
        gemm(&self.kernel, &self.weights, &b, npad, n, self.spec.relu, output, n);
    }

    fn weight_bytes(&self) -> u64 {
        self.weights.bytes()
    }

    fn is_int8(&self) -> bool {
        true
    }
}

/// The convolution's B: row (ci, ky, kx), column (oy, ox) is the input at
/// (ci, oy * sy - py + ky, ox * sx - px + kx), zero outside; read as is for 1x1 stride 1.
struct Gather<'a> {
    window: Window,
    input: Shape,
    output: Shape,
    data: &'a [f32],
}

impl Gather<'_> {
    /// B quantized into `b` as `[k/4][npad][4]` (rows past K and pixels past N zero).
    fn quantize(&self, q: Quantizer, npad: usize, b: &mut Vec<u8>) {
        let positions = self.window.positions() as usize;
        let k = self.input.c as usize * positions;
        let quads = k.div_ceil(4);
        b.resize(quads * npad * 4, 0);
        let n = self.output.pixels() as usize;
        let chunks = Disjoint::new(&mut b[..], npad * 4);
        parallel::for_each(quads, |quad| {
            // SAFETY: one task per quad, each its own chunk.
            let out = unsafe { chunks.get(quad) };
            let mut rows = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
            for (j, row) in rows.iter_mut().enumerate() {
                row.resize(n, 0.0);
                let kk = quad * 4 + j;
                if kk < k {
                    self.row(kk, row);
                } else {
                    row.fill(0.0); // (past K: its weights are zero)
                }
            }
            for (p, o) in out[..n * 4].chunks_exact_mut(4).enumerate() {
                for j in 0..4 {
                    o[j] = q.quantize(rows[j][p]);
                }
            }
            out[n * 4..].fill(0);
        });
    }

    /// Row `k` of B (all output pixels).
    fn row(&self, k: usize, out: &mut [f32]) {
        let Window { kernel: (kh, kw), stride: (sy, sx), pad: (py, px) } = self.window;
        let positions = (kh * kw) as usize;
        let (ci, ky, kx) = (k / positions, (k % positions) / kw as usize, (k % kw as usize) as isize);
        let (ih, iw, ow) = (self.input.h as isize, self.input.w as usize, self.output.w as usize);
        let channel = &self.data[ci * ih as usize * iw..][..ih as usize * iw];
        if self.window.is_pointwise() {
            out.copy_from_slice(channel);
            return;
        }
        for (oy, run) in out.chunks_exact_mut(ow).enumerate() {
            let y = (oy * sy as usize) as isize - py as isize + ky as isize;
            if (0..ih).contains(&y) {
                tap_run(&channel[y as usize * iw..][..iw], kx - px as isize, sx as isize, run);
            } else {
                run.fill(0.0);
            }
        }
    }
}

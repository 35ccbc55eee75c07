//! Convolutions in int8 on the CPU: the layer's input quantized to 7 bits with the range
//! calibrated for it (stored in the weights file, see `convert`), the weights to int8 per
//! output channel, one integer GEMM (`kernels::dot`: exact i32 sums), and the epilogue
//! that turns the sums back into float32 with the bias and ReLU. Inputs and outputs stay
//! float32 in the plan's buffers, so pools, LRN, concatenations and the classifier are
//! unchanged; each int8 layer quantizes what it reads, once per pass.
//!
//! The input is quantized into channel quads: four channels' bytes of a pixel in one u32,
//! the unit the dot products take. K runs tap by tap, four channels per quad (the weights
//! are reordered to match), so a pointwise convolution reads its quantized input in place
//! and a window's B is gathered a u32 per pixel and quad (a quarter of the float32
//! im2col's bytes), in panels of NR pixels. Gathering bytes a row of k at a time and
//! interleaving four rows took 20% of a BVLC pass (`perf`, AVX2 host).

use super::conv2d::tap_run;
use super::gemm::SharedOut;
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
        // Two comparisons and selects rather than `max`/`min`: NaN fails the first and
        // becomes 0, and the value is then in 0..=127, where the unchecked conversion is
        // exact; both vectorise natively and in wasm, where `f32::max` (NaN-ignoring, which
        // wasm's own max is not) did not, and quantizing took as long as the GEMM.
        let v = x * self.inverse + (self.zero as f32 + 0.5);
        let v = if v >= 0.0 { v } else { 0.0 };
        let v = if v <= QMAX { v } else { QMAX };
        // SAFETY: v is finite and in 0..=127.
        unsafe { v.to_int_unchecked::<i32>() as u8 }
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

/// Where B's tiles and quads lie, in u32 (a pixel's four activations) from B's start:
/// tile t, quad q starts at `t * tile + q * quad` and holds NR pixels side by side.
#[derive(Clone, Copy, Debug)]
pub struct BLayout {
    pub tile: usize,
    pub quad: usize,
}

/// `c` (M rows `ldc` apart) = the epilogue of A x B over `n` pixels; B's quads of four
/// consecutive k per pixel lie as `layout` says (a gathered B in panels of NR pixels, or a
/// pointwise convolution's input read in place).
#[allow(clippy::too_many_arguments, reason = "the GEMM's operands and C's place")]
pub fn gemm(kernel: &DotKernel, a: &PackedInt8, b: &[u32], layout: BLayout, n: usize, relu: bool, c: &mut [f32], ldc: usize) {
    let (mr, nr) = (kernel.mr, kernel.nr);
    let tiles = n.div_ceil(nr);
    let last = (tiles - 1) * layout.tile + (a.quads - 1) * layout.quad + nr;
    assert!(a.mr == mr && b.len() >= last, "operands packed for another kernel");
    assert!(mr * nr <= 256 && c.len() >= (a.m - 1) * ldc + n, "C is too small");
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
                    b: b[tile * layout.tile..].as_ptr() as *const u8,
                    ldb: layout.quad * 4,
                    out: sums.as_mut_ptr(),
                };
                // SAFETY: A holds `quads` steps of the panel, B `quads` runs of NR pixels
                // from the tile's start (checked against `last` above), `sums` MR x NR.
                unsafe { kernel.run(&dot) };
                let rows = panel * mr..(panel * mr + mr).min(a.m);
                let cols = nr.min(n.saturating_sub(col0));
                // SAFETY: tasks write disjoint tiles of C (rows < m, columns < n).
                unsafe { epilogue(a, &sums[..mr * nr], nr, rows, col0, cols, relu, &out, ldc) };
            }
        }
    });
}

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
    c: &SharedOut<f32>,
    ldc: usize,
) {
    let first = rows.start;
    for row in rows {
        let (offset, scale, bias) = (a.offset[row], a.scale[row], a.bias[row]);
        let out = std::slice::from_raw_parts_mut(c.at(row * ldc + col0), cols);
        for (o, &sum) in out.iter_mut().zip(&sums[(row - first) * nr..]) {
            let y = (sum - offset) as f32 * scale + bias;
            *o = if relu { super::relu(y) } else { y };
        }
    }
}

/// A convolution computed in int8.
pub struct Int8Conv {
    spec: Conv2dSpec,
    kernel: DotKernel,
    input: Quantizer,
    weights: PackedInt8,
    /// The quantized input in channel quads and the gathered B, kept from pass to pass.
    scratch: Mutex<(Vec<u32>, Vec<u32>)>,
}

impl Int8Conv {
    /// `None` where the parameters have no calibrated input range.
    pub fn new(spec: Conv2dSpec, input: Shape, params: &LayerParams, kernel: DotKernel) -> Option<Int8Conv> {
        let (min, max) = params.input_range?;
        let quantizer = Quantizer::of_range(min, max);
        let (channels, positions) = (input.c as usize, spec.window.positions() as usize);
        let weight = tap_major(&params.weight, channels, positions);
        let k = channels.next_multiple_of(4) * positions;
        let weights = PackedInt8::pack(&weight, &params.bias, spec.out_c as usize, k, quantizer, &kernel);
        Some(Int8Conv { spec, kernel, input: quantizer, weights, scratch: Mutex::new((Vec::new(), Vec::new())) })
    }
}

/// The weights (row-major, k = (channel, tap) as the graph holds them) in the order B's
/// quads hold the input: tap by tap, the channels padded to quads (their weights zero).
/// The sums are exact integers, so the order changes no bit of the result.
fn tap_major(weight: &[f32], channels: usize, positions: usize) -> Vec<f32> {
    let padded = channels.next_multiple_of(4);
    let mut out = vec![0.0; weight.len() / channels * padded];
    for (w, o) in weight.chunks_exact(channels * positions).zip(out.chunks_exact_mut(padded * positions)) {
        for (c, taps) in w.chunks_exact(positions).enumerate() {
            for (t, &v) in taps.iter().enumerate() {
                o[t * padded + c] = v;
            }
        }
    }
    out
}

impl CpuLayer for Int8Conv {
    fn run(&self, call: CpuCall) {
        let (input_shape, out) = (call.input_shape, self.spec.output_shape(call.input_shape));
        let (nr, n) = (self.kernel.nr, out.pixels() as usize);
        let (input, output) = call.tensors(out);
        let mut scratch = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        let (quads, b) = &mut *scratch;
        let stride = (input_shape.pixels() as usize).next_multiple_of(nr);
        quantize_quads(self.input, input, input_shape, stride, quads);
        if self.spec.window.is_pointwise() {
            // B is the input itself: quad q of pixel p at q * stride + p.
            let layout = BLayout { tile: nr, quad: stride };
            gemm(&self.kernel, &self.weights, quads, layout, n, self.spec.relu, output, n);
        } else {
            let taps = TapGather { window: self.spec.window, input: input_shape, output: out, stride, nr };
            taps.gather(quads, self.input.zero, b);
            let layout = BLayout { tile: self.weights.quads * nr, quad: nr };
            gemm(&self.kernel, &self.weights, b, layout, n, self.spec.relu, output, n);
        }
    }

    fn weight_bytes(&self) -> u64 {
        self.weights.bytes()
    }

    fn is_int8(&self) -> bool {
        true
    }
}

/// Values (u32) a quantizing or gathering task writes at least: tasks of a few hundred
/// values (a 7x7 layer's quad) cost more to hand out than to run, on wasm threads most.
const TASK_VALUES: usize = 8192;

/// The input quantized into channel quads, `[channels / 4][stride]` u32, byte j of
/// pixel p in quad g channel 4g + j (little endian, as every target here); a last,
/// partial quad repeats its last channel (whose padded weights are zero).
fn quantize_quads(q: Quantizer, x: &[f32], shape: Shape, stride: usize, out: &mut Vec<u32>) {
    let (channels, pixels) = (shape.c as usize, shape.pixels() as usize);
    let groups = channels.div_ceil(4);
    out.resize(groups * stride, 0);
    let per_task = (TASK_VALUES / pixels).clamp(1, groups);
    let tasks = Disjoint::new(out, per_task * stride);
    parallel::for_each(groups.div_ceil(per_task), |task| {
        // SAFETY: each task writes its own quads.
        let quads = unsafe { tasks.get(task) };
        for (i, quad) in quads.chunks_exact_mut(stride).enumerate() {
            let g = task * per_task + i;
            let channel = |j: usize| &x[(4 * g + j).min(channels - 1) * pixels..][..pixels];
            let [a, b, c, d] = [channel(0), channel(1), channel(2), channel(3)];
            // one plain loop over equal-length slices: it vectorises (natively and in
            // wasm) into four conversions, shifts and ors per vector of pixels
            parallel::wide(
                #[inline(always)]
                || {
                    for (i, o) in quad[..pixels].iter_mut().enumerate() {
                        let [a, b, c, d] = [a[i], b[i], c[i], d[i]].map(|v| q.quantize(v) as u32);
                        *o = a | b << 8 | c << 16 | d << 24;
                    }
                },
            );
        }
    });
}

/// B of a convolution with a window, gathered from the channel quads: quad (tap, g) of
/// pixel (oy, ox) is quad g at (oy * sy - py + ky, ox * sx - px + kx), the zero point
/// outside; in panels of NR pixels, `[pixels / NR][quads][NR]` (see [`gemm`]).
struct TapGather {
    window: Window,
    input: Shape,
    output: Shape,
    /// u32 between the input's channel quads.
    stride: usize,
    nr: usize,
}

impl TapGather {
    fn gather(&self, input: &[u32], zero: u8, b: &mut Vec<u32>) {
        let Window { kernel: (kh, kw), stride: (sy, sx), pad: (py, px) } = self.window;
        let (ih, iw) = (self.input.h as isize, self.input.w as usize);
        let (oh, ow, nr) = (self.output.h as usize, self.output.w as usize, self.nr);
        let groups = (self.input.c as usize).div_ceil(4);
        let quads = groups * (kh * kw) as usize;
        let n = oh * ow;
        b.resize(n.div_ceil(nr) * quads * nr, 0);
        let zero = u32::from_le_bytes([zero; 4]);
        let out = SharedOut(b.as_mut_ptr());
        let per_task = (TASK_VALUES / n).clamp(1, quads);
        parallel::for_each(quads.div_ceil(per_task), |task| {
            for quad in task * per_task..((task + 1) * per_task).min(quads) {
                let (tap, g) = (quad / groups, quad % groups);
                let (ky, kx) = ((tap / kw as usize) as isize, (tap % kw as usize) as isize);
                let channel = &input[g * self.stride..][..ih as usize * iw];
                for oy in 0..oh {
                    let y = (oy * sy as usize) as isize - py as isize + ky;
                    let row = (0..ih).contains(&y).then(|| &channel[y as usize * iw..][..iw]);
                    // the row's pixels, cut where they cross from one panel to the next
                    let (mut p, end) = (oy * ow, (oy + 1) * ow);
                    while p < end {
                        let (tile, lane) = (p / nr, p % nr);
                        let len = (nr - lane).min(end - p);
                        // SAFETY: this quad's lanes of this tile, written by this task alone.
                        let dst = unsafe { std::slice::from_raw_parts_mut(out.at((tile * quads + quad) * nr + lane), len) };
                        match row {
                            Some(row) => {
                                let x = ((p - oy * ow) * sx as usize) as isize - px as isize + kx;
                                tap_run(row, x, sx as isize, zero, dst);
                            }
                            None => dst.fill(zero),
                        }
                        p += len;
                    }
                }
            }
        });
    }
}

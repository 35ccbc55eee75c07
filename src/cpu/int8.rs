//! Convolutions in int8 on the CPU: the layer's input quantized to 7 bits with the range
//! calibrated for it (stored in the weights file, see `convert`), the weights to int8 per
//! output channel, one integer GEMM (`kernels::dot`: exact i32 sums), and the epilogue
//! that turns the sums back into float32 with the bias and ReLU. Inputs and outputs stay
//! float32 in the plan's buffers, so pools, LRN, concatenations and the classifier are
//! unchanged; each int8 layer quantizes what it reads, once per pass.
//!
//! B, the quantized input, is written whole before the GEMM (a quarter of the float32
//! im2col's bytes), in panels of NR pixels with four consecutive k of a pixel side by
//! side, as the dot products read them.

use super::conv2d::{tap_run, Gather};
use super::gemm::SharedOut;
use super::kernels::{DotKernel, DotTile};
use super::{CpuCall, CpuLayer};
use crate::graph::{Conv2dSpec, Shape, Window};
use crate::parallel;
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

    /// `quantize` over a row.
    fn quantize_row(&self, row: &[f32], out: &mut [u8]) {
        for (o, &x) in out.iter_mut().zip(row) {
            *o = self.quantize(x);
        }
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

/// `c` (M rows `ldc` apart) = the epilogue of A x B over `n` pixels. B is quantized in
/// panels of NR pixels, `[pixels / NR][k / 4][NR]`, each u32 four consecutive k of a
/// pixel: a tile reads its panel front to back.
pub fn gemm(kernel: &DotKernel, a: &PackedInt8, b: &[u32], n: usize, relu: bool, c: &mut [f32], ldc: usize) {
    let (mr, nr) = (kernel.mr, kernel.nr);
    let tiles = n.div_ceil(nr);
    assert!(a.mr == mr && b.len() >= tiles * a.quads * nr, "operands packed for another kernel");
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
                    b: b[tile * a.quads * nr..].as_ptr() as *const u8,
                    ldb: nr * 4,
                    out: sums.as_mut_ptr(),
                };
                // SAFETY: A holds `quads` steps of the panel, B `quads` runs of NR pixels
                // in the tile's panel, `sums` MR x NR.
                unsafe { kernel.run(&dot) };
                let rows = panel * mr..(panel * mr + mr).min(a.m);
                let cols = nr.min(n.saturating_sub(col0));
                // SAFETY: tasks write disjoint tiles of C (rows < m, columns < n).
                unsafe { epilogue(a, &sums[..mr * nr], nr, rows, col0, cols, relu, &out, ldc) };
            }
        }
    });
}

thread_local! {
    /// Each thread's four quantized rows of B.
    static ROWS: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
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
    /// The quantized input and B, kept from pass to pass.
    scratch: Mutex<(Vec<u8>, Vec<u32>)>,
}

impl Int8Conv {
    /// `None` where the parameters have no calibrated input range.
    pub fn new(spec: Conv2dSpec, input: Shape, params: &LayerParams, kernel: DotKernel) -> Option<Int8Conv> {
        let (min, max) = params.input_range?;
        let quantizer = Quantizer::of_range(min, max);
        let k = (input.c * spec.window.positions()) as usize;
        let weights = PackedInt8::pack(&params.weight, &params.bias, spec.out_c as usize, k, quantizer, &kernel);
        Some(Int8Conv { spec, kernel, input: quantizer, weights, scratch: Mutex::new((Vec::new(), Vec::new())) })
    }
}

impl CpuLayer for Int8Conv {
    fn run(&self, call: CpuCall) {
        let (input_shape, out) = (call.input_shape, self.spec.output_shape(call.input_shape));
        let n = out.pixels() as usize;
        let (input, output) = call.tensors(out);
        let mut scratch = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        let (plane, b) = &mut *scratch;
        let gather = Gather { window: self.spec.window, input: input_shape, output: out, data: input };
        gather.quantize(self.input, self.kernel.nr, plane, b);
        gemm(&self.kernel, &self.weights, b, n, self.spec.relu, output, n);
    }

    fn weight_bytes(&self) -> u64 {
        self.weights.bytes()
    }

    fn is_int8(&self) -> bool {
        true
    }
}

impl Gather<'_> {
    /// B quantized into `b` (see [`gemm`] for its layout): rows past K and pixels past N
    /// zero. A pointwise convolution's rows are its input's channels, quantized as read;
    /// others quantize the input once (`plane`, a ninth of B's values for a 3x3) and
    /// gather bytes. One task per quad of rows, which writes each pixel's four values as
    /// one u32 (byte j is row 4q + j, little endian as every target here).
    fn quantize(&self, q: Quantizer, nr: usize, plane: &mut Vec<u8>, b: &mut Vec<u32>) {
        let k = self.input.c as usize * self.window.positions() as usize;
        let (quads, n) = (k.div_ceil(4), self.output.pixels() as usize);
        let npad = n.next_multiple_of(nr);
        let pointwise = self.window.is_pointwise();
        if !pointwise {
            let side = self.input.pixels() as usize;
            plane.resize(self.data.len(), 0);
            let channels = SharedOut(plane.as_mut_ptr());
            parallel::for_each(self.input.c as usize, |c| {
                // SAFETY: one task per channel, each its own plane.
                let out = unsafe { std::slice::from_raw_parts_mut(channels.at(c * side), side) };
                q.quantize_row(&self.data[c * side..][..side], out);
            });
        }
        let plane = &plane[..];
        b.clear();
        b.resize(quads * npad, 0);
        let out = SharedOut(b.as_mut_ptr());
        parallel::for_each(quads, |quad| {
            ROWS.with_borrow_mut(|rows| {
                rows.resize(4 * n, 0);
                for (j, row) in rows.chunks_exact_mut(n).enumerate() {
                    match quad * 4 + j {
                        kk if kk >= k => row.fill(0), // (past K: its weights are zero)
                        kk if pointwise => q.quantize_row(&self.data[kk * n..][..n], row),
                        kk => self.gather_row(plane, q.zero, kk, row),
                    }
                }
                let (r0, r1, r2, r3) = (&rows[..n], &rows[n..2 * n], &rows[2 * n..3 * n], &rows[3 * n..]);
                for tile in 0..npad / nr {
                    // SAFETY: this quad's run of this tile, written by this task alone.
                    let dst = unsafe { std::slice::from_raw_parts_mut(out.at((tile * quads + quad) * nr), nr) };
                    let pixels = tile * nr..((tile + 1) * nr).min(n);
                    let rows = (&r0[pixels.clone()], &r1[pixels.clone()], &r2[pixels.clone()], &r3[pixels]);
                    for (i, d) in dst[..rows.0.len()].iter_mut().enumerate() {
                        let [a, b, c, e] = [rows.0[i], rows.1[i], rows.2[i], rows.3[i]].map(u32::from);
                        *d = a | b << 8 | c << 16 | e << 24;
                    }
                }
            });
        });
    }

    /// Row `k` of B (all output pixels) from the quantized input, `zero` outside it.
    fn gather_row(&self, plane: &[u8], zero: u8, k: usize, out: &mut [u8]) {
        let Window { kernel: (kh, kw), stride: (sy, sx), pad: (py, px) } = self.window;
        let positions = (kh * kw) as usize;
        let (ci, ky, kx) = (k / positions, (k % positions) / kw as usize, (k % kw as usize) as isize);
        let (ih, iw, ow) = (self.input.h as isize, self.input.w as usize, self.output.w as usize);
        let channel = &plane[ci * ih as usize * iw..][..ih as usize * iw];
        for (oy, run) in out.chunks_exact_mut(ow).enumerate() {
            let y = (oy * sy as usize) as isize - py as isize + ky as isize;
            if (0..ih).contains(&y) {
                tap_run(&channel[y as usize * iw..][..iw], kx - px as isize, sx as isize, zero, run);
            } else {
                run.fill(zero);
            }
        }
    }
}

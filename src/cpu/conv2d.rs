//! Convolution on the CPU as one GEMM (see `gemm`): output channels x (in_c x kh x kw)
//! weights times the input gathered into (in_c x kh x kw) x pixels. A 1x1 stride-1
//! convolution reads its input as B directly; others gather B a panel at a time (an
//! implicit im2col: no unfolded copy of the input is ever held).

use super::gemm::{self, PackB, PackedA, Rows};
use super::kernels::MicroKernel;
use super::{CpuCall, CpuLayer};
use crate::graph::{Conv2dSpec, Shape, Window};

use crate::weights::LayerParams;
use std::ops::Range;

pub struct Conv2d {
    spec: Conv2dSpec,
    kernel: MicroKernel,
    weights: PackedA,
}

impl Conv2d {
    pub fn new(spec: Conv2dSpec, input: Shape, params: &LayerParams, kernel: MicroKernel) -> Conv2d {
        let k = (input.c * spec.window.positions()) as usize;
        let weights = PackedA::pack(&params.weight, &params.bias, spec.out_c as usize, k, &kernel);
        Conv2d { spec, kernel, weights }
    }
}

impl CpuLayer for Conv2d {
    fn run(&self, call: CpuCall) {
        let (input_shape, out) = (call.input_shape, self.spec.output_shape(call.input_shape));
        let n = out.pixels() as usize;
        let (input, output) = call.tensors(out);
        let relu = self.spec.relu;
        if self.spec.window.is_pointwise() {
            gemm::gemm(&self.kernel, &self.weights, &Rows { data: input, pixels: n }, n, relu, output, n);
        } else {
            let b = Gather { window: self.spec.window, input: input_shape, output: out, data: input };
            gemm::gemm(&self.kernel, &self.weights, &b, n, relu, output, n);
        }
    }

    fn weight_bytes(&self) -> u64 {
        self.weights.bytes()
    }
}

/// B gathered from the input: row (ci, ky, kx), column (oy, ox) is the input at
/// (ci, oy * sy - py + ky, ox * sx - px + kx), zero outside. Packed in float32 panels here
/// (`PackB`), quantized in `int8`.
pub(super) struct Gather<'a> {
    pub(super) window: Window,
    pub(super) input: Shape,
    pub(super) output: Shape,
    pub(super) data: &'a [f32],
}

/// A run of a block's pixels within one output row: they read one input row, every
/// `stride`-th value from `x0` on.
#[derive(Clone, Copy, Default)]
struct Run {
    /// First pixel of the run in the block, and how many.
    column: usize,
    len: usize,
    /// Where the first pixel's window starts in the input.
    y0: isize,
    x0: isize,
}

/// At most as many runs as a block has pixels, plus one.
const MAX_RUNS: usize = gemm::MAX_BLOCK + 1;

impl PackB for Gather<'_> {
    fn pack(&self, k0: usize, kc: usize, pixels: Range<usize>, nr: usize, out: &mut [f32]) {
        let Window { kernel: (kh, kw), stride: (sy, sx), pad: (py, px) } = self.window;
        let (ih, iw) = (self.input.h as isize, self.input.w as isize);
        let ow = self.output.w as usize;
        let cols = pixels.len();
        assert!(cols <= gemm::MAX_BLOCK);
        // The block's pixels cut into runs at output-row boundaries.
        let mut runs = [Run::default(); MAX_RUNS];
        let mut count = 0;
        let mut j = 0;
        while j < cols {
            let (oy, ox) = ((pixels.start + j) / ow, (pixels.start + j) % ow);
            let len = (ow - ox).min(cols - j);
            let (y0, x0) = ((oy * sy as usize) as isize - py as isize, (ox * sx as usize) as isize - px as isize);
            runs[count] = Run { column: j, len, y0, x0 };
            count += 1;
            j += len;
        }
        let positions = (kh * kw) as usize;
        let plane = (ih * iw) as usize;
        let sx = sx as isize;
        let mut row = [0.0f32; gemm::MAX_BLOCK];
        for kk in 0..kc {
            let k = k0 + kk;
            let (ci, ky, kx) = (k / positions, (k % positions) / kw as usize, (k % kw as usize) as isize);
            let channel = &self.data[ci * plane..(ci + 1) * plane];
            for run in &runs[..count] {
                let out = &mut row[run.column..run.column + run.len];
                let y = run.y0 + ky as isize;
                if !(0..ih).contains(&y) {
                    out.fill(0.0);
                    continue;
                }
                tap_run(&channel[(y * iw) as usize..((y + 1) * iw) as usize], run.x0 + kx, sx, 0.0, out);
            }
            gemm::scatter_row(&row[..cols], kk, kc, nr, out);
        }
    }
}

/// `out[i] = row[x + i * sx]`, `zero` where that falls outside `row`: one tap of a window
/// for a run of output pixels along a row (here in float32, in `int8` quantized).
pub(super) fn tap_run<T: Copy>(row: &[T], x: isize, sx: isize, zero: T, out: &mut [T]) {
    let (len, iw) = (out.len(), row.len() as isize);
    if x >= 0 && x + (len as isize - 1) * sx < iw {
        // all inside (most runs): no division for the edges
        return copy_taps(&row[x as usize..], sx as usize, out);
    }
    // pixels whose tap falls inside the row: x + i * sx in 0..iw
    let first = if x >= 0 { 0 } else { ((-x + sx - 1) / sx) as usize }.min(len);
    let last = if x > iw - 1 { 0 } else { (((iw - 1 - x) / sx) as usize + 1).min(len) }.max(first);
    out[..first].fill(zero);
    out[last..].fill(zero);
    if last == first {
        return;
    }
    copy_taps(&row[(x + first as isize * sx) as usize..], sx as usize, &mut out[first..last]);
}

/// `out[i] = row[i * step]`.
#[inline(always)]
fn copy_taps<T: Copy>(row: &[T], step: usize, out: &mut [T]) {
    if out.is_empty() {
        return;
    }
    let taps = &row[..(out.len() - 1) * step + 1];
    if step == 1 {
        out.copy_from_slice(taps);
    } else {
        for (i, o) in out.iter_mut().enumerate() {
            *o = taps[i * step];
        }
    }
}

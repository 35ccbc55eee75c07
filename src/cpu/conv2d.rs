//! Convolution on the CPU as one GEMM (see `gemm`): output channels x (in_c x kh x kw)
//! weights times the input gathered into (in_c x kh x kw) x pixels. A 1x1 stride-1
//! convolution reads its input as B directly; others gather B a panel at a time (an
//! implicit im2col: no unfolded copy of the input is ever held).

use super::gemm::{self, PackB, PackedA, Rows};
use super::microkernel::MicroKernel;
use super::{CpuCall, CpuLayer};
use crate::ops::conv2d::Conv2dSpec;
use crate::ops::{Shape, Window};
use crate::weights::LayerParams;

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
        let out = self.spec.output_shape(call.input_shape);
        let plane = call.input_shape.pixels() as usize;
        let input = &call.input.data[call.input.c_offset as usize * plane..][..call.input_shape.elements()];
        let n = out.pixels() as usize;
        let output = &mut call.output.data[call.output.c_offset as usize * n..][..out.elements()];
        let relu = self.spec.relu;
        if self.spec.window.is_pointwise() {
            gemm::gemm(&self.kernel, &self.weights, &Rows { data: input, pixels: n }, n, relu, output, n);
        } else {
            let b = Gather::new(self.spec.window, call.input_shape, out, input);
            gemm::gemm(&self.kernel, &self.weights, &b, n, relu, output, n);
        }
    }

    fn weight_bytes(&self) -> u64 {
        self.weights.bytes()
    }
}

/// B gathered from the input: row (ci, ky, kx), column (oy, ox) is the input at
/// (ci, oy * sy - py + ky, ox * sx - px + kx), zero outside.
struct Gather<'a> {
    window: Window,
    input: Shape,
    output: Shape,
    data: &'a [f32],
}

impl<'a> Gather<'a> {
    fn new(window: Window, input: Shape, output: Shape, data: &'a [f32]) -> Gather<'a> {
        Gather { window, input, output, data }
    }
}

impl PackB for Gather<'_> {
    fn pack_panel(&self, k0: usize, kc: usize, n0: usize, nr: usize, out: &mut [f32]) {
        let Window { kernel: (kh, kw), stride: (sy, sx), pad: (py, px) } = self.window;
        let (ih, iw) = (self.input.h as isize, self.input.w as isize);
        let n = self.output.pixels() as usize;
        let cols = nr.min(n - n0);
        // Where each column's window starts in the input.
        let mut y0 = [0isize; 16];
        let mut x0 = [0isize; 16];
        for j in 0..cols {
            let (oy, ox) = ((n0 + j) / self.output.w as usize, (n0 + j) % self.output.w as usize);
            y0[j] = (oy * sy as usize) as isize - py as isize;
            x0[j] = (ox * sx as usize) as isize - px as isize;
        }
        // Consecutive columns in one output row read consecutive inputs at stride 1.
        let one_row = sx == 1 && (0..cols).all(|j| y0[j] == y0[0]);
        let positions = (kh * kw) as usize;
        let plane = (ih * iw) as usize;
        for (kk, dst) in out.chunks_exact_mut(nr).take(kc).enumerate() {
            let k = k0 + kk;
            let (ci, ky, kx) = (k / positions, (k % positions) / kw as usize, k % kw as usize);
            let channel = &self.data[ci * plane..(ci + 1) * plane];
            let y = y0[0] + ky as isize;
            let (first, last) = (x0[0] + kx as isize, x0[cols.max(1) - 1] + kx as isize);
            if one_row && (0..ih).contains(&y) && first >= 0 && last < iw {
                let start = (y * iw + first) as usize;
                dst[..cols].copy_from_slice(&channel[start..start + cols]);
            } else {
                for j in 0..cols {
                    let (y, x) = (y0[j] + ky as isize, x0[j] + kx as isize);
                    dst[j] = if (0..ih).contains(&y) && (0..iw).contains(&x) { channel[(y * iw + x) as usize] } else { 0.0 };
                }
            }
            dst[cols..].fill(0.0);
        }
    }
}

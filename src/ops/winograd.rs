//! Winograd F(2x2, 3x3) for 3x3 convolutions with stride 1 and padding 1: 16 multiplies per
//! 2x2 output tile and channel pair instead of 36. The transforms are in
//! `shaders/winograd.wgsl`; the 16 GEMMs between them are the convolution shader, batched.
//! The result equals [`super::conv2d`]'s up to rounding, so `conv2d::cpu` is the CPU twin.

use super::conv2d::{self, Batch, Conv2dSpec, Tile};
use super::{Dispatch, Kernels, Shape, View};

pub const SHADER: &str = include_str!("../../shaders/winograd.wgsl");

/// Whether a convolution can use this algorithm.
pub fn applies(spec: &Conv2dSpec) -> bool {
    spec.kernel == (3, 3) && spec.stride == (1, 1) && spec.pad == (1, 1)
}

/// 2x2 output tiles per row, and in all.
fn tiles(shape: Shape) -> (u32, u32) {
    let (th, tw) = (shape.h.div_ceil(2), shape.w.div_ceil(2));
    (tw, th * tw)
}

/// Bytes of the two intermediate buffers: the transformed input V (16 x in_c x tiles) and
/// the GEMM results M (16 x out_c x tiles).
pub fn scratch_bytes(input: Shape, out_c: u32) -> (u64, u64) {
    let t = tiles(input).1 as u64;
    (4 * 16 * input.c as u64 * t, 4 * 16 * out_c as u64 * t)
}

/// U = G g G^T for every (out, in) pair of PyTorch-layout 3x3 weights, packed for the
/// batched GEMM: [16 positions][in_c][out_c padded like conv2d's].
pub fn pack(spec: &Conv2dSpec, in_c: u32, weights: &[f32]) -> Vec<f32> {
    const G: [[f64; 3]; 4] = [[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]];
    let (out_c, in_c) = (spec.out_c as usize, in_c as usize);
    let stride = conv2d::padded_out_c(spec.out_c) as usize;
    let mut packed = vec![0.0f32; 16 * in_c * stride];
    for o in 0..out_c {
        for ci in 0..in_c {
            let g = &weights[(o * in_c + ci) * 9..][..9];
            for i in 0..4 {
                for j in 0..4 {
                    let mut u = 0.0;
                    for a in 0..3 {
                        for b in 0..3 {
                            u += G[i][a] * g[a * 3 + b] as f64 * G[j][b];
                        }
                    }
                    packed[((i * 4 + j) * in_c + ci) * stride + o] = u as f32;
                }
            }
        }
    }
    packed
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    channels: u32,
    h: u32,
    w: u32,
    c_offset: u32,
    tiles_w: u32,
    tiles: u32,
    relu: u32,
    _pad: u32,
}

/// The buffers one Winograd convolution binds.
pub struct Buffers<'a> {
    /// from [`pack`]
    pub transformed_weights: &'a wgpu::Buffer,
    /// zeros, one per padded output channel (the GEMMs add no bias)
    pub zero_bias: &'a wgpu::Buffer,
    /// the layer's bias, as packed by conv2d
    pub bias: &'a wgpu::Buffer,
    /// scratch of at least [`scratch_bytes`]
    pub v: &'a wgpu::Buffer,
    pub m: &'a wgpu::Buffer,
}

/// Records the three dispatches of `output[slice] = relu?(conv3x3(input[slice]) + bias)`.
#[allow(clippy::too_many_arguments)]
pub fn dispatch(
    kernels: &Kernels,
    tile: Tile,
    device: &wgpu::Device,
    label: &str,
    spec: &Conv2dSpec,
    input_shape: Shape,
    input: View,
    buffers: Buffers,
    output: View,
) -> Vec<Dispatch> {
    assert!(applies(spec));
    let (tiles_w, t) = tiles(input_shape);
    let params = |channels: u32, c_offset: u32| Params {
        channels,
        h: input_shape.h,
        w: input_shape.w,
        c_offset,
        tiles_w,
        tiles: t,
        relu: spec.relu as u32,
        _pad: 0,
    };
    let transform_in = kernels.winograd_input.dispatch(
        device,
        format!("{label} (winograd input)"),
        &params(input_shape.c, input.c_offset),
        &[input.buffer.as_entire_binding(), buffers.v.as_entire_binding()],
        [t.div_ceil(64), input_shape.c, 1],
    );
    let gemm_spec = Conv2dSpec { out_c: spec.out_c, kernel: (1, 1), stride: (1, 1), pad: (0, 0), relu: false };
    let batch = Batch {
        count: 16,
        input_stride: input_shape.c * t,
        weight_stride: input_shape.c * conv2d::padded_out_c(spec.out_c),
        output_stride: spec.out_c * t,
    };
    let gemm = conv2d::dispatch_batched(
        kernels,
        tile,
        device,
        format!("{label} (winograd GEMMs)"),
        &gemm_spec,
        Shape::new(input_shape.c, 1, t),
        View { buffer: buffers.v, c_offset: 0 },
        buffers.transformed_weights,
        buffers.zero_bias,
        View { buffer: buffers.m, c_offset: 0 },
        batch,
    );
    let transform_out = kernels.winograd_output.dispatch(
        device,
        format!("{label} (winograd output)"),
        &params(spec.out_c, output.c_offset),
        &[buffers.m.as_entire_binding(), output.buffer.as_entire_binding(), buffers.bias.as_entire_binding()],
        [t.div_ceil(64), spec.out_c, 1],
    );
    vec![transform_in, gemm, transform_out]
}

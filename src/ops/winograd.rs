//! Winograd convolution for 3x3 kernels with stride 1 and padding 1 or 0, in two sizes:
//! F(2x2, 3x3), 16 multiplies per 2x2 output tile and channel pair instead of 36, and
//! F(4x4, 3x3), 36 instead of 144 (larger tiles waste more at the edges of small images).
//! The transforms are in `shaders/winograd.wgsl`; the GEMMs between them (one per tile
//! position) are the convolution shader, batched. The result equals [`super::conv2d`]'s up
//! to rounding, so `conv2d::cpu` is the CPU twin.

use super::conv2d::{self, Batch, Conv2dSpec, Tile};
use super::{Dispatch, Kernels, Shape, View};

pub const SHADER: &str = include_str!("../../shaders/winograd.wgsl");

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
    spec.kernel == (3, 3) && spec.stride == (1, 1) && (spec.pad == (1, 1) || spec.pad == (0, 0))
}

/// Output tiles per row, and in all.
fn tiles(shape: Shape, size: Size) -> (u32, u32) {
    let (th, tw) = (shape.h.div_ceil(size.m()), shape.w.div_ceil(size.m()));
    (tw, th * tw)
}

/// Tiles per row of V and M: the count rounded up to a multiple of 4, which makes every
/// GEMM contiguous (vec4 loads, see conv2d::contiguous).
fn stride(tiles: u32) -> u32 {
    tiles.next_multiple_of(4)
}

/// Bytes of the two intermediate buffers: the transformed input V (positions x in_c x
/// tiles) and the GEMM results M (positions x out_c x tiles).
pub fn scratch_bytes(input: Shape, spec: &Conv2dSpec, size: Size) -> (u64, u64) {
    let n = size.positions() as u64 * stride(tiles(spec.output_shape(input), size).1) as u64;
    (4 * n * input.c as u64, 4 * n * spec.out_c as u64)
}

/// U = G g G^T for every (out, in) pair of PyTorch-layout 3x3 weights, packed for the
/// batched GEMM: [positions][in_c][out_c padded like conv2d's].
pub fn pack(spec: &Conv2dSpec, in_c: u32, weights: &[f32], size: Size) -> Vec<f32> {
    let g_matrix = size.g();
    let side = g_matrix.len();
    let (out_c, in_c) = (spec.out_c as usize, in_c as usize);
    let stride = conv2d::padded_out_c(spec.out_c) as usize;
    let mut packed = vec![0.0f32; side * side * in_c * stride];
    for o in 0..out_c {
        for ci in 0..in_c {
            let g = &weights[(o * in_c + ci) * 9..][..9];
            for i in 0..side {
                for j in 0..side {
                    let mut u = 0.0;
                    for a in 0..3 {
                        for b in 0..3 {
                            u += g_matrix[i][a] * g[a * 3 + b] as f64 * g_matrix[j][b];
                        }
                    }
                    packed[((i * side + j) * in_c + ci) * stride + o] = u as f32;
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
    stride: u32,
    pad: u32,
    _pad: [u32; 3],
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
    size: Size,
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
    let out = spec.output_shape(input_shape);
    let (tiles_w, t) = tiles(out, size); // over the output
    let (input_kernel, output_kernel) = match size {
        Size::F2 => (&kernels.winograd_input, &kernels.winograd_output),
        Size::F4 => (&kernels.winograd_input_4x4, &kernels.winograd_output_4x4),
    };
    let params = |shape: Shape, c_offset: u32| Params {
        channels: shape.c,
        h: shape.h,
        w: shape.w,
        c_offset,
        tiles_w,
        tiles: t,
        relu: spec.relu as u32,
        stride: stride(t),
        pad: spec.pad.0,
        _pad: [0; 3],
    };
    let transform_in = input_kernel.dispatch(
        device,
        format!("{label} (winograd input)"),
        &params(input_shape, input.c_offset),
        &[input.buffer.as_entire_binding(), buffers.v.as_entire_binding()],
        [t.div_ceil(64), input_shape.c, 1],
    );
    let gemm_spec = Conv2dSpec { out_c: spec.out_c, kernel: (1, 1), stride: (1, 1), pad: (0, 0), relu: false };
    let batch = Batch {
        count: size.positions(),
        input_stride: input_shape.c * stride(t),
        weight_stride: input_shape.c * conv2d::padded_out_c(spec.out_c),
        output_stride: spec.out_c * stride(t),
    };
    let gemm = conv2d::dispatch_batched(
        kernels,
        tile,
        device,
        format!("{label} (winograd GEMMs)"),
        &gemm_spec,
        Shape::new(input_shape.c, 1, stride(t)),
        View { buffer: buffers.v, c_offset: 0 },
        buffers.transformed_weights,
        buffers.zero_bias,
        View { buffer: buffers.m, c_offset: 0 },
        batch,
    );
    let transform_out = output_kernel.dispatch(
        device,
        format!("{label} (winograd output)"),
        &params(out, output.c_offset),
        &[buffers.m.as_entire_binding(), output.buffer.as_entire_binding(), buffers.bias.as_entire_binding()],
        [t.div_ceil(64), spec.out_c, 1],
    );
    vec![transform_in, gemm, transform_out]
}

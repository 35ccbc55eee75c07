//! Winograd convolution for 3x3 kernels with stride 1 and padding 1 or 0, in two sizes:
//! F(2x2, 3x3), 16 multiplies per 2x2 output tile and channel pair instead of 36, and
//! F(4x4, 3x3), 36 instead of 144 (larger tiles waste more at the edges of small images).
//! The transforms are in `shaders/winograd.wgsl`; the GEMMs between them (one per tile
//! position) are the convolution shader, batched. The result equals [`super::conv2d`]'s up
//! to rounding, so `conv2d::cpu` is the CPU twin.

use super::conv2d::{self, Batch, Gemm, Tile};
use super::{interface, Call, Context, Dispatch, Variant, View};
use crate::gpu_objects;
use crate::graph::{Conv2dSpec, Shape, Window};
pub use crate::plan::winograd::{applies, transform_weights, Size};

const WORKGROUP_SIZE: u32 = SHADER.constant(0);

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
    let side = (size.m() + 2) as usize;
    let (out_c, in_c) = (spec.out_c as usize, in_c as usize);
    let stride = conv2d::padded_out_c(spec.out_c) as usize;
    let mut packed = vec![0.0f32; side * side * in_c * stride];
    for o in 0..out_c {
        for ci in 0..in_c {
            let u = transform_weights(size, &weights[(o * in_c + ci) * 9..][..9]);
            for (position, value) in u.into_iter().enumerate() {
                packed[(position * in_c + ci) * stride + o] = value;
            }
        }
    }
    packed
}

interface! {
    "winograd", include_str!("../../shaders/winograd.wgsl"),
    constants [WORKGROUP_SIZE = 64] entries [input_transform(src, dst), output_transform(src, dst, bias), input_transform_4x4(src, dst), output_transform_4x4(src, dst, bias)]
    struct Params {
        // h, w: the input's size for the input transform, the output's for the output one
        channels: u32, h: u32, w: u32, c_offset: u32,
        // V and M rows hold `stride` tiles, the count rounded up to a multiple of 4, so that
        // the GEMMs read them as aligned vec4s (the extra columns are never read back)
        tiles_w: u32, tiles: u32, relu: u32, stride: u32,
        // the convolution's padding, 1 ("same") or 0 ("valid"): where tile 0's patch starts
        pad: u32, _pad0: u32, _pad1: u32, _pad2: u32,
    }
}

/// The buffers every Winograd convolution of a network shares: the transformed input V
/// and the GEMM results M, sized for the largest layer (see [`scratch_bytes`]), and zeros
/// for the GEMMs' bias, one per padded output channel of the widest layer.
pub struct Scratch {
    pub v: gpu_objects::Buffer,
    pub m: gpu_objects::Buffer,
    pub zero_bias: gpu_objects::Buffer,
}

/// A layer's own buffers: U = G g G^T from [`pack`], and its bias as conv2d packs it.
pub struct Weights<'a> {
    pub transformed: &'a wgpu::Buffer,
    pub bias: &'a wgpu::Buffer,
}

/// Records the three dispatches of `output[slice] = relu?(conv3x3(input[slice]) + bias)`
/// with tiles of `size` and the GEMMs' register `tile`.
pub fn dispatch(
    ctx: &Context,
    call: &Call<Conv2dSpec>,
    weights: &Weights,
    scratch: &Scratch,
    kernel: (Size, Tile),
) -> Vec<Dispatch> {
    let (spec, input_shape, (size, tile)) = (call.spec, call.input_shape, kernel);
    assert!(applies(spec));
    let out = spec.output_shape(input_shape);
    let (tiles_w, t) = tiles(out, size); // over the output
    let (input_entry, output_entry) = match size {
        Size::F2 => ("input_transform", "output_transform"),
        Size::F4 => ("input_transform_4x4", "output_transform_4x4"),
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
        pad: spec.window.pad.0,
        _pad0: 0,
        _pad1: 0,
        _pad2: 0,
    };
    let transform_in = ctx.kernel(&SHADER, &Variant::entry(input_entry)).dispatch(
        &ctx.device,
        format!("{} (winograd input)", call.label),
        &params(input_shape, call.input.c_offset),
        &[("src", call.input.buffer.as_entire_binding()), ("dst", scratch.v.as_entire_binding())],
        [t.div_ceil(WORKGROUP_SIZE), input_shape.c, 1],
    );
    let gemm_spec = Conv2dSpec { out_c: spec.out_c, window: Window::square(1, 1, 0), relu: false };
    let batch = Batch {
        count: size.positions(),
        input_stride: input_shape.c * stride(t),
        weight_stride: input_shape.c * conv2d::padded_out_c(spec.out_c),
        output_stride: spec.out_c * stride(t),
    };
    let gemm_call = Call {
        label: &format!("{} (winograd GEMMs)", call.label),
        spec: &gemm_spec,
        input_shape: Shape::new(input_shape.c, 1, stride(t)),
        input: View { buffer: &scratch.v, c_offset: 0 },
        output: View { buffer: &scratch.m, c_offset: 0 },
    };
    let gemm = Gemm { weights: weights.transformed, bias: &scratch.zero_bias, tile, batch };
    let gemms = conv2d::dispatch(ctx, &gemm_call, &gemm);
    let transform_out = ctx.kernel(&SHADER, &Variant::entry(output_entry)).dispatch(
        &ctx.device,
        format!("{} (winograd output)", call.label),
        &params(out, call.output.c_offset),
        &[
            ("src", scratch.m.as_entire_binding()),
            ("dst", call.output.buffer.as_entire_binding()),
            ("bias", weights.bias.as_entire_binding()),
        ],
        [t.div_ceil(WORKGROUP_SIZE), spec.out_c, 1],
    );
    vec![transform_in, gemms, transform_out]
}

//! 2-D convolution with bias and optional ReLU (`shaders/conv2d.wgsl`).

use super::{interface, Call, Context, Dispatch, Kernel, Variant as ShaderVariant};
use crate::graph::{Conv2dSpec, Shape, Tensor, TensorMut, Window};
use crate::tensors::Precision;

/// A register tile of the shader: output pixels by output channels per invocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tile {
    pub pixels: u32,
    pub channels: u32,
}

impl std::fmt::Display for Tile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.pixels, self.channels)?;
        if *self == WORKGROUP_TILE {
            f.write_str(" shared")?;
        }
        Ok(())
    }
}

/// The tiles the autotuner chooses from: wider ones reuse each input load for more
/// channels, narrower ones give small layers more invocations. The last is the
/// workgroup-memory kernel (`tiled` in the shader): 64 x 64 per workgroup.
pub const TILES: [Tile; 4] =
    [Tile { pixels: 4, channels: 8 }, Tile { pixels: 4, channels: 4 }, Tile { pixels: 4, channels: 16 }, WORKGROUP_TILE];
/// The workgroup-memory kernel's tile: pixels x channels of a whole workgroup.
pub const WORKGROUP_TILE: Tile = Tile { pixels: SHADER.constant(2), channels: SHADER.constant(2) };
/// The tile used before (or without) tuning.
pub const DEFAULT_TILE: Tile = TILES[0];

/// A compiled form of the shader: a tile and a loop order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Variant {
    pub tile: Tile,
    /// Input channels in the inner loop (see `channels_inside`).
    pub channels_inside: bool,
    /// Each tile's 4 input pixels are one aligned vec4 (see `contiguous`).
    pub contiguous: bool,
    /// Weights stored as float16 (see [`Precision`]).
    pub half: bool,
}

impl Variant {
    fn kernel(self, ctx: &Context) -> Kernel {
        let overrides = [
            ("CHANNELS", self.tile.channels as f64),
            ("CHANNELS_INSIDE", self.channels_inside as u32 as f64),
            ("CONTIGUOUS", self.contiguous as u32 as f64),
        ];
        let prelude = if self.half { "enable f16;\nalias Weights4 = vec4<f16>;\n" } else { "alias Weights4 = vec4<f32>;\n" };
        let variant = if self.tile == WORKGROUP_TILE {
            ShaderVariant { entry: "tiled", overrides: &overrides[1..2], prelude }
        } else {
            ShaderVariant { entry: "main", overrides: &overrides, prelude }
        };
        ctx.kernel(&SHADER, &variant)
    }
}

/// The shader walks input channels in its inner loop, unless there are too few of them to
/// amortise the loop (the first layer's 3); the weights are packed to match.
pub fn channels_inside(in_c: u32) -> bool {
    in_c >= 4
}

/// Whether each tile's 4 pixels are 4 consecutive input floats on a vec4 boundary: a 1x1
/// convolution with stride 1 and no padding (output pixel m reads input pixel m) whose
/// plane, and so every channel's start, is a multiple of 4 floats, as are the batches.
pub fn contiguous(spec: &Conv2dSpec, input_shape: Shape, batch: &Batch) -> bool {
    spec.window.is_pointwise() && input_shape.pixels().is_multiple_of(4) && batch.input_stride.is_multiple_of(4)
}

/// Packed output channels are padded to the largest tile's channel count, so one packing
/// serves every variant.
const CHANNEL_PADDING: u32 = 16;

const WORKGROUP: (u32, u32) = (SHADER.constant(0), SHADER.constant(1));

interface! {
    "conv2d", include_str!("../../shaders/conv2d.wgsl"),
    // `main`'s workgroup (pixels, channels) in invocations; the side of `tiled`'s
    // workgroup tile, in pixels and in channels
    constants [WORKGROUP_X = 16, WORKGROUP_Y = 4, TILED_SIDE = 64]
    entries [main(input, weights, bias, output, input4), tiled(input, weights, bias, output)]
    struct Params {
        in_c: u32, in_h: u32, in_w: u32, in_c_offset: u32, out_c: u32, out_h: u32, out_w: u32, out_c_offset: u32,
        // the window, (height, width) each
        kernel: [u32; 2], stride: [u32; 2], pad: [u32; 2], relu: u32, w_stride: u32,
        // Batched GEMMs (Winograd's 16): dispatch z selects a batch, whose input, weights (in
        // vec4s) and output start this far from batch 0's. Zero for a plain convolution.
        batch_in: u32, batch_w: u32, batch_out: u32, _pad: u32,
    }
}

/// A batch of equally shaped GEMMs in one dispatch: `count` of them, each one's input,
/// weights and output `*_stride` floats after the previous one's.
#[derive(Clone, Copy, Debug, Default)]
pub struct Batch {
    pub count: u32,
    pub input_stride: u32,
    pub weight_stride: u32,
    pub output_stride: u32,
}

impl Batch {
    /// A plain convolution.
    pub const ONE: Batch = Batch { count: 1, input_stride: 0, weight_stride: 0, output_stride: 0 };
}

/// Weights and bias laid out for the shader.
pub struct Packed {
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
}

/// Packs PyTorch-layout weights (out_c, in_c, kh, kw) as [K][out_c padded to 16] with K in
/// the order the shader walks: (ky * kw + kx) * in_c + ci with the input channels inside,
/// else (ci * kh + ky) * kw + kx. Pads the bias alike.
pub fn pack(spec: &Conv2dSpec, in_c: u32, weights: &[f32], bias: &[f32]) -> Packed {
    let (kh, kw) = spec.window.kernel;
    let k_len = (in_c * kh * kw) as usize;
    let out_c = spec.out_c as usize;
    let stride = padded_out_c(spec.out_c) as usize;
    assert_eq!(weights.len(), out_c * k_len, "conv weights do not match their spec");
    let mut packed = vec![0.0; k_len * stride];
    let inside = channels_inside(in_c);
    let (in_c, window) = (in_c as usize, (kh * kw) as usize);
    for o in 0..out_c {
        for ci in 0..in_c {
            for pos in 0..window {
                let k = if inside { pos * in_c + ci } else { ci * window + pos };
                packed[k * stride + o] = weights[(o * in_c + ci) * window + pos];
            }
        }
    }
    let mut padded_bias = bias.to_vec();
    padded_bias.resize(stride, 0.0);
    Packed { weights: packed, bias: padded_bias }
}

pub fn padded_out_c(out_c: u32) -> u32 {
    out_c.next_multiple_of(CHANNEL_PADDING)
}

/// What one convolution GEMM binds and how it runs: weights and bias as [`pack`] lays
/// them out, the register tile, and the batch (Winograd's 16 or 36 GEMMs; else one).
pub struct Gemm<'a> {
    pub weights: &'a wgpu::Buffer,
    pub bias: &'a wgpu::Buffer,
    pub tile: Tile,
    pub batch: Batch,
}

/// Records `output[slice] = relu?(conv(input[slice]) + bias)`.
pub fn dispatch(ctx: &Context, call: &Call<Conv2dSpec>, gemm: &Gemm) -> Dispatch {
    let (spec, input_shape, batch, tile) = (call.spec, call.input_shape, gemm.batch, gemm.tile);
    let out = spec.output_shape(input_shape);
    assert_eq!(batch.weight_stride % 4, 0, "batches of weights start on a vec4");
    let w = &spec.window;
    let params = Params {
        in_c: input_shape.c,
        in_h: input_shape.h,
        in_w: input_shape.w,
        in_c_offset: call.input.c_offset,
        out_c: out.c,
        out_h: out.h,
        out_w: out.w,
        out_c_offset: call.output.c_offset,
        kernel: w.kernel.into(),
        stride: w.stride.into(),
        pad: w.pad.into(),
        relu: spec.relu as u32,
        w_stride: padded_out_c(spec.out_c) / 4,
        batch_in: batch.input_stride,
        batch_w: batch.weight_stride / 4,
        batch_out: batch.output_stride,
        _pad: 0,
    };
    let per_workgroup = if tile == WORKGROUP_TILE {
        (tile.pixels, tile.channels)
    } else {
        (tile.pixels * WORKGROUP.0, tile.channels * WORKGROUP.1)
    };
    let workgroups = [out.pixels().div_ceil(per_workgroup.0), out.c.div_ceil(per_workgroup.1), batch.count];
    let variant = Variant {
        tile,
        channels_inside: channels_inside(input_shape.c),
        contiguous: contiguous(spec, input_shape, &batch),
        half: ctx.precision == Precision::F16,
    };
    let mut resources = vec![
        ("input", call.input.buffer.as_entire_binding()),
        ("weights", gemm.weights.as_entire_binding()),
        ("bias", gemm.bias.as_entire_binding()),
        ("output", call.output.buffer.as_entire_binding()),
    ];
    if tile != WORKGROUP_TILE {
        resources.push(("input4", call.input.buffer.as_entire_binding())); // `tiled` does not read it
    }
    variant.kernel(ctx).dispatch(&ctx.device, call.label.to_string(), &params, &resources, workgroups)
}

/// CPU twin: the tensor of `input_shape` at channel `input.c_offset` of `input`, into
/// channels from `output.c_offset` of `output`. Weights in PyTorch layout.
pub fn cpu(spec: &Conv2dSpec, input_shape: Shape, input: Tensor, weights: &[f32], bias: &[f32], output: TensorMut) {
    let (in_c_offset, out_c_offset) = (input.c_offset, output.c_offset);
    let (input, output) = (input.data, output.data);
    let out = spec.output_shape(input_shape);
    let Window { kernel, stride, pad } = spec.window;
    let (kh, kw) = (kernel.0 as i64, kernel.1 as i64);
    let (ih, iw) = (input_shape.h as i64, input_shape.w as i64);
    let plane = (ih * iw) as usize;
    for o in 0..out.c as usize {
        for oy in 0..out.h as i64 {
            for ox in 0..out.w as i64 {
                let mut acc = bias[o] as f64;
                for ci in 0..input_shape.c as usize {
                    let base = (in_c_offset as usize + ci) * plane;
                    for ky in 0..kh {
                        let y = oy * stride.0 as i64 - pad.0 as i64 + ky;
                        if y < 0 || y >= ih {
                            continue;
                        }
                        for kx in 0..kw {
                            let x = ox * stride.1 as i64 - pad.1 as i64 + kx;
                            if x < 0 || x >= iw {
                                continue;
                            }
                            let w = weights
                                [((o * input_shape.c as usize + ci) * kh as usize + ky as usize) * kw as usize + kx as usize];
                            acc += w as f64 * input[base + (y * iw + x) as usize] as f64;
                        }
                    }
                }
                let v = if spec.relu { acc.max(0.0) } else { acc } as f32;
                output[(out_c_offset as usize + o) * out.pixels() as usize + (oy * out.w as i64 + ox) as usize] = v;
            }
        }
    }
}

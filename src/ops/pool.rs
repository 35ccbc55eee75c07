//! Max and average pooling, including global average pooling (`shaders/pool.wgsl`).

use super::{interface, Call, Context, Dispatch, GpuLayer, Kernel, Shared, Variant as ShaderVariant};
use crate::graph::{PoolMode, PoolSpec, Shape, Tensor, TensorMut, Window};

interface! {
    "pool", include_str!("../../shaders/pool.wgsl"),
    constants [WORKGROUP_SIZE = 64] entries [main(input, output), rows(input, output)]
    struct Params {
        channels: u32, in_h: u32, in_w: u32, in_c_offset: u32, out_h: u32, out_w: u32, out_c_offset: u32, mode: u32,
        kernel: [u32; 2], stride: [u32; 2], pad: [u32; 2], _pad0: u32, _pad1: u32,
    }
}

const WORKGROUP_SIZE: u32 = SHADER.constant(0);

/// Which entry point of the shader computes a pool: `rows` (4 outputs per invocation,
/// compiled per horizontal stride and window width) where the window is at most 3 wide
/// with a stride of 1 or 2, else `main`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    General,
    Rows { stride: u32, width: u32 },
}

impl Variant {
    pub fn of(spec: &PoolSpec) -> Variant {
        let (width, stride) = (spec.window.kernel.1, spec.window.stride.1);
        if width <= 3 && (stride == 1 || stride == 2) {
            Variant::Rows { stride, width }
        } else {
            Variant::General
        }
    }

    fn kernel(self, ctx: &Context) -> Kernel {
        match self {
            Variant::General => ctx.kernel(&SHADER, &ShaderVariant::entry("main")),
            Variant::Rows { stride, width } => {
                let overrides = [("STRIDE", stride as f64), ("WIDTH", width as f64)];
                ctx.kernel(&SHADER, &ShaderVariant { entry: "rows", overrides: &overrides, prelude: "" })
            }
        }
    }
}

pub fn dispatch(ctx: &Context, call: &Call<PoolSpec>) -> Dispatch {
    let (spec, input_shape) = (call.spec, call.input_shape);
    let out = spec.output_shape(input_shape);
    let w = &spec.window;
    let params = Params {
        channels: input_shape.c,
        in_h: input_shape.h,
        in_w: input_shape.w,
        in_c_offset: call.input.c_offset,
        out_h: out.h,
        out_w: out.w,
        out_c_offset: call.output.c_offset,
        mode: match spec.mode {
            PoolMode::Max => 0,
            PoolMode::Average => 1,
        },
        kernel: w.kernel.into(),
        stride: w.stride.into(),
        pad: w.pad.into(),
        _pad0: 0,
        _pad1: 0,
    };
    let variant = Variant::of(spec);
    let invocations = match variant {
        Variant::General => out.pixels(),
        Variant::Rows { .. } => out.h * out.w.div_ceil(4),
    };
    variant.kernel(ctx).dispatch(
        &ctx.device,
        call.label.to_string(),
        &params,
        &[("input", call.input.buffer.as_entire_binding()), ("output", call.output.buffer.as_entire_binding())],
        [invocations.div_ceil(WORKGROUP_SIZE), out.c, 1],
    )
}

/// The scheduler's pooling layer: no parameters.
pub struct PoolLayer(pub PoolSpec);

impl GpuLayer for PoolLayer {
    fn record(&self, ctx: &Context, call: &Call<()>, _: &Shared) -> Vec<Dispatch> {
        vec![dispatch(ctx, &call.with_spec(&self.0))]
    }
}

/// CPU twin, with the same channel-slice conventions as [`super::conv2d::cpu`].
pub fn cpu(spec: &PoolSpec, input_shape: Shape, input: Tensor, output: TensorMut) {
    let (in_c_offset, out_c_offset) = (input.c_offset, output.c_offset);
    let (input, output) = (input.data, output.data);
    let Window { kernel, stride, pad } = spec.window;
    let out = spec.output_shape(input_shape);
    let (ih, iw) = (input_shape.h as i64, input_shape.w as i64);
    for c in 0..input_shape.c as usize {
        let base = (in_c_offset as usize + c) * (ih * iw) as usize;
        for oy in 0..out.h as i64 {
            for ox in 0..out.w as i64 {
                let ys = oy * stride.0 as i64 - pad.0 as i64;
                let xs = ox * stride.1 as i64 - pad.1 as i64;
                let ye = (ys + kernel.0 as i64).min(ih + pad.0 as i64);
                let xe = (xs + kernel.1 as i64).min(iw + pad.1 as i64);
                let mut best = f32::MIN;
                let mut sum = 0.0f64;
                for y in ys.max(0)..ye.min(ih) {
                    for x in xs.max(0)..xe.min(iw) {
                        let v = input[base + (y * iw + x) as usize];
                        best = best.max(v);
                        sum += v as f64;
                    }
                }
                let v = match spec.mode {
                    PoolMode::Max => best,
                    PoolMode::Average => (sum / ((ye - ys) * (xe - xs)) as f64) as f32,
                };
                output[(out_c_offset as usize + c) * out.pixels() as usize + (oy * out.w as i64 + ox) as usize] = v;
            }
        }
    }
}

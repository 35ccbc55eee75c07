//! Local response normalisation across channels (`shaders/lrn.wgsl`).

use super::{interface, Call, Context, Dispatch, GpuLayer, Shared, Variant};
use crate::graph::{LrnSpec, Shape};

interface! {
    "lrn", include_str!("../../shaders/lrn.wgsl"),
    constants [WORKGROUP_SIZE = 64] entries [main(input, output)]
    struct Params {
        channels: u32, pixels: u32, size: u32, _pad0: u32, alpha: f32, beta: f32, k: f32, _pad1: u32,
    }
}

const WORKGROUP_SIZE: u32 = SHADER.constant(0);

/// LRN reads and writes whole tensors (in GoogLeNet it follows a pool or a conv).
pub fn dispatch(ctx: &Context, call: &Call<LrnSpec>) -> Dispatch {
    let (spec, shape) = (call.spec, call.input_shape);
    assert!(call.input.c_offset == 0 && call.output.c_offset == 0, "LRN works on whole tensors");
    let params = Params {
        channels: shape.c,
        pixels: shape.pixels(),
        size: spec.size,
        _pad0: 0,
        alpha: spec.alpha,
        beta: spec.beta,
        k: spec.k,
        _pad1: 0,
    };
    ctx.kernel(&SHADER, &Variant::entry("main")).dispatch(
        &ctx.device,
        call.label.to_string(),
        &params,
        &[("input", call.input.buffer.as_entire_binding()), ("output", call.output.buffer.as_entire_binding())],
        // each invocation normalises 4 pixels
        [shape.pixels().div_ceil(4 * WORKGROUP_SIZE), 1, 1],
    )
}

/// The scheduler's LRN layer: no parameters.
pub struct LrnLayer(pub LrnSpec);

impl GpuLayer for LrnLayer {
    fn record(&self, ctx: &Context, call: &Call<()>, _: &Shared) -> Vec<Dispatch> {
        vec![dispatch(ctx, &call.with_spec(&self.0))]
    }
}

pub fn cpu(spec: &LrnSpec, shape: Shape, input: &[f32], output: &mut [f32]) {
    let pixels = shape.pixels() as usize;
    let lo = (spec.size as i64 - 1) / 2;
    let hi = spec.size as i64 - 1 - lo;
    for c in 0..shape.c as i64 {
        for m in 0..pixels {
            let mut sum = 0.0f64;
            for j in (c - lo).max(0)..=(c + hi).min(shape.c as i64 - 1) {
                let a = input[j as usize * pixels + m] as f64;
                sum += a * a;
            }
            let scale = spec.k as f64 + spec.alpha as f64 / spec.size as f64 * sum;
            output[c as usize * pixels + m] = (input[c as usize * pixels + m] as f64 * scale.powf(-spec.beta as f64)) as f32;
        }
    }
}

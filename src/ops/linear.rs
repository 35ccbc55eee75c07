//! Fully connected layer (`shaders/linear.wgsl`).

use super::{interface, Call, Context, Dispatch, GpuLayer, Shared, Variant};
use crate::error::Error;
use crate::gpu_objects;
use crate::graph::LinearSpec;
use crate::weights::LayerParams;

interface! {
    "linear", include_str!("../../shaders/linear.wgsl"),
    constants [WORKGROUP_SIZE = 64] entries [main(input, weights, bias, output)]
    struct Params {
        in_features: u32, out_features: u32, relu: u32, _pad: u32,
    }
}

const WORKGROUP_SIZE: u32 = SHADER.constant(0);

/// A linear layer's parameters on the GPU: weights row-major (out, in), and the bias.
pub struct Weights {
    pub weights: gpu_objects::Buffer,
    pub bias: gpu_objects::Buffer,
}

impl Weights {
    pub fn upload(ctx: &Context, label: &str, params: &LayerParams) -> Result<Weights, Error> {
        let weights = ctx.storage(&format!("{label} weights"), bytemuck::cast_slice(&params.weight))?;
        let bias = ctx.storage(&format!("{label} bias"), bytemuck::cast_slice(&params.bias))?;
        Ok(Weights { weights, bias })
    }
}

/// Records `output = relu?(weights * input + bias)` over the whole input, flattened.
pub fn dispatch(ctx: &Context, call: &Call<LinearSpec>, weights: &Weights) -> Dispatch {
    assert!(call.input.c_offset == 0 && call.output.c_offset == 0, "linear layers work on whole vectors");
    let spec = call.spec;
    let in_features = call.input_shape.elements() as u32;
    let params = Params { in_features, out_features: spec.out_features, relu: spec.relu as u32, _pad: 0 };
    ctx.kernel(&SHADER, &Variant::entry("main")).dispatch(
        &ctx.device,
        call.label.to_string(),
        &params,
        &[
            ("input", call.input.buffer.as_entire_binding()),
            ("weights", weights.weights.as_entire_binding()),
            ("bias", weights.bias.as_entire_binding()),
            ("output", call.output.buffer.as_entire_binding()),
        ],
        [spec.out_features.div_ceil(WORKGROUP_SIZE), 1, 1],
    )
}

/// The scheduler's linear layer.
pub struct LinearLayer {
    pub spec: LinearSpec,
    pub weights: Weights,
}

impl GpuLayer for LinearLayer {
    fn record(&self, ctx: &Context, call: &Call<()>, _: &Shared) -> Vec<Dispatch> {
        vec![dispatch(ctx, &call.with_spec(&self.spec), &self.weights)]
    }

    fn weight_bytes(&self) -> u64 {
        self.weights.weights.size() + self.weights.bias.size()
    }

    fn weight_matrix(&self) -> Option<&wgpu::Buffer> {
        Some(&self.weights.weights)
    }
}

pub fn cpu(spec: &LinearSpec, input: &[f32], weights: &[f32], bias: &[f32], output: &mut [f32]) {
    let n = input.len();
    for j in 0..spec.out_features as usize {
        let dot: f64 = weights[j * n..(j + 1) * n].iter().zip(input).map(|(w, x)| *w as f64 * *x as f64).sum();
        let v = (bias[j] as f64 + dot) as f32;
        output[j] = if spec.relu { v.max(0.0) } else { v };
    }
}

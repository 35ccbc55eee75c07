//! Fully connected layer (`shaders/linear.wgsl`).

use super::{Dispatch, Kernel, View};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearSpec {
    pub out_features: u32,
    pub relu: bool,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    in_features: u32,
    out_features: u32,
    relu: u32,
    _pad: u32,
}

/// Records `output = relu?(weights * input + bias)`; weights row-major (out, in).
#[allow(clippy::too_many_arguments)]
pub fn dispatch(
    kernel: &Kernel,
    device: &wgpu::Device,
    label: String,
    spec: &LinearSpec,
    in_features: u32,
    input: View,
    weights: &wgpu::Buffer,
    bias: &wgpu::Buffer,
    output: View,
) -> Dispatch {
    assert!(input.c_offset == 0 && output.c_offset == 0, "linear layers work on whole vectors");
    let params = Params { in_features, out_features: spec.out_features, relu: spec.relu as u32, _pad: 0 };
    kernel.dispatch(
        device,
        label,
        &params,
        &[
            input.buffer.as_entire_binding(),
            weights.as_entire_binding(),
            bias.as_entire_binding(),
            output.buffer.as_entire_binding(),
        ],
        [spec.out_features.div_ceil(64), 1, 1],
    )
}

pub fn cpu(spec: &LinearSpec, input: &[f32], weights: &[f32], bias: &[f32], output: &mut [f32]) {
    let n = input.len();
    for j in 0..spec.out_features as usize {
        let dot: f64 = weights[j * n..(j + 1) * n].iter().zip(input).map(|(w, x)| *w as f64 * *x as f64).sum();
        let v = (bias[j] as f64 + dot) as f32;
        output[j] = if spec.relu { v.max(0.0) } else { v };
    }
}

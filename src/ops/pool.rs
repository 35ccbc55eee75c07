//! Max and average pooling, including global average pooling (`shaders/pool.wgsl`).

use super::{Dispatch, Kernel, Kernels, Shape, View};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolMode {
    /// Positions outside the input are ignored.
    Max,
    /// Average with padding counted in the divisor (PyTorch's `count_include_pad=True`).
    Average,
}

/// The geometry of a pooling layer, with PyTorch's and Caffe's output-size rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolSpec {
    pub mode: PoolMode,
    pub kernel: (u32, u32),
    pub stride: (u32, u32),
    pub pad: (u32, u32),
    /// Round the output size up (ceil mode) instead of down.
    pub ceil: bool,
}

impl PoolSpec {
    pub fn max(kernel: u32, stride: u32, pad: u32, ceil: bool) -> PoolSpec {
        PoolSpec { mode: PoolMode::Max, kernel: (kernel, kernel), stride: (stride, stride), pad: (pad, pad), ceil }
    }
    pub fn average(kernel: u32, stride: u32, pad: u32, ceil: bool) -> PoolSpec {
        PoolSpec { mode: PoolMode::Average, ..PoolSpec::max(kernel, stride, pad, ceil) }
    }
    /// Average over the whole plane: one value per channel.
    pub fn global_average(input: Shape) -> PoolSpec {
        PoolSpec { mode: PoolMode::Average, kernel: (input.h, input.w), stride: (1, 1), pad: (0, 0), ceil: false }
    }

    pub fn output_shape(&self, input: Shape) -> Shape {
        Shape::new(
            input.c,
            pooled_len(input.h, self.kernel.0, self.stride.0, self.pad.0, self.ceil),
            pooled_len(input.w, self.kernel.1, self.stride.1, self.pad.1, self.ceil),
        )
    }
}

/// PyTorch's rule (which matches Caffe's): in ceil mode the last window must still start
/// inside the input or its left padding.
fn pooled_len(n: u32, k: u32, s: u32, pad: u32, ceil: bool) -> u32 {
    let span = n + 2 * pad - k;
    let mut out = if ceil { span.div_ceil(s) + 1 } else { span / s + 1 };
    if ceil && (out - 1) * s >= n + pad {
        out -= 1;
    }
    out
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    channels: u32,
    in_h: u32,
    in_w: u32,
    in_c_offset: u32,
    out_h: u32,
    out_w: u32,
    out_c_offset: u32,
    mode: u32,
    kernel_h: u32,
    kernel_w: u32,
    stride_h: u32,
    stride_w: u32,
    pad_h: u32,
    pad_w: u32,
    _pad: [u32; 2],
}

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
        let (width, stride) = (spec.kernel.1, spec.stride.1);
        if width <= 3 && (stride == 1 || stride == 2) {
            Variant::Rows { stride, width }
        } else {
            Variant::General
        }
    }

    pub(super) fn compile(self, device: &wgpu::Device) -> Kernel {
        match self {
            Variant::General => Kernel::new(device, "pool", SHADER),
            Variant::Rows { stride, width } => {
                let constants = [("STRIDE", stride as f64), ("WIDTH", width as f64)];
                Kernel::build(device, "pool rows", SHADER, "rows", &constants)
            }
        }
    }
}

const SHADER: &str = include_str!("../../shaders/pool.wgsl");

pub fn dispatch(
    kernels: &Kernels,
    device: &wgpu::Device,
    label: String,
    spec: &PoolSpec,
    input_shape: Shape,
    input: View,
    output: View,
) -> Dispatch {
    let out = spec.output_shape(input_shape);
    let params = Params {
        channels: input_shape.c,
        in_h: input_shape.h,
        in_w: input_shape.w,
        in_c_offset: input.c_offset,
        out_h: out.h,
        out_w: out.w,
        out_c_offset: output.c_offset,
        mode: match spec.mode {
            PoolMode::Max => 0,
            PoolMode::Average => 1,
        },
        kernel_h: spec.kernel.0,
        kernel_w: spec.kernel.1,
        stride_h: spec.stride.0,
        stride_w: spec.stride.1,
        pad_h: spec.pad.0,
        pad_w: spec.pad.1,
        _pad: [0; 2],
    };
    let variant = Variant::of(spec);
    let workgroups = match variant {
        Variant::General => [out.pixels().div_ceil(64), out.c, 1],
        Variant::Rows { .. } => [(out.h * out.w.div_ceil(4)).div_ceil(64), out.c, 1],
    };
    kernels.pool(variant).dispatch(
        device,
        label,
        &params,
        &[input.buffer.as_entire_binding(), output.buffer.as_entire_binding()],
        workgroups,
    )
}

/// CPU twin, with the same channel-slice conventions as [`super::conv2d::cpu`].
pub fn cpu(spec: &PoolSpec, input_shape: Shape, input: &[f32], in_c_offset: u32, output: &mut [f32], out_c_offset: u32) {
    let out = spec.output_shape(input_shape);
    let (ih, iw) = (input_shape.h as i64, input_shape.w as i64);
    for c in 0..input_shape.c as usize {
        let base = (in_c_offset as usize + c) * (ih * iw) as usize;
        for oy in 0..out.h as i64 {
            for ox in 0..out.w as i64 {
                let ys = oy * spec.stride.0 as i64 - spec.pad.0 as i64;
                let xs = ox * spec.stride.1 as i64 - spec.pad.1 as i64;
                let ye = (ys + spec.kernel.0 as i64).min(ih + spec.pad.0 as i64);
                let xe = (xs + spec.kernel.1 as i64).min(iw + spec.pad.1 as i64);
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

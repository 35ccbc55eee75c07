//! One module per layer type, each beside its WGSL shader in `shaders/`: the uniform
//! `Params` struct the shader reads, a function that records a [`Dispatch`], and a plain-Rust
//! CPU twin with the same semantics, which the tests compare the shader against.
//!
//! Tensors are CHW f32 (batch 1) everywhere. Ops that read or write "a channel slice" take a
//! channel offset: the slice of channels `offset..offset + c` of a larger tensor is one
//! contiguous range in CHW, which is what makes concatenation free.

pub mod conv2d;
pub mod linear;
pub mod lrn;
pub mod pool;
pub mod preprocess;
pub mod softmax_topk;
pub mod winograd;

use bytemuck::Pod;

/// A compiled compute pipeline for one WGSL shader (entry point `main`).
#[derive(Clone)]
pub struct Kernel {
    pub label: &'static str,
    pipeline: wgpu::ComputePipeline,
}

impl Kernel {
    pub fn new(device: &wgpu::Device, label: &'static str, source: &str) -> Kernel {
        Kernel::build(device, label, source, "main", &[])
    }

    /// A pipeline with WGSL `override` constants set (kernel variants of one shader).
    pub fn with_constants(device: &wgpu::Device, label: &'static str, source: &str, constants: &[(&str, f64)]) -> Kernel {
        Kernel::build(device, label, source, "main", constants)
    }

    /// A pipeline for one of several entry points of a shader.
    pub fn entry(device: &wgpu::Device, label: &'static str, source: &str, entry_point: &str) -> Kernel {
        Kernel::build(device, label, source, entry_point, &[])
    }

    pub fn build(
        device: &wgpu::Device,
        label: &'static str,
        source: &str,
        entry_point: &str,
        constants: &[(&str, f64)],
    ) -> Kernel {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(label),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(label),
            layout: None,
            module: &module,
            entry_point: Some(entry_point),
            compilation_options: wgpu::PipelineCompilationOptions { constants, ..Default::default() },
            cache: None,
        });
        Kernel { label, pipeline }
    }

    /// Records one dispatch of this kernel: `params` go into a uniform buffer at binding 0,
    /// `resources` take bindings 1, 2, ... in order.
    pub fn dispatch<P: Pod>(
        &self,
        device: &wgpu::Device,
        label: String,
        params: &P,
        resources: &[wgpu::BindingResource],
        workgroups: [u32; 3],
    ) -> Dispatch {
        use wgpu::util::DeviceExt;
        let uniform = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(&label),
            contents: bytemuck::bytes_of(params),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let mut entries = vec![wgpu::BindGroupEntry { binding: 0, resource: uniform.as_entire_binding() }];
        for (i, resource) in resources.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry { binding: i as u32 + 1, resource: resource.clone() });
        }
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(&label),
            layout: &self.pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        Dispatch { label, pipeline: self.pipeline.clone(), bind_group, workgroups }
    }
}

/// One recorded compute dispatch: everything it needs was created at load time, so
/// encoding a frame only replays these.
pub struct Dispatch {
    pub label: String,
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    pub workgroups: [u32; 3],
}

impl Dispatch {
    pub fn encode(&self, pass: &mut wgpu::ComputePass<'_>) {
        self.encode_after(pass, None);
    }

    /// Encodes this dispatch after `previous` in the same pass, setting the pipeline only
    /// if it changed (runs of convolutions share one): less CPU time per frame.
    pub fn encode_after(&self, pass: &mut wgpu::ComputePass<'_>, previous: Option<&Dispatch>) {
        if previous.is_none_or(|p| p.pipeline != self.pipeline) {
            pass.set_pipeline(&self.pipeline);
        }
        pass.set_bind_group(0, &self.bind_group, &[]);
        let [x, y, z] = self.workgroups;
        pass.dispatch_workgroups(x, y, z);
    }
}

/// Every kernel of the engine, compiled once per device. Convolution and pooling variants
/// are compiled on first use.
pub struct Kernels {
    device: wgpu::Device,
    /// How the convolutions this set records store their weights.
    pub precision: conv2d::Precision,
    conv2d: std::sync::Mutex<std::collections::HashMap<conv2d::Variant, Kernel>>,
    pool: std::sync::Mutex<std::collections::HashMap<pool::Variant, Kernel>>,
    pub lrn: Kernel,
    pub linear: Kernel,
    pub softmax_topk: Kernel,
    pub preprocess: Kernel,
    pub winograd_input: Kernel,
    pub winograd_output: Kernel,
    pub winograd_input_4x4: Kernel,
    pub winograd_output_4x4: Kernel,
}

impl Kernels {
    pub fn new(device: &wgpu::Device) -> Kernels {
        Kernels::with_precision(device, conv2d::Precision::F32)
    }

    pub fn with_precision(device: &wgpu::Device, precision: conv2d::Precision) -> Kernels {
        Kernels {
            device: device.clone(),
            precision,
            conv2d: Default::default(),
            pool: Default::default(),
            lrn: Kernel::new(device, "lrn", include_str!("../../shaders/lrn.wgsl")),
            linear: Kernel::new(device, "linear", include_str!("../../shaders/linear.wgsl")),
            softmax_topk: Kernel::new(device, "softmax_topk", include_str!("../../shaders/softmax_topk.wgsl")),
            preprocess: Kernel::new(device, "preprocess", include_str!("../../shaders/preprocess.wgsl")),
            winograd_input: Kernel::entry(device, "winograd input", winograd::SHADER, "input_transform"),
            winograd_output: Kernel::entry(device, "winograd output", winograd::SHADER, "output_transform"),
            winograd_input_4x4: Kernel::entry(device, "winograd input 4x4", winograd::SHADER, "input_transform_4x4"),
            winograd_output_4x4: Kernel::entry(device, "winograd output 4x4", winograd::SHADER, "output_transform_4x4"),
        }
    }

    /// The pooling pipeline of one variant.
    pub fn pool(&self, variant: pool::Variant) -> Kernel {
        let mut compiled = self.pool.lock().unwrap();
        compiled.entry(variant).or_insert_with(|| variant.compile(&self.device)).clone()
    }

    /// The convolution pipeline of one variant.
    pub fn conv2d(&self, variant: conv2d::Variant) -> Kernel {
        let mut compiled = self.conv2d.lock().unwrap();
        compiled.entry(variant).or_insert_with(|| variant.compile(&self.device)).clone()
    }
}

/// A CHW tensor shape (batch 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub c: u32,
    pub h: u32,
    pub w: u32,
}

impl Shape {
    pub const fn new(c: u32, h: u32, w: u32) -> Shape {
        Shape { c, h, w }
    }
    pub fn pixels(&self) -> u32 {
        self.h * self.w
    }
    pub fn elements(&self) -> usize {
        (self.c * self.h * self.w) as usize
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.c, self.h, self.w)
    }
}

/// Where an op reads or writes a tensor on the GPU: a buffer and the first channel of the
/// tensor's slice inside it.
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub buffer: &'a wgpu::Buffer,
    pub c_offset: u32,
}

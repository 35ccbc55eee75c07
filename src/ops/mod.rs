//! One module per layer type, each beside its WGSL shader in `shaders/`: the shader's
//! interface ([`Shader`]: its `Params` uniform, its entry points and their bindings, the
//! constants the Rust side sets), a `dispatch` that records one described call, the
//! layer's upload ([`GpuLayer`], for the scheduler) and a plain-Rust CPU twin with the same
//! semantics, which the tests compare the shader against.
//!
//! Tensors are CHW f32 (batch 1) everywhere. Ops that read or write "a channel slice" take a
//! channel offset: the slice of channels `offset..offset + c` of a larger tensor is one
//! contiguous range in CHW, which is what makes concatenation free.

pub mod cam;
pub mod conv2d;
pub mod convolution;
pub mod linear;
pub mod lrn;
pub mod pool;
pub mod preprocess;
pub mod softmax_topk;
pub mod winograd;

mod shader;

pub use shader::{Entry, Field, Shader, Variant, WgslType};

use crate::error::Error;
use crate::gpu::Gpu;
use crate::gpu_objects;
use crate::graph::Shape;
use crate::tensors::Precision;
use bytemuck::Pod;
use std::collections::HashMap;
use std::sync::Mutex;

/// Every shader of the engine, for the interface test (tests/shaders.rs).
pub const SHADERS: [&Shader; 8] = [
    &cam::SHADER,
    &conv2d::SHADER,
    &winograd::SHADER,
    &pool::SHADER,
    &lrn::SHADER,
    &linear::SHADER,
    &softmax_topk::SHADER,
    &preprocess::SHADER,
];

/// What every op records its work with: the device, its queue, how convolution weights are
/// stored, and the compiled pipelines (each compiled on first use, then shared).
pub struct Context {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub precision: Precision,
    kernels: Mutex<HashMap<String, Kernel>>,
}

impl Context {
    pub fn new(gpu: &Gpu, precision: Precision) -> Result<Context, Error> {
        if precision == Precision::F16 && !gpu.has_f16() {
            return Err(Error::Gpu("float16 weights need the shader-f16 feature, which this adapter lacks".into()));
        }
        Ok(Context { device: gpu.device.clone(), queue: gpu.queue.clone(), precision, kernels: Default::default() })
    }

    /// The pipeline of one entry point of a shader, with its override constants.
    pub fn kernel(&self, shader: &'static Shader, variant: &Variant) -> Kernel {
        // (override values are whole numbers: formatting them as such keeps core's float
        // formatting, about 30 KB, out of the wasm)
        let overrides: String = variant.overrides.iter().map(|(name, value)| format!(" {name}={}", *value as i64)).collect();
        let key = format!("{} {} {}{overrides}", shader.label, variant.entry, variant.prelude);
        let mut compiled = self.kernels.lock().unwrap();
        compiled.entry(key).or_insert_with(|| Kernel::build(&self.device, shader, variant)).clone()
    }

    /// A read-only storage buffer holding `bytes`, refused if the adapter cannot bind it.
    pub fn storage(&self, label: &str, bytes: &[u8]) -> Result<gpu_objects::Buffer, Error> {
        let max_binding = self.device.limits().max_storage_buffer_binding_size;
        if bytes.len() as u64 > max_binding {
            return Err(Error::Gpu(format!("{label} needs more than the {max_binding} bytes this adapter can bind")));
        }
        let descriptor =
            wgpu::util::BufferInitDescriptor { label: Some(label), contents: bytes, usage: wgpu::BufferUsages::STORAGE };
        Ok(gpu_objects::buffer_init(&self.device, &descriptor))
    }
}

/// A compiled compute pipeline for one entry point of a shader.
#[derive(Clone)]
pub struct Kernel {
    pipeline: wgpu::ComputePipeline,
    /// The entry point's bindings after the uniform, in binding order (1, 2, ...).
    bindings: &'static [&'static str],
}

impl Kernel {
    fn build(device: &wgpu::Device, shader: &'static Shader, variant: &Variant) -> Kernel {
        let source = shader.source(variant.prelude);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(shader.label),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(shader.label),
            layout: None,
            module: &module,
            entry_point: Some(variant.entry),
            compilation_options: wgpu::PipelineCompilationOptions { constants: variant.overrides, ..Default::default() },
            cache: None,
        });
        Kernel { pipeline, bindings: shader.entry(variant.entry).bindings }
    }

    /// Records one dispatch of this kernel: `params` go into a uniform buffer at binding 0,
    /// each named resource to the binding the shader declares under that name.
    pub fn dispatch<P: Pod>(
        &self,
        device: &wgpu::Device,
        label: String,
        params: &P,
        resources: &[(&str, wgpu::BindingResource)],
        workgroups: [u32; 3],
    ) -> Dispatch {
        let names = resources.iter().map(|(name, _)| *name);
        assert!(names.eq(self.bindings.iter().copied()), "{label}: the resources bound are not the shader's bindings");
        let uniform = gpu_objects::buffer_init(
            device,
            &wgpu::util::BufferInitDescriptor {
                label: Some(&label),
                contents: bytemuck::bytes_of(params),
                usage: wgpu::BufferUsages::UNIFORM,
            },
        );
        let mut entries = vec![wgpu::BindGroupEntry { binding: 0, resource: uniform.as_entire_binding() }];
        for (i, (_, resource)) in resources.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry { binding: i as u32 + 1, resource: resource.clone() });
        }
        let bind_group = gpu_objects::bind_group(
            device,
            &wgpu::BindGroupDescriptor {
                label: Some(&label),
                layout: &self.pipeline.get_bind_group_layout(0),
                entries: &entries,
            },
        );
        Dispatch { label, pipeline: self.pipeline.clone(), bind_group, _uniform: uniform, workgroups }
    }
}

/// One recorded compute dispatch: everything it needs was created at load time, so
/// encoding a frame only replays these.
pub struct Dispatch {
    pub label: String,
    pipeline: wgpu::ComputePipeline,
    bind_group: gpu_objects::BindGroup,
    // (the bind group holds it on the GPU; held here too so that it stays counted)
    _uniform: gpu_objects::Buffer,
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
        pass.set_bind_group(0, &*self.bind_group, &[]);
        let [x, y, z] = self.workgroups;
        pass.dispatch_workgroups(x, y, z);
    }
}

/// Where an op reads or writes a tensor on the GPU: a buffer and the first channel of the
/// tensor's slice inside it.
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub buffer: &'a wgpu::Buffer,
    pub c_offset: u32,
}

/// One described call of an op: what it computes (`spec`), on what input, into what.
pub struct Call<'a, S> {
    pub label: &'a str,
    pub spec: &'a S,
    pub input_shape: Shape,
    pub input: View<'a>,
    pub output: View<'a>,
}

impl<'a> Call<'a, ()> {
    /// This call with the layer's spec, for its op's `dispatch`.
    pub fn with_spec<'b, S>(&self, spec: &'b S) -> Call<'b, S>
    where
        'a: 'b,
    {
        Call { label: self.label, spec, input_shape: self.input_shape, input: self.input, output: self.output }
    }
}

/// Buffers the layers of a network share rather than each holding its own: Winograd's
/// intermediate tensors, sized for the largest layer that uses them.
#[derive(Default)]
pub struct Shared {
    pub winograd: Option<winograd::Scratch>,
}

/// A layer whose parameters are on the GPU: what the scheduler holds per layer, whatever
/// its type. Only convolutions have several kernels to choose from; the defaults say
/// "one kernel, nothing to choose".
pub trait GpuLayer {
    /// Records the layer's dispatches (a Winograd convolution has three) for `call`.
    fn record(&self, ctx: &Context, call: &Call<()>, shared: &Shared) -> Vec<Dispatch>;

    /// Bytes of parameters it holds on the GPU.
    fn weight_bytes(&self) -> u64 {
        0
    }

    /// The Winograd scratch (V, M bytes) its kernels may need.
    fn scratch_bytes(&self) -> (u64, u64) {
        (0, 0)
    }

    /// The choice of kernel of a layer that has one.
    fn tuning(&self) -> Option<&convolution::ConvLayer> {
        None
    }

    fn tuning_mut(&mut self) -> Option<&mut convolution::ConvLayer> {
        None
    }

    /// Its weights as a float32 row-major (out, in) matrix, for an op that reads another
    /// layer's parameters: class activation maps read the classifier's.
    fn weight_matrix(&self) -> Option<&wgpu::Buffer> {
        None
    }
}

/// Declares an op's uniform `Params` struct (`#[repr(C)]`, plain old data) together with
/// its field layout, from which the engine writes the WGSL `struct Params` before the
/// shader (see [`Shader::source`]); tests/shaders.rs checks that WGSL's layout rules put
/// every field where `#[repr(C)]` does.
macro_rules! params {
    ($(#[$meta:meta])* struct $name:ident { $($(#[$doc:meta])* $field:ident: $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
        pub struct $name {
            $($(#[$doc])* pub $field: $ty),*
        }

        impl $name {
            pub const LAYOUT: &'static [$crate::ops::Field] = &[$($crate::ops::Field {
                name: stringify!($field),
                wgsl_type: <$ty as $crate::ops::WgslType>::NAME,
                offset: std::mem::offset_of!($name, $field),
                size: std::mem::size_of::<$ty>(),
            }),*];
        }
    };
}
pub(crate) use params;

/// Declares an op's whole shader interface at once: [`Shader`] as `SHADER` (label, WGSL
/// file, the constants written into it, entry points with the names of their bindings)
/// and its `Params` struct (see `params!`).
macro_rules! interface {
    (
        $label:literal, $wgsl:expr,
        constants [$($constant:ident = $value:expr),* $(,)?]
        entries [$($entry:ident($($binding:ident),*)),* $(,)?]
        $(#[$meta:meta])* struct Params { $($fields:tt)* }
    ) => {
        $crate::ops::params! { $(#[$meta])* struct Params { $($fields)* } }

        pub const SHADER: $crate::ops::Shader = $crate::ops::Shader {
            label: $label,
            wgsl: $wgsl,
            constants: &[$((stringify!($constant), $value)),*],
            params: Params::LAYOUT,
            entries: &[$($crate::ops::Entry { name: stringify!($entry), bindings: &[$(stringify!($binding)),*] }),*],
        };
    };
}
pub(crate) use interface;

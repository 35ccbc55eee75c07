//! The scheduler: turns a loaded [`Model`] into GPU work. Everything (pipelines, weight
//! and activation buffers, bind groups) is created once here; a forward pass replays the
//! recorded dispatches into one command buffer, submits it once and reads back only the
//! top-k classes (and the logits, when asked), asynchronously.

use crate::error::Error;
use crate::gpu::{ErrorLog, Gpu};
use crate::gpu_objects;
use crate::graph::{Graph, TensorId};
use crate::models::Model;
use crate::ops::conv2d::{self};
use crate::ops::{preprocess, winograd, Context, Dispatch, Shared};
use crate::plan::{no_cams, producer_of, Output, Stats};
use crate::tensors::Precision;

pub(crate) mod layers;
mod memory;
mod readback;
mod tuning;

pub use crate::ops::convolution::ConvKernel;
pub use layers::{GpuOp, Layer};
use memory::Memory;
use readback::Readback;
pub use readback::Ticket;
pub use tuning::{KernelChoice, Tuning};

#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Share activation buffers between tensors whose lifetimes do not overlap. Off keeps
    /// every intermediate tensor readable after a pass (for debugging and layer tests).
    pub reuse_memory: bool,
    /// How convolution weights are stored. Float32 by default (results as exact as the
    /// engine gets); [`Options::fastest`] picks float16 where the adapter can.
    pub precision: Precision,
}

impl Default for Options {
    fn default() -> Self {
        Options { reuse_memory: true, precision: Precision::F32 }
    }
}

impl Options {
    /// Float16 weights where the adapter has shader-f16: what the page uses.
    pub fn fastest(gpu: &Gpu) -> Options {
        let precision = if gpu.has_f16() { Precision::F16 } else { Precision::F32 };
        Options { precision, ..Options::default() }
    }
}

pub struct Network {
    ctx: Context,
    graph: Graph,
    max_texture_side: u32,
    memory: Memory,
    /// The forward pass after preprocessing, in order.
    layers: Vec<Layer>,
    shared: Shared,
    readback: Readback,
    image: Option<(gpu_objects::Texture, Dispatch)>,
    /// An image larger than a texture may be, resized and normalised on the CPU (the same
    /// antialiased resize as the shader): written into the input buffer before each pass,
    /// whose memory later layers reuse, instead of the preprocessing dispatch.
    staged_input: Option<Vec<f32>>,
    /// The adapter is a CPU (llvmpipe, SwiftShader), where barriers are slow.
    software: bool,
    errors: ErrorLog,
    /// Each pass also computes the class activation maps of its top-k ([`Network::set_cams`]).
    cams: bool,
    pub stats: Stats,
}

impl Network {
    pub fn new(gpu: &Gpu, model: &Model) -> Result<Network, Error> {
        Network::with_options(gpu, model, Options::default())
    }

    pub fn with_options(gpu: &Gpu, model: &Model, options: Options) -> Result<Network, Error> {
        let ctx = Context::new(gpu, options.precision)?;
        let memory = Memory::plan(&ctx.device, &model.graph, options.reuse_memory)?;
        let layers = layers::upload(&ctx, model, &memory)?;
        let shared = Shared { winograd: winograd_scratch(&ctx, &layers)? };
        // (the classifier is the last layer; its matrix is what activation maps weigh with)
        let classifier_weights = layers.last().and_then(|l| l.op.layer.weight_matrix());
        let readback = Readback::new(gpu, &ctx, &model.graph, &memory, classifier_weights);
        let scratch_bytes = shared.winograd.as_ref().map_or(0, |s| s.v.size() + s.m.size());
        let stats = Stats {
            weight_bytes: layers.iter().map(|l| l.op.layer.weight_bytes()).sum(),
            activation_bytes: memory.bytes + scratch_bytes,
            dispatches: 0, // counted once the layers are recorded
            multiply_adds: model.graph.multiply_adds(),
        };
        let mut network = Network {
            max_texture_side: ctx.device.limits().max_texture_dimension_2d,
            ctx,
            graph: model.graph.clone(),
            memory,
            layers,
            shared,
            readback,
            image: None,
            staged_input: None,
            software: gpu.is_software(),
            errors: gpu.errors.clone(),
            cams: false,
            stats,
        };
        network.record((0..network.layers.len()).collect());
        Ok(network)
    }

    /// Records the dispatches of the given layers again, and counts them all.
    fn record(&mut self, layers: Vec<usize>) {
        for i in layers {
            self.layers[i].record(&self.ctx, &self.memory, &self.shared);
        }
        // preprocessing, the layers, top-k
        self.stats.dispatches = 2 + self.layers.iter().map(|l| l.op.dispatches.len()).sum::<usize>();
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The layers of the forward pass after preprocessing, in order.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Whether each pass also computes the class activation maps of the classes it ranks
    /// (`Output::cams`); refused for a network without global average pooling and one
    /// linear layer at its end.
    pub fn set_cams(&mut self, on: bool) -> Result<(), Error> {
        if on && !self.readback.has_cams() {
            return Err(no_cams());
        }
        self.cams = on;
        Ok(())
    }

    /// How the convolution weights are stored.
    pub fn precision(&self) -> Precision {
        self.ctx.precision
    }

    /// The input texture if it already has this size: unlike [`Network::image_texture`]
    /// this needs no exclusive access, so a frame can be uploaded while the previous pass
    /// is still being read back.
    pub fn texture_of_size(&self, width: u32, height: u32) -> Option<&wgpu::Texture> {
        self.image.as_ref().map(|(t, _)| &**t).filter(|t| (t.width(), t.height()) == (width, height))
    }

    /// The texture the next pass classifies, (re)created for images of `width` x `height`.
    /// Natively [`Network::set_image`] fills it; on the web the page copies a video frame
    /// or a bitmap straight into it.
    pub fn image_texture(&mut self, width: u32, height: u32) -> Result<&wgpu::Texture, Error> {
        if width == 0 || height == 0 || width > self.max_texture_side || height > self.max_texture_side {
            return Err(Error::Image(format!(
                "the image is {width}x{height} pixels; this GPU takes images of 1 to {} pixels per side",
                self.max_texture_side
            )));
        }
        self.staged_input = None;
        if self.texture_of_size(width, height).is_none() {
            let texture = preprocess::create_texture(&self.ctx.device, width, height);
            let dispatch = preprocess::dispatch(&self.ctx, &self.graph.input_spec, &texture, self.memory.view(self.graph.input));
            self.image = Some((texture, dispatch));
        }
        Ok(&self.image.as_ref().unwrap().0)
    }

    /// Uploads tightly packed RGBA8 pixels as the image to classify; one wider or taller than
    /// the adapter's textures is resized on the CPU first.
    pub fn set_image(&mut self, rgba: &[u8], width: u32, height: u32) -> Result<(), Error> {
        if width == 0 || height == 0 || rgba.len() as u64 != 4 * width as u64 * height as u64 {
            return Err(Error::Image(format!("{} bytes is not a {width}x{height} RGBA image", rgba.len())));
        }
        if width.max(height) > self.max_texture_side {
            let spec = &self.graph.input_spec;
            let mut input = vec![0.0; spec.output_shape().elements()];
            crate::plan::input::run(spec, rgba, width, height, &mut input);
            self.staged_input = Some(input);
            return Ok(());
        }
        let texture = self.image_texture(width, height)?.clone();
        preprocess::write_texture(&self.ctx.queue, &texture, rgba);
        Ok(())
    }

    fn preprocess(&self) -> Result<&Dispatch, Error> {
        if self.staged_input.is_some() {
            return Err(Error::Usage(
                "timing layers needs an image within the GPU's texture size (this one was resized on the CPU)".into(),
            ));
        }
        self.image.as_ref().map(|(_, d)| d).ok_or_else(|| Error::Usage("no image to classify yet".into()))
    }

    /// Records a whole forward pass (preprocessing to top-k) into one command buffer, to
    /// submit, then to read back with [`Network::read_output`] and the returned ticket. At
    /// most two passes may await their readback at once.
    pub fn encode(&self, with_logits: bool) -> Result<(wgpu::CommandBuffer, Ticket), Error> {
        let mut encoder = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("forward") });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("forward"),
                timestamp_writes: self.readback.timestamp_writes(),
            });
            let last = self.encode_layers(&mut pass, &self.layers)?;
            self.readback.encode(&mut pass, last, self.cams);
        }
        let logits = with_logits.then(|| self.memory.view(self.graph.output).buffer);
        let ticket = self.readback.copy(&mut encoder, logits, self.cams);
        Ok((encoder.finish(), ticket))
    }

    /// Records preprocessing (or writes the staged input, before this pass's commands run at
    /// the next submit) and `layers`; returns the last dispatch, which what follows waits for.
    fn encode_layers<'a>(&'a self, pass: &mut wgpu::ComputePass, layers: &'a [Layer]) -> Result<Option<&'a Dispatch>, Error> {
        let preprocess = match &self.staged_input {
            Some(input) => {
                let view = self.memory.view(self.graph.input);
                self.ctx.queue.write_buffer(view.buffer, 0, bytemuck::cast_slice(input));
                None
            }
            None => Some(self.preprocess()?),
        };
        if let Some(preprocess) = preprocess {
            preprocess.encode(pass);
        }
        let mut previous = preprocess;
        for dispatch in layers.iter().flat_map(|l| &l.op.dispatches) {
            dispatch.encode_after(pass, previous);
            previous = Some(dispatch);
        }
        Ok(previous)
    }

    /// The values of `tensor` (C x H x W) on the current image: the pass is run up to the
    /// last layer before the node that produces it (its memory is not yet reused then) and
    /// the tensor read back. For the explorer's feature maps, while it is open.
    pub async fn read_activation(&self, tensor: TensorId) -> Result<Vec<f32>, Error> {
        let producer = producer_of(&self.graph, tensor)?;
        let until = self.layers.iter().position(|l| l.nodes[0] > producer).unwrap_or(self.layers.len());
        let (place, shape) = (self.memory.places[tensor], self.graph.shapes[tensor]);
        let bytes = 4 * shape.elements() as u64;
        let staging = gpu_objects::buffer(
            &self.ctx.device,
            &wgpu::BufferDescriptor {
                label: Some("activation readback"),
                size: bytes,
                usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
                mapped_at_creation: false,
            },
        );
        let mut encoder = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("activation") });
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            self.encode_layers(&mut pass, &self.layers[..until])?;
        }
        let offset = 4 * place.channel_offset as u64 * shape.pixels() as u64;
        encoder.copy_buffer_to_buffer(&self.memory.buffers[place.slot], offset, &staging, 0, bytes);
        self.ctx.queue.submit([encoder.finish()]);
        let data = self.errors.check_after(crate::gpu::map_read(&self.ctx.device, &staging).await)?;
        Ok(bytemuck::pod_collect_to_vec(&data))
    }

    /// Runs a forward pass on the current image and awaits its result. Two runs may be in
    /// flight at once: the second is queued behind the first on the GPU.
    pub async fn run(&self, with_logits: bool) -> Result<Output, Error> {
        let ticket = self.submit(with_logits)?;
        self.read_output(ticket).await
    }

    /// Encodes and submits a forward pass on the current image; the image texture may be
    /// refilled for the next one as soon as this returns.
    pub fn submit(&self, with_logits: bool) -> Result<Ticket, Error> {
        let (commands, ticket) = self.encode(with_logits)?;
        self.ctx.queue.submit([commands]);
        Ok(ticket)
    }

    /// Awaits the result of a pass already submitted.
    pub async fn read_output(&self, ticket: Ticket) -> Result<Output, Error> {
        self.errors.check_after(self.readback.read(&self.ctx.device, ticket).await)
    }

    /// Uploads an image and classifies it.
    pub async fn classify(&mut self, rgba: &[u8], width: u32, height: u32, with_logits: bool) -> Result<Output, Error> {
        self.set_image(rgba, width, height)?;
        self.run(with_logits).await
    }

    /// Reads back a tensor of the last pass by the name of the node that produced it
    /// ("data" is the preprocessed input). Only meaningful with `reuse_memory: false`.
    pub async fn read_tensor(&self, gpu: &Gpu, name: &str) -> Result<Vec<f32>, Error> {
        let tensor = if name == "data" {
            self.graph.input
        } else {
            self.graph.nodes.iter().find(|n| n.name == name).ok_or_else(|| Error::Usage(format!("no layer `{name}`")))?.output
        };
        let place = self.memory.places[tensor];
        let shape = self.graph.shapes[tensor];
        let start = place.channel_offset as usize * shape.pixels() as usize;
        let buffer = &self.memory.buffers[place.slot];
        let all: Vec<f32> = bytemuck::pod_collect_to_vec(&gpu.read_buffer(buffer, buffer.size()).await?);
        Ok(all[start..start + shape.elements()].to_vec())
    }
}

/// One pair of Winograd buffers for the network, as large as the largest layer that can
/// use them needs, and zeros for its GEMMs' bias; none where no layer can use Winograd.
fn winograd_scratch(ctx: &Context, layers: &[Layer]) -> Result<Option<winograd::Scratch>, Error> {
    let (v_bytes, m_bytes) =
        layers.iter().map(|l| l.op.layer.scratch_bytes()).fold((0, 0), |(v, m), (a, b)| (v.max(a), m.max(b)));
    let max_binding = ctx.device.limits().max_storage_buffer_binding_size;
    if v_bytes.max(m_bytes) > max_binding {
        return Err(Error::Gpu(format!(
            "Winograd needs a {}-byte buffer; this adapter binds at most {max_binding}",
            v_bytes.max(m_bytes)
        )));
    }
    if v_bytes == 0 {
        return Ok(None);
    }
    let buffer = |label, size| {
        gpu_objects::buffer(
            &ctx.device,
            &wgpu::BufferDescriptor { label: Some(label), size, usage: wgpu::BufferUsages::STORAGE, mapped_at_creation: false },
        )
    };
    let widest =
        layers.iter().filter_map(|l| l.op.layer.tuning()).map(|c| conv2d::padded_out_c(c.spec.out_c)).max().unwrap_or(16);
    let zero_bias = ctx.storage("zero bias", &vec![0u8; 4 * widest as usize])?;
    Ok(Some(winograd::Scratch { v: buffer("winograd V", v_bytes), m: buffer("winograd M", m_bytes), zero_bias }))
}

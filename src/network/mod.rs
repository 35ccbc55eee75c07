//! The scheduler: turns a loaded [`Model`] into GPU work. Everything (pipelines, weight
//! and activation buffers, bind groups) is created once here; a forward pass replays the
//! recorded dispatches into one command buffer, submits it once and reads back only the
//! top-k classes (and the logits, when asked), asynchronously.

use crate::arena::{Arena, Lifetime};
use crate::error::Error;
use crate::gpu::{map_read, ErrorLog, Gpu};
use crate::graph::{Graph, Op, TensorId};
use crate::ops::conv2d::{Conv2dSpec, Precision, Tile, DEFAULT_TILE, TILES, WORKGROUP_TILE};
use crate::ops::winograd;
use crate::ops::{self, softmax_topk, Dispatch, Kernels, Shape, View};
use crate::weights::Model;

mod placement;
mod tuning;

use placement::{label_of, place, sibling_groups};
pub use tuning::ConvKernel;
use tuning::DEFAULT_WINOGRAD;

/// How many classes a forward pass ranks.
pub const TOP_K: u32 = 5;

// Byte offsets of the parts of the staging buffer that one readback maps.
const STAGING_TIMESTAMPS: u64 = 256;
const STAGING_LOGITS: u64 = 512;

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

/// The result of one forward pass.
#[derive(Clone, Debug)]
pub struct Output {
    /// (class index, probability), most probable first.
    pub top: Vec<(usize, f32)>,
    pub logits: Option<Vec<f32>>,
    /// GPU time of the pass, where the adapter has timestamp queries.
    pub gpu_ms: Option<f64>,
}

/// Which readback buffer a submitted pass writes to.
#[derive(Clone, Copy, Debug)]
pub struct Ticket {
    slot: usize,
    with_logits: bool,
}

/// GPU time of one dispatch.
#[derive(Clone, Debug)]
pub struct LayerTime {
    pub label: String,
    pub ms: f64,
    pub multiply_adds: u64,
    /// The kernel, for convolutions.
    pub kernel: Option<ConvKernel>,
}

/// Sizes of what a network holds on the GPU.
#[derive(Clone, Copy, Debug)]
pub struct Stats {
    pub weight_bytes: u64,
    pub activation_bytes: u64,
    pub dispatches: usize,
    pub multiply_adds: u64,
}

pub struct Network {
    device: wgpu::Device,
    queue: wgpu::Queue,
    kernels: Kernels,
    graph: Graph,
    max_texture_side: u32,
    /// (activation buffer, channel offset) of every tensor of the graph
    placement: Vec<(usize, u32)>,
    activations: Vec<wgpu::Buffer>,
    /// The dispatches of each layer (a Winograd convolution has three).
    layers: Vec<Vec<Dispatch>>,
    /// name and multiply-adds of each layer, for per-layer timings
    layer_names: Vec<String>,
    layer_work: Vec<u64>,
    /// The convolutions, to record them again with another kernel.
    convs: Vec<ConvLayer>,
    /// Winograd's intermediate buffers (V, M), shared by the layers that can use it, and
    /// zeros for its GEMMs' bias.
    scratch: Option<(wgpu::Buffer, wgpu::Buffer)>,
    zero_bias: wgpu::Buffer,
    topk: Dispatch,
    result: wgpu::Buffer,
    /// Two readback buffers used in turn, so that a pass can be submitted while the
    /// previous one's result is still being read (the page overlaps camera frames so).
    staging: [wgpu::Buffer; 2],
    next_staging: std::cell::Cell<usize>,
    image: Option<(wgpu::Texture, Dispatch)>,
    timer: Option<(wgpu::QuerySet, wgpu::Buffer, f32)>,
    /// The adapter is a CPU (llvmpipe, SwiftShader), where barriers are slow.
    software: bool,
    errors: ErrorLog,
    pub stats: Stats,
}

impl Network {
    pub fn new(gpu: &Gpu, model: &Model) -> Result<Network, Error> {
        Network::with_options(gpu, model, Options::default())
    }

    pub fn with_options(gpu: &Gpu, model: &Model, options: Options) -> Result<Network, Error> {
        let graph = &model.graph;
        let device = &gpu.device;
        if options.precision == Precision::F16 && !gpu.has_f16() {
            return Err(Error::Gpu("float16 weights need the shader-f16 feature, which this adapter lacks".into()));
        }
        let kernels = Kernels::with_precision(device, options.precision);
        let (placement, lifetimes) = place(graph)?;
        let arena = if options.reuse_memory {
            Arena::plan(&lifetimes)
        } else {
            Arena { slot_bytes: lifetimes.iter().map(|l| l.bytes).collect(), slot_of: (0..lifetimes.len()).collect() }
        };
        let max_binding = device.limits().max_storage_buffer_binding_size;
        if let Some(&big) = arena.slot_bytes.iter().max().filter(|&&b| b > max_binding) {
            return Err(Error::Gpu(format!(
                "an activation needs a {big}-byte buffer; this adapter binds at most {max_binding} bytes"
            )));
        }
        let activations: Vec<wgpu::Buffer> = arena
            .slot_bytes
            .iter()
            .enumerate()
            .map(|(i, &size)| {
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(&format!("activations {i}")),
                    size,
                    usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                    mapped_at_creation: false,
                })
            })
            .collect();
        let siblings = sibling_groups(graph, &placement);
        // A tensor's place: the slot of its root, and its channel offset in that root.
        let placement: Vec<(usize, u32)> = placement.iter().map(|&(root, c)| (arena.slot_of[root], c)).collect();
        let view = |t: TensorId| View { buffer: &activations[placement[t].0], c_offset: placement[t].1 };

        let mut layers = Vec::new();
        let mut layer_work = Vec::new();
        let mut layer_names = Vec::new();
        let mut convs = Vec::new();
        let mut weight_bytes = 0;
        for (i, (node, params)) in graph.nodes.iter().zip(&model.params).enumerate() {
            let group = &siblings[i];
            if group.is_empty() {
                continue; // merged into an earlier sibling
            }
            if matches!(node.op, Op::Concat) {
                continue; // free: its inputs were written into its slices
            }
            let input_shape = graph.shapes[node.inputs[0]];
            let (input, output) = (view(node.inputs[0]), view(node.output));
            assert_ne!(placement[node.inputs[0]].0, placement[node.output].0, "{}: reads and writes one buffer", node.name);
            let label = label_of(graph, group);
            layer_work.push(group.iter().map(|&j| graph.node_multiply_adds(&graph.nodes[j])).sum());
            layer_names.push(label.clone());
            let upload = |label: &str, bytes: &[u8]| {
                if bytes.len() as u64 > max_binding {
                    return Err(Error::Gpu(format!("{label} needs more than the {max_binding} bytes this adapter can bind")));
                }
                Ok(gpu.buffer_init(label, bytes, wgpu::BufferUsages::STORAGE))
            };
            let storage = |label: &str, data: &[f32]| upload(label, bytemuck::cast_slice(data));
            let conv_weights = |label: &str, data: &[f32]| upload(label, &options.precision.bytes(data));
            match &node.op {
                Op::Conv2d { spec, .. } => {
                    // siblings become one convolution with their output channels one after
                    // the other (weights are (out, in, kh, kw): concatenated on out)
                    let mut spec = *spec;
                    let own = params.as_ref().expect("conv parameters");
                    let merged;
                    let p = if group.len() == 1 {
                        own
                    } else {
                        let mut m = own.clone();
                        for &j in &group[1..] {
                            let sibling = model.params[j].as_ref().expect("conv parameters");
                            m.weight.extend_from_slice(&sibling.weight);
                            m.bias.extend_from_slice(&sibling.bias);
                            spec.out_c += graph.shapes[graph.nodes[j].output].c;
                        }
                        merged = m;
                        &merged
                    };
                    let spec = &spec;
                    let packed = ops::conv2d::pack(spec, input_shape.c, &p.weight, &p.bias);
                    let w = conv_weights(&format!("{label} weights"), &packed.weights)?;
                    let b = storage(&format!("{label} bias"), &packed.bias)?;
                    weight_bytes += options.precision.weight_bytes() * packed.weights.len() as u64 + 4 * packed.bias.len() as u64;
                    let mut winograd_weights = Vec::new();
                    if winograd::applies(spec) {
                        for size in winograd::Size::ALL {
                            let u = winograd::pack(spec, input_shape.c, &p.weight, size);
                            weight_bytes += options.precision.weight_bytes() * u.len() as u64;
                            winograd_weights.push((size, conv_weights(&format!("{label} winograd weights"), &u)?));
                        }
                    }
                    // Winograd wherever it applies: it won on every adapter measured so far.
                    let kernel = if winograd_weights.is_empty() {
                        ConvKernel::Direct(DEFAULT_TILE)
                    } else {
                        ConvKernel::Winograd(DEFAULT_WINOGRAD, DEFAULT_TILE)
                    };
                    let conv = ConvLayer {
                        layer: layers.len(),
                        label,
                        spec: *spec,
                        input_shape,
                        input: placement[node.inputs[0]],
                        output: placement[node.output],
                        weights: Some(w),
                        bias: b,
                        winograd_weights,
                        kernel,
                    };
                    layers.push(Vec::new()); // recorded below, once the Winograd buffers exist
                    convs.push(conv);
                }
                Op::Linear { spec, .. } => {
                    let p = params.as_ref().expect("linear parameters");
                    let w = storage(&format!("{label} weights"), &p.weight)?;
                    let b = storage(&format!("{label} bias"), &p.bias)?;
                    weight_bytes += 4 * (p.weight.len() + p.bias.len()) as u64;
                    let in_features = input_shape.elements() as u32;
                    layers.push(vec![ops::linear::dispatch(
                        &kernels.linear,
                        device,
                        label,
                        spec,
                        in_features,
                        input,
                        &w,
                        &b,
                        output,
                    )]);
                }
                Op::Pool(spec) => {
                    layers.push(vec![ops::pool::dispatch(&kernels, device, label, spec, input_shape, input, output)])
                }
                Op::Lrn(spec) => {
                    layers.push(vec![ops::lrn::dispatch(&kernels.lrn, device, label, spec, input_shape, input, output)])
                }
                Op::Concat => unreachable!("skipped above"),
            }
        }

        // One pair of Winograd buffers, as large as the largest layer that can use them needs.
        let sizes = convs
            .iter()
            .flat_map(|c| c.winograd_weights.iter().map(|(size, _)| winograd::scratch_bytes(c.input_shape, &c.spec, *size)));
        let (v_bytes, m_bytes) = sizes.fold((0, 0), |(v, m), (a, b)| (v.max(a), m.max(b)));
        if v_bytes.max(m_bytes) > max_binding {
            return Err(Error::Gpu(format!(
                "Winograd needs a {}-byte buffer; this adapter binds at most {max_binding}",
                v_bytes.max(m_bytes)
            )));
        }
        let scratch = (v_bytes > 0).then(|| {
            let buffer = |label, size| {
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(label),
                    size,
                    usage: wgpu::BufferUsages::STORAGE,
                    mapped_at_creation: false,
                })
            };
            (buffer("winograd V", v_bytes), buffer("winograd M", m_bytes))
        });
        let widest = convs.iter().map(|c| ops::conv2d::padded_out_c(c.spec.out_c)).max().unwrap_or(16);
        let zero_bias = gpu.buffer_init("zero bias", &vec![0u8; 4 * widest as usize], wgpu::BufferUsages::STORAGE);

        let num_classes = graph.num_classes();
        let k = TOP_K.min(num_classes);
        let result = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("top-k"),
            size: softmax_topk::result_size(k),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let topk = softmax_topk::dispatch(&kernels.softmax_topk, device, num_classes, k, view(graph.output), &result);
        let staging = [0, 1].map(|i| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(&format!("readback {i}")),
                size: STAGING_LOGITS + 4 * num_classes as u64,
                usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
                mapped_at_creation: false,
            })
        });
        let timer = gpu.has_timestamps().then(|| {
            let set = device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("forward timestamps"),
                ty: wgpu::QueryType::Timestamp,
                count: 2,
            });
            let resolve = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("timestamps"),
                size: 16,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            (set, resolve, gpu.queue.get_timestamp_period())
        });
        let stats = Stats {
            weight_bytes,
            activation_bytes: arena.total_bytes() + v_bytes + m_bytes,
            dispatches: 0, // counted once the convolutions are recorded
            multiply_adds: graph.multiply_adds(),
        };
        let mut network = Network {
            device: device.clone(),
            queue: gpu.queue.clone(),
            kernels,
            graph: graph.clone(),
            max_texture_side: device.limits().max_texture_dimension_2d,
            placement,
            activations,
            layers,
            layer_names,
            layer_work,
            convs,
            scratch,
            zero_bias,
            topk,
            result,
            staging,
            next_staging: Default::default(),
            image: None,
            timer,
            software: gpu.is_software(),
            errors: gpu.errors.clone(),
            stats,
        };
        for i in 0..network.convs.len() {
            network.layers[network.convs[i].layer] = network.record(&network.convs[i]);
        }
        network.count_dispatches();
        Ok(network)
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// What each layer (a group of dispatches) computes: node names, siblings joined.
    pub fn layer_labels(&self) -> &[String] {
        &self.layer_names
    }

    /// How the convolution weights are stored.
    pub fn precision(&self) -> Precision {
        self.kernels.precision
    }

    /// The input texture if it already has this size: unlike [`Network::image_texture`]
    /// this needs no exclusive access, so a frame can be uploaded while the previous pass
    /// is still being read back.
    pub fn texture_of_size(&self, width: u32, height: u32) -> Option<&wgpu::Texture> {
        self.image.as_ref().map(|(t, _)| t).filter(|t| (t.width(), t.height()) == (width, height))
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
        let current = self.image.as_ref().map(|(t, _)| (t.width(), t.height()));
        if current != Some((width, height)) {
            let texture = ops::preprocess::create_texture(&self.device, width, height);
            let input = View { buffer: &self.activations[self.placement[self.graph.input].0], c_offset: 0 };
            let dispatch =
                ops::preprocess::dispatch(&self.kernels.preprocess, &self.device, &self.graph.input_spec, &texture, input);
            self.image = Some((texture, dispatch));
        }
        Ok(&self.image.as_ref().unwrap().0)
    }

    /// Uploads tightly packed RGBA8 pixels as the image to classify.
    pub fn set_image(&mut self, rgba: &[u8], width: u32, height: u32) -> Result<(), Error> {
        if rgba.len() != 4 * width as usize * height as usize {
            return Err(Error::Image(format!("{} bytes is not a {width}x{height} RGBA image", rgba.len())));
        }
        let texture = self.image_texture(width, height)?.clone();
        ops::preprocess::write_texture(&self.queue, &texture, rgba);
        Ok(())
    }

    /// Records a whole forward pass (preprocessing to top-k) into one command buffer, to
    /// submit, then to read back with [`Network::read_output`] and the returned ticket. At
    /// most two passes may await their readback at once.
    pub fn encode(&self, with_logits: bool) -> Result<(wgpu::CommandBuffer, Ticket), Error> {
        let slot = self.next_staging.get();
        self.next_staging.set(1 - slot);
        let staging = &self.staging[slot];
        let (_, preprocess) = self.image.as_ref().ok_or_else(|| Error::Usage("no image to classify yet".into()))?;
        let mut encoder = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("forward") });
        {
            let timestamp_writes = self.timer.as_ref().map(|(set, _, _)| wgpu::ComputePassTimestampWrites {
                query_set: set,
                beginning_of_pass_write_index: Some(0),
                end_of_pass_write_index: Some(1),
            });
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("forward"), timestamp_writes });
            preprocess.encode(&mut pass);
            let mut previous = preprocess;
            for dispatch in self.layers.iter().flatten() {
                dispatch.encode_after(&mut pass, Some(previous));
                previous = dispatch;
            }
            self.topk.encode(&mut pass);
        }
        encoder.copy_buffer_to_buffer(&self.result, 0, staging, 0, self.result.size());
        if let Some((set, resolve, _)) = &self.timer {
            encoder.resolve_query_set(set, 0..2, resolve, 0);
            encoder.copy_buffer_to_buffer(resolve, 0, staging, STAGING_TIMESTAMPS, 16);
        }
        if with_logits {
            let logits = &self.activations[self.placement[self.graph.output].0];
            let bytes = 4 * self.graph.num_classes() as u64;
            encoder.copy_buffer_to_buffer(logits, 0, staging, STAGING_LOGITS, bytes);
        }
        Ok((encoder.finish(), Ticket { slot, with_logits }))
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
        self.queue.submit([commands]);
        Ok(ticket)
    }

    /// Awaits the result of a pass already submitted.
    pub async fn read_output(&self, ticket: Ticket) -> Result<Output, Error> {
        let with_logits = ticket.with_logits;
        let bytes = map_read(&self.device, &self.staging[ticket.slot]).await?;
        self.errors.check()?;
        let k = (self.result.size() / 8) as u32;
        let top = softmax_topk::decode(&bytes, k);
        let logits = with_logits.then(|| {
            let n = self.graph.num_classes() as usize;
            let start = STAGING_LOGITS as usize;
            bytemuck::pod_collect_to_vec::<u8, f32>(&bytes[start..start + 4 * n])
        });
        let gpu_ms = self.timer.as_ref().map(|(_, _, period)| {
            let at = STAGING_TIMESTAMPS as usize;
            let t: Vec<u64> = bytemuck::pod_collect_to_vec(&bytes[at..at + 16]);
            t[1].wrapping_sub(t[0]) as f64 * *period as f64 / 1e6
        });
        Ok(Output { top, logits, gpu_ms })
    }

    /// Uploads an image and classifies it.
    pub async fn classify(&mut self, rgba: &[u8], width: u32, height: u32, with_logits: bool) -> Result<Output, Error> {
        self.set_image(rgba, width, height)?;
        self.run(with_logits).await
    }

    fn record(&self, conv: &ConvLayer) -> Vec<Dispatch> {
        let view = |(slot, c_offset): (usize, u32)| View { buffer: &self.activations[slot], c_offset };
        let (input, output) = (view(conv.input), view(conv.output));
        let label = conv.label.clone();
        match conv.kernel {
            ConvKernel::Direct(tile) => vec![ops::conv2d::dispatch(
                &self.kernels,
                tile,
                &self.device,
                label,
                &conv.spec,
                conv.input_shape,
                input,
                conv.weights.as_ref().expect("checked by set_conv_kernels"),
                &conv.bias,
                output,
            )],
            ConvKernel::Winograd(size, tile) => {
                let (v, m) = self.scratch.as_ref().expect("scratch exists where Winograd applies");
                let buffers = winograd::Buffers {
                    transformed_weights: conv.transformed(size).expect("checked by set_conv_kernels"),
                    zero_bias: &self.zero_bias,
                    bias: &conv.bias,
                    v,
                    m,
                };
                winograd::dispatch(
                    &self.kernels,
                    size,
                    tile,
                    &self.device,
                    &label,
                    &conv.spec,
                    conv.input_shape,
                    input,
                    buffers,
                    output,
                )
            }
        }
    }

    /// Reads back a tensor of the last pass by the name of the node that produced it
    /// ("data" is the preprocessed input). Only meaningful with `reuse_memory: false`.
    pub async fn read_tensor(&self, gpu: &Gpu, name: &str) -> Result<Vec<f32>, Error> {
        let tensor = if name == "data" {
            self.graph.input
        } else {
            self.graph.nodes.iter().find(|n| n.name == name).ok_or_else(|| Error::Usage(format!("no layer `{name}`")))?.output
        };
        let (slot, c_offset) = self.placement[tensor];
        let shape = self.graph.shapes[tensor];
        let start = c_offset as usize * shape.pixels() as usize;
        let bytes = gpu.read_buffer(&self.activations[slot], self.activations[slot].size()).await?;
        let all: Vec<f32> = bytemuck::pod_collect_to_vec(&bytes);
        Ok(all[start..start + shape.elements()].to_vec())
    }
}

/// A convolution layer and the resources its dispatch binds.
struct ConvLayer {
    /// index in `Network::layers`
    layer: usize,
    label: String,
    spec: Conv2dSpec,
    input_shape: Shape,
    input: (usize, u32),
    output: (usize, u32),
    /// the direct kernel's weights (None once released for a Winograd layer)
    weights: Option<wgpu::Buffer>,
    bias: wgpu::Buffer,
    /// U = G g G^T per Winograd size, where Winograd applies (those not in use are
    /// released with the direct weights by `release_unused_kernels`)
    winograd_weights: Vec<(winograd::Size, wgpu::Buffer)>,
    kernel: ConvKernel,
}

impl ConvLayer {
    fn transformed(&self, size: winograd::Size) -> Option<&wgpu::Buffer> {
        self.winograd_weights.iter().find(|(s, _)| *s == size).map(|(_, b)| b)
    }
}

impl ConvLayer {
    /// Layers with equal keys do equal work: one measurement serves them all.
    fn shape_key(&self) -> (Conv2dSpec, Shape) {
        (self.spec, self.input_shape)
    }
}

//! Choosing how each convolution is computed: switching kernels, per-layer GPU timing,
//! the autotuner that measures the kernels on the adapter, and the saved choice.

use super::{Layer, Network};
use crate::error::Error;
use crate::gpu::map_read;
use crate::gpu_objects;
use crate::ops::conv2d::{DEFAULT_TILE, TILES, WORKGROUP_TILE};
use crate::ops::convolution::{ConvKernel, ConvLayer};
use crate::ops::{winograd, Dispatch};
use crate::plan::LayerTime;

/// An autotune under way (see [`Network::start_tuning`]): the candidate kernels, and the
/// time of every layer with each candidate timed so far (`None` where it does not apply).
pub struct Tuning {
    candidates: Vec<ConvKernel>,
    time: Vec<Vec<Option<f64>>>,
}

impl Tuning {
    /// (candidates timed, candidates in all)
    pub fn progress(&self) -> (usize, usize) {
        (self.time.len(), self.candidates.len())
    }
}

/// The kernel of every convolution, each with the shape of the layer it was chosen for,
/// so that a choice saved for another network (or another build's layer order) is
/// recognised and refused rather than applied to the wrong layers. As JSON, one
/// `[shape, kernel]` pair per convolution: `[["3x3 s1x1 p1x1 192x28x28 -> 128 relu",
/// "winograd2 4x8"], ...]`.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelChoice(pub Vec<(String, ConvKernel)>);

impl KernelChoice {
    pub fn to_json(&self) -> String {
        let pairs: Vec<(&str, String)> = self.0.iter().map(|(shape, kernel)| (shape.as_str(), kernel.to_string())).collect();
        serde_json::to_string(&pairs).expect("strings serialise")
    }

    pub fn from_json(json: &str) -> Result<KernelChoice, Error> {
        let pairs: Vec<(String, String)> =
            serde_json::from_str(json).map_err(|e| Error::Usage(format!("not a saved kernel choice: {e}")))?;
        let parse = |(shape, kernel): (String, String)| Ok((shape, kernel.parse()?));
        Ok(KernelChoice(pairs.into_iter().map(parse).collect::<Result<_, Error>>()?))
    }

    /// How many layers use each kernel, in order of first use ("winograd2 4x8 x21").
    pub fn summary(&self) -> String {
        let mut counts: Vec<(ConvKernel, usize)> = Vec::new();
        for (_, k) in &self.0 {
            match counts.iter_mut().find(|c| c.0 == *k) {
                Some(c) => c.1 += 1,
                None => counts.push((*k, 1)),
            }
        }
        counts.iter().map(|(k, n)| format!("{k} x{n}")).collect::<Vec<_>>().join(", ")
    }
}

impl Network {
    /// The convolution layers, in order, by index into the layer list.
    fn convs(&self) -> impl Iterator<Item = (usize, &ConvLayer)> {
        self.layers.iter().enumerate().filter_map(|(i, l)| l.op.layer.tuning().map(|c| (i, c)))
    }

    /// The kernel of each convolution now, with its shape.
    pub fn kernel_choice(&self) -> KernelChoice {
        KernelChoice(self.convs().map(|(_, c)| (c.shape_key(), c.kernel())).collect())
    }

    /// Uses one kernel for every convolution (where it applies; see `ConvLayer::set_kernel`).
    pub fn set_conv_kernel(&mut self, kernel: ConvKernel) {
        let changed: Vec<usize> = (0..self.layers.len()).filter(|&i| self.set_kernel(i, kernel)).collect();
        self.record(changed);
    }

    /// Restores a choice made by [`Network::autotune`], refusing one made for other layers.
    pub fn set_kernel_choice(&mut self, choice: &KernelChoice) -> Result<(), Error> {
        let shapes: Vec<String> = self.convs().map(|(_, c)| c.shape_key()).collect();
        if choice.0.len() != shapes.len() || choice.0.iter().zip(&shapes).any(|((saved, _), shape)| saved != shape) {
            return Err(Error::Usage("the saved kernel choice was made for another network".into()));
        }
        let convs: Vec<usize> = self.convs().map(|(i, _)| i).collect();
        let changed: Vec<usize> =
            convs.into_iter().zip(&choice.0).filter(|(i, (_, k))| self.set_kernel(*i, *k)).map(|(i, _)| i).collect();
        self.record(changed);
        Ok(())
    }

    fn set_kernel(&mut self, layer: usize, kernel: ConvKernel) -> bool {
        self.layers[layer].op.layer.tuning_mut().is_some_and(|c| c.set_kernel(kernel))
    }

    /// Frees what the current choice of kernels does not use: the weights of the other
    /// algorithm of each layer, and Winograd's buffers if no layer uses it. Afterwards a
    /// layer keeps its algorithm.
    pub fn release_unused_kernels(&mut self) {
        let freed: u64 = self.layers.iter_mut().filter_map(|l| l.op.layer.tuning_mut()).map(ConvLayer::release_unused).sum();
        self.stats.weight_bytes -= freed;
        let winograd_used = self.convs().any(|(_, c)| matches!(c.kernel(), ConvKernel::Winograd(..)));
        if !winograd_used {
            if let Some(s) = self.shared.winograd.take() {
                self.stats.activation_bytes -= s.v.size() + s.m.size();
            }
        }
    }

    /// The kernels the autotuner measures on this adapter.
    fn candidates(&self) -> Vec<ConvKernel> {
        // Winograd's GEMMs are large: only the wider tiles are worth a timed pass. The
        // workgroup-memory kernel is for GPUs: on software adapters its barriers make it
        // about ten times slower (../shared/peers: SwiftShader's matmul probe), and one
        // timed pass of it would cost seconds.
        let wide = [TILES[0], TILES[2], WORKGROUP_TILE];
        TILES
            .iter()
            .map(|&t| ConvKernel::Direct(t))
            .chain(winograd::Size::ALL.into_iter().flat_map(|s| wide.map(|t| ConvKernel::Winograd(s, t))))
            .filter(|k| !(self.software && k.tile() == WORKGROUP_TILE))
            .collect()
    }

    /// Measures every candidate kernel on every distinct convolution shape of this network
    /// on this adapter (one timed pass per kernel, each layer timed alone) and keeps the
    /// fastest for each. Returns the choice, which [`Network::set_kernel_choice`] restores
    /// on a later visit without measuring. Needs timestamp queries and an image set.
    pub async fn autotune(&mut self) -> Result<KernelChoice, Error> {
        let mut tuning = self.start_tuning()?;
        while !self.tune_step(&mut tuning).await? {}
        Ok(self.kernel_choice())
    }

    /// The autotuner a step at a time, for a page that classifies between steps: each
    /// [`Network::tune_step`] times one candidate kernel (one pass) and switches every
    /// convolution to the fastest kernel measured so far, so frames in between run on the
    /// best choice known; after the last step the choice is [`Network::autotune`]'s.
    pub fn start_tuning(&self) -> Result<Tuning, Error> {
        if self.convs().any(|(_, c)| !c.has_every_kernel()) {
            return Err(Error::Usage("autotune must come before release_unused_kernels".into()));
        }
        Ok(Tuning { candidates: self.candidates(), time: Vec::new() })
    }

    /// Times the next candidate of `tuning`; true once every candidate is timed.
    pub async fn tune_step(&mut self, tuning: &mut Tuning) -> Result<bool, Error> {
        let Some(&candidate) = tuning.candidates.get(tuning.time.len()) else { return Ok(true) };
        self.set_conv_kernel(candidate);
        let timed = self.profile().await?;
        // profile() lists preprocessing first, then the layers in order
        tuning.time.push(
            self.layers.iter().enumerate().map(|(i, l)| (l.kernel() == Some(candidate)).then(|| timed[1 + i].ms)).collect(),
        );
        let choice = self.fastest_measured(tuning);
        self.set_kernel_choice(&choice)?;
        Ok(tuning.time.len() == tuning.candidates.len())
    }

    /// For each convolution, the kernel fastest over all layers of its shape among the
    /// candidates timed so far.
    fn fastest_measured(&self, tuning: &Tuning) -> KernelChoice {
        let shapes: Vec<Option<String>> = self.layers.iter().map(|l| l.op.layer.tuning().map(ConvLayer::shape_key)).collect();
        let mut best = Vec::new();
        for (_, conv) in self.convs() {
            let same: Vec<usize> = (0..shapes.len()).filter(|&j| shapes[j].as_ref() == Some(&conv.shape_key())).collect();
            let total = |k: usize| same.iter().map(|&j| tuning.time[k][j]).sum::<Option<f64>>();
            let fastest = (0..tuning.time.len())
                .filter_map(|k| total(k).map(|t| (k, t)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map_or(ConvKernel::Direct(DEFAULT_TILE), |(k, _)| tuning.candidates[k]);
            best.push((conv.shape_key(), fastest));
        }
        KernelChoice(best)
    }

    /// Times every dispatch of one forward pass on the GPU, each layer in its own compute
    /// pass with timestamps (so the sum is a little above a normal pass). Needs an image
    /// set and the adapter's timestamp queries.
    pub async fn profile(&self) -> Result<Vec<LayerTime>, Error> {
        let period =
            self.readback.timestamp_period().ok_or_else(|| Error::Usage("this adapter has no timestamp queries".into()))?;
        let preprocess = self.preprocess()?;
        let steps: Vec<Step> = std::iter::once(Step::alone("preprocess", preprocess))
            .chain(self.layers.iter().map(Step::layer))
            .chain(std::iter::once(Step::alone("softmax_topk", &self.readback.topk)))
            .chain(self.readback.cams_dispatch().filter(|_| self.cams).map(|d| Step::alone("cam", d)))
            .collect();
        let ticks = self.timestamps(&steps).await?;
        Ok(steps
            .iter()
            .enumerate()
            .map(|(i, step)| LayerTime {
                label: step.label.to_string(),
                nodes: step.nodes.to_vec(),
                kernel: step.kernel.map(|k| k.to_string()),
                ms: ticks[2 * i + 1].wrapping_sub(ticks[2 * i]) as f64 * period as f64 / 1e6,
                multiply_adds: step.multiply_adds,
            })
            .collect())
    }

    /// Runs each step in its own timed compute pass; returns (start, end) ticks per step.
    async fn timestamps(&self, steps: &[Step<'_>]) -> Result<Vec<u64>, Error> {
        let device = &self.ctx.device;
        let count = 2 * steps.len() as u32;
        let queries = gpu_objects::query_set(
            device,
            &wgpu::QuerySetDescriptor { label: Some("per-layer timestamps"), ty: wgpu::QueryType::Timestamp, count },
        );
        let buffer = |usage| {
            gpu_objects::buffer(
                device,
                &wgpu::BufferDescriptor {
                    label: Some("per-layer timestamps"),
                    size: 8 * count as u64,
                    usage,
                    mapped_at_creation: false,
                },
            )
        };
        let resolve = buffer(wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC);
        let staging = buffer(wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ);
        let mut encoder = device.create_command_encoder(&Default::default());
        for (i, step) in steps.iter().enumerate() {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(step.label),
                timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                    query_set: &queries,
                    beginning_of_pass_write_index: Some(2 * i as u32),
                    end_of_pass_write_index: Some(2 * i as u32 + 1),
                }),
            });
            step.dispatches.iter().for_each(|d| d.encode(&mut pass));
        }
        encoder.resolve_query_set(&queries, 0..count, &resolve, 0);
        encoder.copy_buffer_to_buffer(&resolve, 0, &staging, 0, 8 * count as u64);
        self.ctx.queue.submit([encoder.finish()]);
        let bytes = self.errors.check_after(map_read(device, &staging).await)?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }
}

/// One timed part of a pass.
struct Step<'a> {
    label: &'a str,
    nodes: &'a [usize],
    dispatches: &'a [Dispatch],
    multiply_adds: u64,
    kernel: Option<ConvKernel>,
}

impl<'a> Step<'a> {
    fn alone(label: &'a str, dispatch: &'a Dispatch) -> Step<'a> {
        Step { label, nodes: &[], dispatches: std::slice::from_ref(dispatch), multiply_adds: 0, kernel: None }
    }

    fn layer(layer: &'a Layer) -> Step<'a> {
        let (label, nodes, dispatches) = (&layer.label, &layer.nodes, &layer.op.dispatches);
        Step { label, nodes, dispatches, multiply_adds: layer.multiply_adds, kernel: layer.kernel() }
    }
}

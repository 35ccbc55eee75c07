//! The CPU backend: the plan's steps (`plan::steps`: the same graph, weights, concat
//! slices and sibling 1x1 GEMMs, the same memory plan as the GPU's), each run by a CPU
//! layer: convolutions as GEMMs with SIMD micro-kernels (`gemm`, `kernels`: tiers per
//! instruction set), pools, LRN and linear layers in plain vectorisable loops, spread over
//! threads (`parallel`). The CPU twins in `ops` stay the slow exact reference the tests
//! compare this backend against.

pub mod cam;
pub mod conv2d;
pub mod gemm;
pub mod int8;
pub mod kernels;
pub mod linear;
pub mod lrn;
pub mod pool;
pub mod winograd;

use crate::error::Error;
use crate::graph::{Graph, Op, Shape, Tensor, TensorMut};
use crate::heatmap::ActivationMap;
use crate::models::Model;
use crate::parallel;
use crate::plan::{no_cams, producer_of, steps, top_k, LayerTime, Output, Place, Placement, Stats, Step, Work, TOP_K};
use crate::weights::LayerParams;
use kernels::{DotKernel, MicroKernel};

/// max(x, 0) as a compare and select: `f32::max` is a call to libm's `fmaxf` per value in
/// wasm (its NaN rule is not wasm's own max), which was 7-14% of a BVLC pass in Node.
#[inline(always)]
pub(crate) fn relu(x: f32) -> f32 {
    max(0.0, x)
}

/// The larger of `a` and `b` (`a` where either is NaN) as a compare and select (see
/// [`relu`] for why not `f32::max`).
#[inline(always)]
pub(crate) fn max(a: f32, b: f32) -> f32 {
    if b > a {
        b
    } else {
        a
    }
}

/// What a CPU layer is given per pass: its input and the slice it writes.
pub struct CpuCall<'a> {
    pub input_shape: Shape,
    pub input: Tensor<'a>,
    pub output: TensorMut<'a>,
}

impl<'a> CpuCall<'a> {
    /// The input's values (its channel slice) and the part of the output buffer a result
    /// of shape `out` is written to.
    pub fn tensors(self, out: Shape) -> (&'a [f32], &'a mut [f32]) {
        let input = &self.input.data[self.input.c_offset as usize * self.input_shape.pixels() as usize..];
        let output = &mut self.output.data[self.output.c_offset as usize * out.pixels() as usize..];
        (&input[..self.input_shape.elements()], &mut output[..out.elements()])
    }
}

/// A layer whose parameters the CPU backend holds (packed for its kernels).
pub trait CpuLayer: Send + Sync {
    fn run(&self, call: CpuCall);

    /// Bytes of parameters it holds.
    fn weight_bytes(&self) -> u64 {
        0
    }

    /// Its weights as a row-major (out, in) matrix (see `GpuLayer::weight_matrix`).
    fn weight_matrix(&self) -> Option<&[f32]> {
        None
    }

    /// Whether it computes in int8.
    fn is_int8(&self) -> bool {
        false
    }
}

/// What the convolutions compute in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compute {
    #[default]
    F32,
    /// Int8 where the weights file holds the layer's calibrated input range (`convert
    /// --calibrate`), float32 elsewhere.
    Int8,
}

impl Compute {
    pub fn name(self) -> &'static str {
        match self {
            Compute::F32 => "f32",
            Compute::Int8 => "int8",
        }
    }
}

/// How to build a [`CpuNetwork`].
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuOptions {
    /// Threads to run on; all cores when `None`.
    pub threads: Option<usize>,
    /// The GEMM micro-kernel; when `None` the one `INCEPTION_CPU_KERNELS` names, else the
    /// fastest this machine has.
    pub kernel: Option<MicroKernel>,
    pub compute: Compute,
    /// The int8 micro-kernel; when `None` the one `INCEPTION_CPU_INT8_KERNELS` names, else
    /// the fastest here.
    pub int8_kernel: Option<DotKernel>,
}

/// One step of the forward pass on the CPU.
pub type CpuStep = Step<Box<dyn CpuLayer>>;

pub struct CpuNetwork {
    graph: Graph,
    places: Vec<Place>,
    slots: Vec<Vec<f32>>,
    steps: Vec<CpuStep>,
    kernel: MicroKernel,
    /// The int8 micro-kernel, where any layer computes in int8.
    int8_kernel: Option<DotKernel>,
    threads: Threads,
    /// The preprocessed image, kept apart: its slot is reused by later tensors during a
    /// pass, and a pass may be run again on the same image.
    input: Option<Vec<f32>>,
    /// Each pass also computes the class activation maps of its top-k (`set_cams`).
    cams: bool,
    pub stats: Stats,
}

impl CpuNetwork {
    pub fn new(model: &Model, options: CpuOptions) -> Result<CpuNetwork, Error> {
        let kernel = match options.kernel {
            Some(kernel) => kernel,
            None => kernels::chosen()?,
        };
        let int8 = match (options.compute, options.int8_kernel) {
            (Compute::F32, _) => None,
            (Compute::Int8, Some(kernel)) => Some(kernel),
            (Compute::Int8, None) => Some(kernels::dot::chosen()?),
        };
        let placement = Placement::plan(&model.graph, true)?;
        let steps: Vec<CpuStep> = steps(model, &placement.places).into_iter().map(|s| cpu_step(s, kernel, int8)).collect();
        let int8_layers = steps.iter().filter(|s| s.op.is_int8()).count();
        let stats = Stats {
            weight_bytes: steps.iter().map(|s| s.op.weight_bytes()).sum(),
            activation_bytes: placement.bytes(),
            dispatches: steps.len(),
            multiply_adds: model.graph.multiply_adds(),
        };
        let slots = placement.slot_bytes.iter().map(|&b| vec![0.0; b as usize / 4]).collect();
        Ok(CpuNetwork {
            graph: model.graph.clone(),
            places: placement.places,
            slots,
            steps,
            kernel,
            int8_kernel: int8.filter(|_| int8_layers > 0),
            threads: Threads::new(options.threads)?,
            input: None,
            cams: false,
            stats,
        })
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    pub fn steps(&self) -> &[CpuStep] {
        &self.steps
    }

    /// The GEMM micro-kernel, in words ("avx2+fma 6x16").
    pub fn kernel(&self) -> MicroKernel {
        self.kernel
    }

    /// The int8 micro-kernel, where some layers compute in int8.
    pub fn int8_kernel(&self) -> Option<DotKernel> {
        self.int8_kernel
    }

    /// How many steps compute in int8.
    pub fn int8_steps(&self) -> usize {
        self.steps.iter().filter(|s| s.op.is_int8()).count()
    }

    /// What computes the pass, in words: "int8, avx2 4x16 (48 steps in int8; float32
    /// avx2+fma 6x16 for the rest), 2 threads" or "f32, avx2+fma 6x16 GEMM, 1 thread".
    pub fn describe(&self) -> String {
        let threads = match self.threads() {
            1 => "1 thread".to_string(),
            count => format!("{count} threads"),
        };
        match self.int8_kernel {
            Some(int8) => {
                let steps = self.int8_steps();
                format!("int8, {int8:?} ({steps} steps in int8; float32 {:?} for the rest), {threads}", self.kernel)
            }
            None => format!("f32, {:?} GEMM, {threads}", self.kernel),
        }
    }

    pub fn threads(&self) -> usize {
        self.install(parallel::count)
    }

    /// Runs `f` on this network's threads.
    fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.threads.install(f)
    }

    /// Resizes, crops and normalises tightly packed RGBA8 pixels into the input tensor.
    pub fn set_image(&mut self, rgba: &[u8], width: u32, height: u32) -> Result<(), Error> {
        // (in u64: 4 x width x height overflows a 32-bit usize in wasm for huge images)
        if width == 0 || height == 0 || rgba.len() as u64 != 4 * width as u64 * height as u64 {
            return Err(Error::Image(format!("{} bytes is not a {width}x{height} RGBA image", rgba.len())));
        }
        let mut input = self.input.take().unwrap_or_else(|| vec![0.0; self.graph.shapes[self.graph.input].elements()]);
        let spec = self.graph.input_spec;
        self.install(|| crate::plan::input::run(&spec, rgba, width, height, &mut input));
        self.input = Some(input);
        Ok(())
    }

    /// Runs the forward pass on the current image.
    pub fn run(&mut self, with_logits: bool) -> Result<Output, Error> {
        self.place_input()?;
        // The whole pass inside the pool, so that each step's parallel loops are handed out
        // by a thread of it, not sent from outside and waited for: one hop per pass, not
        // one per loop (three per int8 convolution; the wasm workers' hops cost the most).
        // (each step's own install then runs inline)
        self.threads.clone().install(|| (0..self.steps.len()).for_each(|i| self.run_step(i)));
        let logits = self.tensor(self.graph.output);
        let top = top_k(logits, TOP_K as usize);
        let logits = with_logits.then(|| logits.to_vec());
        let cams = self.cams.then(|| self.cams_of(&top));
        Ok(Output { top, logits, gpu_ms: None, cams })
    }

    /// Whether each pass also computes the class activation maps of the classes it ranks
    /// (`Output::cams`), as `Network::set_cams`.
    pub fn set_cams(&mut self, on: bool) -> Result<(), Error> {
        if on && self.graph.cam_source().is_none() {
            return Err(no_cams());
        }
        self.cams = on;
        Ok(())
    }

    /// The activation maps of the ranked classes, from the last pass's feature maps (the
    /// placement keeps them to the end of the pass).
    fn cams_of(&self, top: &[(usize, f32)]) -> Vec<ActivationMap> {
        let source = self.graph.cam_source().expect("checked by set_cams");
        let classifier = self.steps.last().and_then(|s| s.op.weight_matrix()).expect("the last step is the classifier");
        let place = self.places[source.features];
        let features = Tensor { data: &self.slots[place.slot], c_offset: place.channel_offset };
        let classes: Vec<usize> = top.iter().map(|&(class, _)| class).collect();
        cam::maps(self.graph.shapes[source.features], features, classifier, &classes)
    }

    /// Uploads an image and classifies it.
    pub fn classify(&mut self, rgba: &[u8], width: u32, height: u32, with_logits: bool) -> Result<Output, Error> {
        self.set_image(rgba, width, height)?;
        self.run(with_logits)
    }

    /// Each step's time of one pass on the current image (run in order, so each reads
    /// what the previous wrote, as in a pass).
    pub fn profile(&mut self) -> Result<Vec<LayerTime>, Error> {
        self.place_input()?;
        let mut times = Vec::new();
        for i in 0..self.steps.len() {
            let start = crate::clock::now_ms();
            self.run_step(i);
            let ms = crate::clock::now_ms() - start;
            let step = &self.steps[i];
            let (label, nodes, multiply_adds) = (step.label.clone(), step.nodes.clone(), step.multiply_adds);
            let kernel = step.op.is_int8().then(|| "int8".to_string());
            times.push(LayerTime { label, nodes, ms, multiply_adds, kernel });
        }
        if self.cams {
            let start = crate::clock::now_ms();
            let top = top_k(self.tensor(self.graph.output), TOP_K as usize);
            let maps = self.cams_of(&top);
            let ms = crate::clock::now_ms() - start;
            let multiply_adds =
                maps.len() as u64 * self.graph.shapes[self.graph.cam_source().unwrap().features].elements() as u64;
            times.push(LayerTime { label: "softmax_topk + cam".into(), nodes: vec![], ms, multiply_adds, kernel: None });
        }
        Ok(times)
    }

    /// The values of `tensor` (C x H x W) on the current image, as
    /// `Network::read_activation`: the pass run up to the node that produces it.
    pub fn read_activation(&mut self, tensor: usize) -> Result<Vec<f32>, Error> {
        let producer = producer_of(&self.graph, tensor)?;
        self.place_input()?;
        for i in 0..self.steps.len() {
            if self.steps[i].nodes[0] > producer {
                break;
            }
            self.run_step(i);
        }
        Ok(self.tensor(tensor).to_vec())
    }

    /// Runs the pass on the current image and gives, for each convolution, the name of
    /// its weight tensor and the least and largest value of its input: what int8 compute
    /// is calibrated with (`calibrate`).
    pub fn input_ranges(&mut self) -> Result<Vec<(String, f32, f32)>, Error> {
        self.place_input()?;
        let mut ranges = Vec::new();
        for i in 0..self.steps.len() {
            let step = &self.steps[i];
            let convs = step.nodes.iter().map(|&j| &self.graph.nodes[j]).filter(|n| matches!(n.op, Op::Conv2d { .. }));
            let plane = step.input_shape.pixels() as usize;
            let input = &self.slots[step.input.slot][step.input.channel_offset as usize * plane..][..step.input_shape.elements()];
            let (min, max) = input.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
            ranges.extend(convs.filter_map(|n| n.weight_name()).map(|w| (w.to_string(), min, max)));
            self.run_step(i);
        }
        Ok(ranges)
    }

    /// Copies the current image's tensor into its slot, where the first layer reads it.
    fn place_input(&mut self) -> Result<(), Error> {
        let input = self.input.as_ref().ok_or_else(|| Error::Usage("no image to classify yet".into()))?;
        let slot = self.places[self.graph.input].slot;
        self.slots[slot][..input.len()].copy_from_slice(input);
        Ok(())
    }

    fn run_step(&mut self, i: usize) {
        let step = &self.steps[i];
        // The output's slot is taken out for the call: steps never read and write one slot.
        let mut output = std::mem::take(&mut self.slots[step.output.slot]);
        let call = CpuCall {
            input_shape: step.input_shape,
            input: Tensor { data: &self.slots[step.input.slot], c_offset: step.input.channel_offset },
            output: TensorMut { data: &mut output, c_offset: step.output.channel_offset },
        };
        self.install(|| step.op.run(call));
        self.slots[step.output.slot] = output;
    }

    fn tensor(&self, id: usize) -> &[f32] {
        let (place, shape) = (self.places[id], self.graph.shapes[id]);
        &self.slots[place.slot][place.channel_offset as usize * shape.pixels() as usize..][..shape.elements()]
    }
}

/// The threads a network runs on: natively a pool of its own; in wasm the pool of web
/// workers the threaded build starts (none in the plain build).
#[derive(Clone)]
struct Threads {
    #[cfg(not(target_arch = "wasm32"))]
    pool: std::sync::Arc<rayon::ThreadPool>,
}

impl Threads {
    fn new(threads: Option<usize>) -> Result<Threads, Error> {
        #[cfg(target_arch = "wasm32")]
        let _ = threads; // the page's pool is sized when it starts (`initThreadPool`)
        Ok(Threads {
            #[cfg(not(target_arch = "wasm32"))]
            pool: std::sync::Arc::new(thread_pool(threads)?),
        })
    }

    /// Runs `f` on a thread of the pool: natively `install`; in wasm with threads
    /// `rayon::scope`, as the CPU worker calling it is not one of the pool's threads.
    fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        #[cfg(not(target_arch = "wasm32"))]
        return self.pool.install(f);
        #[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
        return rayon::scope(|_| f());
        #[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
        f()
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn thread_pool(threads: Option<usize>) -> Result<rayon::ThreadPool, Error> {
    let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("inception-cpu-{i}"))
        .build()
        .map_err(|e| Error::Usage(format!("cannot start {threads} threads: {e}")))
}

fn cpu_step(step: Step<Work>, kernel: MicroKernel, int8: Option<DotKernel>) -> CpuStep {
    step.map(|step, work| cpu_layer(&step.label, &work.op, step.input_shape, work.params.as_deref(), kernel, int8))
}

/// Each layer type's CPU layer: the one place that maps graph ops to them (the GPU's twin
/// of this table is `network::layers::gpu_layer`).
fn cpu_layer(
    label: &str,
    op: &Op,
    input: Shape,
    params: Option<&LayerParams>,
    kernel: MicroKernel,
    int8: Option<DotKernel>,
) -> Box<dyn CpuLayer> {
    let params = || params.unwrap_or_else(|| panic!("{label}: the model has no parameters for it"));
    if let (Op::Conv2d { spec, .. }, Some(int8)) = (op, int8) {
        if let Some(layer) = int8::Int8Conv::new(*spec, input, params(), int8) {
            return Box::new(layer);
        }
    }
    match op {
        Op::Conv2d { spec, .. } if winograd::applies(spec, input) => {
            Box::new(winograd::Winograd::new(*spec, input, params(), kernel))
        }
        Op::Conv2d { spec, .. } => Box::new(conv2d::Conv2d::new(*spec, input, params(), kernel)),
        Op::Linear { spec, .. } => Box::new(linear::Linear::new(*spec, params())),
        Op::Pool(spec) => Box::new(pool::Pool(*spec)),
        Op::Lrn(spec) => Box::new(lrn::Lrn(*spec)),
        Op::Concat => unreachable!("concatenations are not layers"),
    }
}

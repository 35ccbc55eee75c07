//! The two backends behind one type: the WebGPU scheduler ([`Network`]) and the CPU one
//! ([`CpuNetwork`]), built from the same model, and the choice between them by measuring
//! both on the device.

use crate::cpu::kernels::DotKernel;
use crate::cpu::{Compute, CpuNetwork, CpuOptions};
use crate::error::Error;
use crate::gpu::Gpu;
use crate::graph::Graph;
use crate::models::Model;
use crate::network::Network;
use crate::network::Options;
use crate::plan::{LayerTime, Output, Stats};

/// Where a network runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Gpu,
    Cpu,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Gpu => "gpu",
            Backend::Cpu => "cpu",
        }
    }
}

impl std::str::FromStr for Backend {
    type Err = Error;
    fn from_str(s: &str) -> Result<Backend, Error> {
        match s {
            "gpu" => Ok(Backend::Gpu),
            "cpu" => Ok(Backend::Cpu),
            _ => Err(Error::Usage(format!("unknown backend `{s}` (gpu or cpu)"))),
        }
    }
}

/// What the CPU's convolutions compute in, as asked (`--compute`, `?compute=`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ComputeChoice {
    /// Int8 where the weights file is calibrated for it, else float32.
    #[default]
    Auto,
    F32,
    Int8,
}

impl std::str::FromStr for ComputeChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<ComputeChoice, Error> {
        match s {
            "auto" => Ok(ComputeChoice::Auto),
            "f32" | "float32" => Ok(ComputeChoice::F32),
            "int8" => Ok(ComputeChoice::Int8),
            _ => Err(Error::Usage(format!("unknown compute `{s}` (auto, f32 or int8)"))),
        }
    }
}

impl ComputeChoice {
    /// What the CPU computes `model` in, and why, where `int8` is the int8 tier it would
    /// run: int8 needs the calibrated input ranges a file has from `convert --calibrate`
    /// (a file without them runs float32, and says so); `auto` also needs a SIMD int8 tier,
    /// since the portable one is slower than float32 (BVLC: 346-356 ms a pass against the
    /// portable float32 tier's 80-82 ms; with AVX2, int8 21-31 ms against 28-46 ms).
    pub fn resolve(self, model: &Model, int8: &DotKernel) -> (Compute, String) {
        let calibrated = model.params.iter().flatten().filter(|p| p.input_range.is_some()).count();
        match self {
            ComputeChoice::F32 => (Compute::F32, "f32 asked".into()),
            ComputeChoice::Int8 | ComputeChoice::Auto if calibrated == 0 => (
                Compute::F32,
                "the weights file has no int8 calibration (make one with `inception convert --calibrate PHOTOS`)".into(),
            ),
            ComputeChoice::Int8 => (Compute::Int8, "int8 asked".into()),
            ComputeChoice::Auto if int8.name == "portable" => {
                (Compute::F32, "this CPU has no SIMD int8 tier, and the portable one is slower than float32".into())
            }
            ComputeChoice::Auto => (Compute::Int8, "the weights file is calibrated for int8".into()),
        }
    }
}

/// A loaded network on one backend.
#[allow(clippy::large_enum_variant, reason = "one or two per program, never moved in a loop")]
pub enum Engine {
    Gpu(Network),
    Cpu(CpuNetwork),
}

impl Engine {
    /// The network of `model` on `backend` (`gpu` must be given for the GPU).
    pub fn new(
        backend: Backend,
        gpu: Option<&Gpu>,
        model: &Model,
        gpu_options: Options,
        cpu_options: CpuOptions,
    ) -> Result<Engine, Error> {
        Ok(match backend {
            Backend::Gpu => {
                let gpu = gpu.ok_or_else(|| Error::Gpu("no GPU adapter".into()))?;
                Engine::Gpu(Network::with_options(gpu, model, gpu_options)?)
            }
            Backend::Cpu => Engine::Cpu(CpuNetwork::new(model, cpu_options)?),
        })
    }

    pub fn backend(&self) -> Backend {
        match self {
            Engine::Gpu(_) => Backend::Gpu,
            Engine::Cpu(_) => Backend::Cpu,
        }
    }

    /// What runs it, in words: the adapter, or the CPU kernel and threads.
    pub fn describe(&self, gpu: Option<&Gpu>) -> String {
        match self {
            Engine::Gpu(_) => gpu.map_or_else(|| "GPU".into(), Gpu::describe),
            Engine::Cpu(n) => format!("CPU: {}", n.describe()),
        }
    }

    pub fn graph(&self) -> &Graph {
        match self {
            Engine::Gpu(n) => n.graph(),
            Engine::Cpu(n) => n.graph(),
        }
    }

    pub fn stats(&self) -> Stats {
        match self {
            Engine::Gpu(n) => n.stats,
            Engine::Cpu(n) => n.stats,
        }
    }

    /// Whether each pass also computes the class activation maps of its top-k.
    pub fn set_cams(&mut self, on: bool) -> Result<(), Error> {
        match self {
            Engine::Gpu(n) => n.set_cams(on),
            Engine::Cpu(n) => n.set_cams(on),
        }
    }

    pub fn set_image(&mut self, rgba: &[u8], width: u32, height: u32) -> Result<(), Error> {
        match self {
            Engine::Gpu(n) => n.set_image(rgba, width, height),
            Engine::Cpu(n) => n.set_image(rgba, width, height),
        }
    }

    /// A forward pass on the current image.
    pub async fn run(&mut self, with_logits: bool) -> Result<Output, Error> {
        match self {
            Engine::Gpu(n) => n.run(with_logits).await,
            Engine::Cpu(n) => n.run(with_logits),
        }
    }

    pub async fn classify(&mut self, rgba: &[u8], width: u32, height: u32, with_logits: bool) -> Result<Output, Error> {
        self.set_image(rgba, width, height)?;
        self.run(with_logits).await
    }

    /// The values of a tensor (C x H x W) on the current image (`Network::read_activation`).
    pub async fn read_activation(&mut self, tensor: usize) -> Result<Vec<f32>, Error> {
        match self {
            Engine::Gpu(n) => n.read_activation(tensor).await,
            Engine::Cpu(n) => n.read_activation(tensor),
        }
    }

    /// Each layer's time of one pass.
    pub async fn profile(&mut self) -> Result<Vec<LayerTime>, Error> {
        match self {
            Engine::Gpu(n) => n.profile().await,
            Engine::Cpu(n) => n.profile(),
        }
    }

    /// Median milliseconds of `runs` passes on the current image, after one warm-up.
    pub async fn time(&mut self, runs: usize) -> Result<f64, Error> {
        self.run(false).await?;
        let mut times = Vec::new();
        for _ in 0..runs.max(1) {
            let start = crate::clock::now_ms();
            self.run(false).await?;
            times.push(crate::clock::now_ms() - start);
        }
        times.sort_by(f64::total_cmp);
        Ok(times[times.len() / 2])
    }
}

/// Why a backend was chosen, with what was measured.
#[derive(Clone, Debug)]
pub struct Choice {
    pub backend: Backend,
    pub reason: String,
    /// Median ms per pass of each backend measured.
    pub gpu_ms: Option<f64>,
    pub cpu_ms: Option<f64>,
}

impl Choice {
    /// The faster of two measured medians; the GPU on a tie.
    pub fn measured(gpu_ms: f64, cpu_ms: f64) -> Choice {
        let backend = if cpu_ms < gpu_ms { Backend::Cpu } else { Backend::Gpu };
        let reason = format!("measured faster here (GPU {gpu_ms:.1} ms, CPU {cpu_ms:.1} ms per image)");
        Choice { backend, reason, gpu_ms: Some(gpu_ms), cpu_ms: Some(cpu_ms) }
    }

    pub fn forced(backend: Backend) -> Choice {
        Choice { backend, reason: format!("{} forced", backend.name()), gpu_ms: None, cpu_ms: None }
    }

    pub fn no_adapter(why: &str) -> Choice {
        Choice { backend: Backend::Cpu, reason: format!("no WebGPU adapter ({why})"), gpu_ms: None, cpu_ms: None }
    }
}

/// Builds both backends for `model`, times `runs` passes of each on `rgba` and keeps the
/// faster one.
pub async fn choose_by_measuring(
    gpu: &Gpu,
    model: &Model,
    gpu_options: Options,
    cpu_options: CpuOptions,
    image: (&[u8], u32, u32),
    runs: usize,
) -> Result<(Engine, Choice), Error> {
    let mut engines = Vec::new();
    let mut medians = Vec::new();
    for backend in [Backend::Gpu, Backend::Cpu] {
        let mut engine = Engine::new(backend, Some(gpu), model, gpu_options, cpu_options)?;
        engine.set_image(image.0, image.1, image.2)?;
        medians.push(engine.time(runs).await?);
        engines.push(engine);
    }
    let choice = Choice::measured(medians[0], medians[1]);
    let engine = engines.into_iter().find(|e| e.backend() == choice.backend).unwrap();
    Ok((engine, choice))
}

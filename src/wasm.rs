//! The browser's API (through wasm-bindgen): open the GPU (or the CPU backend), load a
//! model, classify. On the GPU the page copies camera frames and images into the input
//! texture with `copyExternalImageToTexture`, so pixels never pass through JavaScript or
//! the wasm heap, and a failed copy (which some adapters refuse for video) is a catchable
//! JavaScript exception rather than a wasm panic. On the CPU the page hands over RGBA
//! pixels (`setImage`).

// A classifier's RefCell borrow is held across the GPU readback on purpose: it is what
// makes a second exclusive call while one is in flight fail as "busy" instead of racing.
#![allow(clippy::await_holding_refcell_ref, reason = "the borrow is the busy guard")]

use crate::backend::{ComputeChoice, Engine as Backends};
use crate::network::{KernelChoice, Network, Options, Tuning};
use crate::{labels, Classification, CpuNetwork, CpuOptions, Error, Gpu, Model, Variant};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::Clamped;

/// `initThreadPool(n)`: starts the CPU backend's n threads (web workers sharing the
/// module's memory), in the wasm build with threads only.
#[cfg(target_feature = "atomics")]
#[allow(unused_imports, reason = "exported to JavaScript by its own #[wasm_bindgen]")]
pub use wasm_bindgen_rayon::init_thread_pool;

/// A JavaScript `Error` whose `name` says which kind of failure it is, so that the page can
/// show a specific message: "GpuError", "WeightsError", "ImageError" or "UsageError".
fn js_error(e: Error) -> JsValue {
    let name = match &e {
        Error::Usage(_) => "UsageError",
        Error::Gpu(_) => "GpuError",
        Error::Image(_) => "ImageError",
        Error::Weights(_) => "WeightsError",
    };
    let error = js_sys::Error::new(&e.to_string());
    error.set_name(name);
    error.into()
}

/// The networks the engine runs, in words, from the model registry (for the page's
/// messages): "GoogLeNet (BVLC, Caffe), GoogLeNet (torchvision), ...".
#[wasm_bindgen(js_name = modelTitles)]
pub fn model_titles() -> String {
    crate::models::registry::MODELS.iter().map(|m| m.title).collect::<Vec<_>>().join(", ")
}

/// What this wasm instance holds now, as JSON, for the page's soak mode: its linear memory
/// in bytes (which never shrinks, so any growth shows) and the GPU objects alive
/// (`gpu_objects::live`): `{"wasmBytes", "gpu": {"buffers", "textures", "bindGroups",
/// "querySets"}}`.
#[wasm_bindgen(js_name = memoryReport)]
pub fn memory_report() -> String {
    let live = crate::gpu_objects::live();
    serde_json::json!({
        "wasmBytes": core::arch::wasm32::memory_size::<0>() * 65536,
        "gpu": {
            "buffers": live.buffers,
            "textures": live.textures,
            "bindGroups": live.bind_groups,
            "querySets": live.query_sets,
        },
    })
    .to_string()
}

/// `cropRegion(crop, resize, width, height)`: the part of a `width` x `height` image the
/// network sees, `[x, y, width, height]` in its pixels (`crop` and `resize` from `stats()`):
/// where the page outlines the crop and lays the activation maps.
#[wasm_bindgen(js_name = cropRegion)]
pub fn crop_region(crop: u32, resize: u32, width: u32, height: u32) -> Vec<f32> {
    crate::graph::Geometry::centre_crop(crop, resize, width, height).source_rect(crop).to_vec()
}

/// `camHeatmap(values, width, height, size)`: a raw activation map (a `cam` of `run`'s
/// result) as the RGBA pixels of a `size` x `size` heat map over the crop, the same
/// resampling and colours as `inception classify --cam-out`.
#[wasm_bindgen(js_name = camHeatmap)]
pub fn cam_heatmap(values: Vec<f32>, width: u32, height: u32, size: u32) -> Result<Clamped<Vec<u8>>, JsValue> {
    if width == 0 || height == 0 || values.len() != width as usize * height as usize || size == 0 {
        let what = format!("a {width}x{height} map needs {} values, not {}", width * height, values.len());
        return Err(js_error(Error::Usage(what)));
    }
    let map = crate::heatmap::ActivationMap { width, height, values };
    Ok(Clamped(map.over_crop(size).heat_rgba()))
}

/// `featureMapTiles(values, c, h, w, ranges, count)`: for each channel range `[first,
/// channels]` of `ranges` (a branch's channels of a block's C x H x W output), its `count`
/// channels with the most energy as `w` x `h` tiles side by side, strongest first, each
/// min-max normalised; the ranges one under another: RGBA of `count * w` x `ranges.len() / 2 * h`.
#[wasm_bindgen(js_name = featureMapTiles)]
pub fn feature_map_tiles(
    values: &[f32],
    c: u32,
    h: u32,
    w: u32,
    ranges: &[u32],
    count: u32,
) -> Result<Clamped<Vec<u8>>, JsValue> {
    let shape = crate::graph::Shape::new(c, h, w);
    let ranges: Vec<(u32, u32)> = ranges.chunks(2).filter(|r| r.len() == 2).map(|r| (r[0], r[1])).collect();
    crate::architecture::feature_map_atlas(values, shape, &ranges, count).map(Clamped).map_err(js_error)
}

/// A backend to load networks on: an open WebGPU device, or the CPU.
#[wasm_bindgen]
pub struct Engine {
    gpu: Option<Rc<Gpu>>,
}

/// Asks the browser for a WebGPU adapter and device. The page checks `navigator.gpu` first.
#[wasm_bindgen(js_name = openEngine)]
pub async fn open_engine() -> Result<Engine, JsValue> {
    console_error_panic_hook::set_once();
    let gpu = Gpu::new().await.map_err(js_error)?;
    Ok(Engine { gpu: Some(Rc::new(gpu)) })
}

/// The CPU backend (WebAssembly SIMD), which needs nothing from the browser.
#[wasm_bindgen(js_name = cpuEngine)]
pub fn cpu_engine() -> Engine {
    console_error_panic_hook::set_once();
    Engine { gpu: None }
}

/// The CPU backend in words: "WebAssembly simd128, 1 thread".
fn describe_cpu() -> String {
    let kernel = crate::cpu::kernels::best();
    let threads = crate::parallel::count();
    format!("WebAssembly {}, {threads} thread{}", kernel.name, if threads == 1 { "" } else { "s" })
}

#[wasm_bindgen]
impl Engine {
    /// "gpu" or "cpu".
    pub fn backend(&self) -> String {
        if self.gpu.is_some() { "gpu" } else { "cpu" }.into()
    }

    /// The adapter, or the CPU backend, in words.
    pub fn describe(&self) -> String {
        self.gpu.as_ref().map_or_else(describe_cpu, |gpu| gpu.describe())
    }

    /// The `GPUDevice` object, so that the page can copy images into the input texture and
    /// watch `device.lost`; null on the CPU.
    pub fn device(&self) -> JsValue {
        let device = self.gpu.as_ref().and_then(|gpu| gpu.device.as_webgpu().cloned());
        device.map(JsValue::from).unwrap_or(JsValue::NULL)
    }

    /// Builds a network from a weights file (safetensors or a PyTorch checkpoint):
    /// validates the weights and creates every pipeline and buffer. `model` ("bvlc",
    /// "torchvision", "seed", "inception_v3") is checked against the file; without it the
    /// network is recognised from the tensor names. `labels` (one class per line) is
    /// optional: otherwise those stored in the file, or ImageNet's for 1000 classes.
    /// `compute` ("auto", "f32", "int8"; default auto) is what the CPU computes in, as
    /// `inception classify --compute`: int8 needs a file calibrated for it; the GPU computes
    /// in float either way (`stats()` says what runs and why).
    pub fn load(
        &self,
        model: Option<String>,
        weights: &[u8],
        labels: Option<String>,
        compute: Option<String>,
    ) -> Result<Classifier, JsValue> {
        let variant = model.filter(|m| !m.is_empty()).map(|m| Variant::from_name(&m)).transpose().map_err(js_error)?;
        let compute: ComputeChoice =
            compute.filter(|c| !c.is_empty()).map(|c| c.parse()).transpose().map_err(js_error)?.unwrap_or_default();
        let model = Model::load(weights, variant).map_err(|e| js_error(e.into()))?;
        let labels = labels::choose(
            labels.as_deref().map(labels::parse),
            crate::convert::embedded_labels(weights),
            model.graph.num_classes(),
        )
        .map_err(|e| js_error(e.into()))?;
        let (network, compute_reason) = match &self.gpu {
            // float16 weights where the adapter has shader-f16 (same top-5, smaller and faster)
            Some(gpu) => {
                let network = Network::with_options(gpu, &model, Options::fastest(gpu)).map_err(js_error)?;
                let why = match compute {
                    ComputeChoice::Int8 => "int8 compute runs on the CPU backend; the GPU computes in float",
                    _ => "the GPU computes in float",
                };
                (Backends::Gpu(network), why.to_string())
            }
            None => {
                let int8 = crate::cpu::kernels::dot::chosen().map_err(js_error)?;
                let (compute, why) = compute.resolve(&model, &int8);
                let options = CpuOptions { compute, int8_kernel: Some(int8), ..CpuOptions::default() };
                (Backends::Cpu(CpuNetwork::new(&model, options).map_err(js_error)?), why)
            }
        };
        Ok(Classifier {
            network: Rc::new(RefCell::new(network)),
            labels: Rc::new(labels),
            variant: model.variant,
            tuning: Rc::new(RefCell::new(None)),
            compute_reason,
        })
    }
}

/// A loaded network, on the GPU or the CPU.
#[wasm_bindgen]
pub struct Classifier {
    network: Rc<RefCell<Backends>>,
    labels: Rc<Vec<String>>,
    variant: Variant,
    /// An autotune under way a step at a time (`autotuneStep`).
    tuning: Rc<RefCell<Option<Tuning>>>,
    /// Why it computes in what it does ("int8 asked", "the weights file has no int8 calibration ...").
    compute_reason: String,
}

fn gpu_only() -> JsValue {
    js_error(Error::Usage("this needs the GPU backend; the classifier runs on the CPU".into()))
}

#[wasm_bindgen]
impl Classifier {
    /// "gpu" or "cpu".
    pub fn backend(&self) -> String {
        self.network.borrow().backend().name().into()
    }

    /// The `GPUTexture` (rgba8unorm) the next `run` classifies, sized for an image of
    /// `width` x `height`; the page copies the frame into it. GPU only.
    pub fn texture(&self, width: u32, height: u32) -> Result<JsValue, JsValue> {
        let as_js = |t: &wgpu::Texture| t.as_webgpu().map(|t| t.clone().into()).unwrap_or(JsValue::NULL);
        // Same size as before: no exclusive access needed, a previous run may be in flight.
        if let Ok(network) = self.network.try_borrow() {
            match &*network {
                Backends::Gpu(network) => {
                    if let Some(texture) = network.texture_of_size(width, height) {
                        return Ok(as_js(texture));
                    }
                }
                Backends::Cpu(_) => return Err(gpu_only()),
            }
        }
        let mut network = self.network.try_borrow_mut().map_err(|_| busy())?;
        let Backends::Gpu(network) = &mut *network else { return Err(gpu_only()) };
        let texture = network.image_texture(width, height).map_err(js_error)?;
        Ok(as_js(texture))
    }

    /// Sets the image the next `run` classifies from tightly packed RGBA8 pixels (an
    /// `ImageData`'s `data`): how the page feeds the CPU backend; works on the GPU too.
    #[wasm_bindgen(js_name = setImage)]
    pub fn set_image(&self, rgba: &[u8], width: u32, height: u32) -> Result<(), JsValue> {
        let mut network = self.network.try_borrow_mut().map_err(|_| busy())?;
        network.set_image(rgba, width, height).map_err(js_error)
    }

    /// Whether each `run` also computes the class activation map of each of its top-5
    /// (`"cam": {"width", "height", "values"}` per entry, the raw map over the last feature
    /// maps' grid, 7x7 for GoogLeNet): where in the crop the network saw that class.
    #[wasm_bindgen(js_name = setCams)]
    pub fn set_cams(&self, on: bool) -> Result<(), JsValue> {
        let mut network = self.network.try_borrow_mut().map_err(|_| busy())?;
        network.set_cams(on).map_err(js_error)
    }

    /// Classifies the texture's contents: submits the work at once (so the page may copy
    /// the next frame into the texture right after this returns) and resolves, once it is
    /// read back, to a JSON string, the shape the CLI's `--json` prints too
    /// (`Classification::to_json`): `{"top": [{"index", "label", "probability"}...], "gpuMs"}`, each entry with its `cam`
    /// while `setCams(true)`.
    /// Two runs may be in flight at once.
    /// On the CPU the pass runs before this returns (the promise is already settled).
    pub fn run(&self) -> Result<js_sys::Promise, JsValue> {
        let json = |out| JsValue::from_str(&Classification::new(out, &self.labels).to_json().to_string());
        // (a shared borrow on the GPU: a second pass may be submitted while the first is read back)
        let ticket = match &*self.network.try_borrow().map_err(|_| busy())? {
            Backends::Gpu(network) => Some(network.submit(false).map_err(js_error)?),
            Backends::Cpu(_) => None,
        };
        let Some(ticket) = ticket else {
            let mut network = self.network.try_borrow_mut().map_err(|_| busy())?;
            let Backends::Cpu(network) = &mut *network else { unreachable!("not on the GPU") };
            let out = network.run(false).map_err(js_error)?;
            return Ok(js_sys::Promise::resolve(&json(out)));
        };
        let network = self.network.clone();
        let labels = self.labels.clone();
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            let network = network.try_borrow().map_err(|_| busy())?;
            let Backends::Gpu(network) = &*network else { unreachable!("submitted on the GPU") };
            let out = network.read_output(ticket).await.map_err(js_error)?;
            Ok(JsValue::from_str(&Classification::new(out, &labels).to_json().to_string()))
        }))
    }

    /// Measures the convolution kernel variants on this adapter and keeps the fastest per
    /// layer. Resolves to the choice as JSON (`KernelChoice::to_json`: each convolution's
    /// shape and kernel), which `setKernels` restores on a later visit. Needs a texture
    /// filled first (any content).
    pub fn autotune(&self) -> js_sys::Promise {
        let network = self.network.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let mut network = network.try_borrow_mut().map_err(|_| busy())?;
            let Backends::Gpu(network) = &mut *network else { return Err(gpu_only()) };
            let choice = network.autotune().await.map_err(js_error)?;
            network.release_unused_kernels();
            Ok(JsValue::from_str(&choice.to_json()))
        })
    }

    /// `autotune` a step at a time, for classifying between steps: each call times one
    /// candidate kernel (about one pass) and switches to the fastest kernels measured so far.
    /// Resolves to null while candidates remain, and after the last to the choice as JSON,
    /// the same as `autotune` would have made.
    #[wasm_bindgen(js_name = autotuneStep)]
    pub fn autotune_step(&self) -> js_sys::Promise {
        let (network, tuning) = (self.network.clone(), self.tuning.clone());
        wasm_bindgen_futures::future_to_promise(async move {
            let mut network = network.try_borrow_mut().map_err(|_| busy())?;
            let Backends::Gpu(network) = &mut *network else { return Err(gpu_only()) };
            let mut tuning = tuning.try_borrow_mut().map_err(|_| busy())?;
            if tuning.is_none() {
                *tuning = Some(network.start_tuning().map_err(js_error)?);
            }
            if !network.tune_step(tuning.as_mut().unwrap()).await.map_err(js_error)? {
                return Ok(JsValue::NULL);
            }
            *tuning = None;
            network.release_unused_kernels();
            Ok(JsValue::from_str(&network.kernel_choice().to_json()))
        })
    }

    /// The time of every layer of one pass, as JSON: `[{"layer", "nodes", "ms",
    /// "multiplyAdds", "kernel"}...]` (`nodes`: the graph nodes it computes); on the GPU each layer timed alone (needs timestamp queries), on the
    /// CPU within a pass.
    pub fn profile(&self) -> js_sys::Promise {
        let network = self.network.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let mut network = network.try_borrow_mut().map_err(|_| busy())?;
            let layers = network.profile().await.map_err(js_error)?;
            let rows: Vec<_> = layers
                .iter()
                .map(|l| {
                    let kernel = l.kernel.clone();
                    serde_json::json!({"layer": l.label, "nodes": l.nodes, "ms": l.ms, "multiplyAdds": l.multiply_adds, "kernel": kernel})
                })
                .collect();
            Ok(JsValue::from_str(&serde_json::Value::from(rows).to_string()))
        })
    }

    /// The network as blocks and branches, with each layer's shape, parameters and
    /// multiply-adds, as JSON (`architecture::to_json`): what the page's explorer draws.
    pub fn architecture(&self) -> String {
        crate::architecture::to_json(self.network.borrow().graph()).to_string()
    }

    /// Resolves to the values (C x H x W, a `Float32Array`) of the tensor numbered `tensor`
    /// (a block's `tensor` in `architecture`) on the image of the last run: the pass up to
    /// it is run again, so this costs only while the page asks.
    pub fn activation(&self, tensor: usize) -> js_sys::Promise {
        let network = self.network.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let mut network = network.try_borrow_mut().map_err(|_| busy())?;
            let values = network.read_activation(tensor).await.map_err(js_error)?;
            Ok(js_sys::Float32Array::from(&values[..]).into())
        })
    }

    /// Restores a choice made by `autotune`; refuses (a UsageError) one made for another
    /// network or by another build, which the page then measures anew.
    #[wasm_bindgen(js_name = setKernels)]
    pub fn set_kernels(&self, json: &str) -> Result<(), JsValue> {
        let choice = KernelChoice::from_json(json).map_err(js_error)?;
        let mut network = self.network.try_borrow_mut().map_err(|_| busy())?;
        let Backends::Gpu(network) = &mut *network else { return Err(gpu_only()) };
        network.set_kernel_choice(&choice).map_err(js_error)?;
        network.release_unused_kernels();
        Ok(())
    }

    /// What was loaded, as JSON: model, classes, input crop and resize, weight and
    /// activation bytes, dispatches, multiply-adds per image, weight precision, and what
    /// it computes in: `compute` ("int8", "f32" on the CPU; the weight precision on the
    /// GPU), `computeReason`, `runs` (the CPU's kernels and threads in words, as the
    /// CLI's stderr says them; null on the GPU, whose adapter the page has from its device).
    pub fn stats(&self) -> String {
        let network = self.network.borrow();
        let s = network.stats();
        let (precision, compute, runs) = match &*network {
            Backends::Gpu(n) => {
                let precision = format!("{:?}", n.precision()).to_lowercase();
                (precision.clone(), precision, None)
            }
            Backends::Cpu(n) => {
                let compute = if n.int8_kernel().is_some() { "int8" } else { "f32" };
                ("f32".into(), compute.into(), Some(format!("WebAssembly {}", n.describe())))
            }
        };
        serde_json::json!({
            "backend": network.backend().name(),
            "model": self.variant.name(),
            "title": self.variant.title(),
            "inputSize": network.graph().input_spec.crop,
            "resize": network.graph().input_spec.resize,
            "classes": network.graph().num_classes(),
            "weightBytes": s.weight_bytes,
            "activationBytes": s.activation_bytes,
            "dispatches": s.dispatches,
            "weightPrecision": precision,
            "multiplyAdds": s.multiply_adds,
            "compute": compute,
            "computeReason": self.compute_reason,
            "runs": runs,
        })
        .to_string()
    }
}

fn busy() -> JsValue {
    js_error(Error::Usage("the classifier is still busy with the previous frame".into()))
}

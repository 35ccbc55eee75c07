//! The GPU context: one wgpu device and queue, shared by every network loaded on it.

use crate::error::Error;
use crate::gpu_objects;
use std::sync::{Arc, Mutex};

/// A wgpu device with the facts about it the engine needs.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub adapter_features: wgpu::Features,
    pub adapter_limits: wgpu::Limits,
    /// GPU errors nobody caught (an invalid shader, a bad binding), collected instead of
    /// wgpu's default of panicking, and reported by the next readback.
    pub errors: ErrorLog,
    // Kept alive with the device: on the web, Chromium loses the device ("destroyed") once
    // the instance that created it is garbage-collected.
    _instance: wgpu::Instance,
    _adapter: wgpu::Adapter,
}

/// Validation and out-of-memory errors the device reported, oldest first, and whether the
/// device was lost (after which every error is that one).
#[derive(Clone, Default)]
pub struct ErrorLog {
    errors: Arc<Mutex<Vec<String>>>,
    lost: Arc<Mutex<Option<String>>>,
}

impl ErrorLog {
    /// Watches `device`: its uncaught errors (instead of wgpu's default of panicking) and
    /// its loss.
    fn watch(device: &wgpu::Device) -> ErrorLog {
        let log = ErrorLog::default();
        let sink = log.errors.clone();
        device.on_uncaptured_error(Arc::new(move |e| sink.lock().unwrap().push(e.to_string())));
        let lost = log.lost.clone();
        device.set_device_lost_callback(move |reason, message| {
            let reason = match reason {
                wgpu::DeviceLostReason::Destroyed => "destroyed",
                wgpu::DeviceLostReason::Unknown => "a driver reset or an unknown reason",
            };
            let why = if message.is_empty() { reason.to_string() } else { format!("{reason}: {message}") };
            *lost.lock().unwrap() = Some(why);
        });
        log
    }

    /// The first error since the last check, as an [`Error`]; the device's loss first.
    pub fn check(&self) -> Result<(), Error> {
        if let Some(why) = self.lost.lock().unwrap().as_ref() {
            return Err(Error::Gpu(format!("the GPU device was lost ({why})")));
        }
        let mut errors = self.errors.lock().unwrap();
        match errors.first() {
            Some(first) => {
                let e = Error::Gpu(format!("the GPU rejected the work: {first}"));
                errors.clear();
                Err(e)
            }
            None => Ok(()),
        }
    }

    /// `result` of waiting on the GPU, unless the device reported something that explains
    /// it better (a lost device fails a readback with a less telling error).
    pub fn check_after<T>(&self, result: Result<T, Error>) -> Result<T, Error> {
        self.check()?;
        result
    }
}

impl Gpu {
    /// Asks for the default high-performance adapter and a device on it. On the web this
    /// is `navigator.gpu`; natively Vulkan, Metal or DX12.
    pub async fn new() -> Result<Gpu, Error> {
        let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        // WebGPU, Vulkan, Metal, DX12; OpenGL only when asked for with WGPU_BACKEND=gl
        // (its probing prints noise on headless machines and it lacks what we need).
        descriptor.backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::PRIMARY);
        let instance = wgpu::Instance::new(descriptor);
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| Error::Gpu(format!("no WebGPU adapter is available ({e})")))?;
        let adapter_features = adapter.features();
        let adapter_limits = adapter.limits();
        // Timestamp queries serve the benchmark and the autotuner, shader-f16 the float16
        // weights; ask for them where they exist.
        let required_features = adapter_features & (wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::SHADER_F16);
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("inception"),
                required_features,
                required_limits: wgpu::Limits::default().using_resolution(adapter_limits.clone()),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::Gpu(format!("the adapter refused to create a device ({e})")))?;
        let errors = ErrorLog::watch(&device);
        Ok(Gpu {
            device,
            queue,
            info: adapter.get_info(),
            adapter_features,
            adapter_limits,
            errors,
            _instance: instance,
            _adapter: adapter,
        })
    }

    /// Whether the adapter is a CPU implementation (llvmpipe, SwiftShader, WARP): what the
    /// adapter says of itself, or on the web whether the browser calls it a fallback.
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// Whether shaders may use f16 (for float16 weights).
    pub fn has_f16(&self) -> bool {
        self.device.features().contains(wgpu::Features::SHADER_F16)
    }

    pub fn has_timestamps(&self) -> bool {
        self.device.features().contains(wgpu::Features::TIMESTAMP_QUERY)
    }

    /// One line naming the adapter, for logs and benchmark output.
    pub fn describe(&self) -> String {
        let i = &self.info;
        let driver = format!("{} {}", i.driver, i.driver_info);
        let mut parts = vec![format!("{:?}", i.backend), i.device_type_name().to_string()];
        if !driver.trim().is_empty() {
            parts.push(format!("driver {}", driver.trim()));
        }
        let name = if i.name.is_empty() { "unnamed adapter" } else { &i.name };
        format!("{name} ({})", parts.join(", "))
    }

    /// Creates a buffer filled with `data`.
    pub fn buffer_init(&self, label: &str, data: &[u8], usage: wgpu::BufferUsages) -> gpu_objects::Buffer {
        gpu_objects::buffer_init(&self.device, &wgpu::util::BufferInitDescriptor { label: Some(label), contents: data, usage })
    }

    /// Reads `size` bytes from the start of `buffer` (which needs COPY_SRC) back to the CPU.
    /// Meant for tests and tools; the forward pass has its own staging buffer.
    pub async fn read_buffer(&self, buffer: &wgpu::Buffer, size: u64) -> Result<Vec<u8>, Error> {
        let staging = gpu_objects::buffer(
            &self.device,
            &wgpu::BufferDescriptor {
                label: Some("read_buffer staging"),
                size,
                usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
                mapped_at_creation: false,
            },
        );
        let mut encoder = self.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, size);
        self.queue.submit([encoder.finish()]);
        self.errors.check_after(map_read(&self.device, &staging).await)
    }
}

trait DeviceTypeName {
    fn device_type_name(&self) -> &'static str;
}

impl DeviceTypeName for wgpu::AdapterInfo {
    fn device_type_name(&self) -> &'static str {
        match self.device_type {
            wgpu::DeviceType::DiscreteGpu => "discrete GPU",
            wgpu::DeviceType::IntegratedGpu => "integrated GPU",
            wgpu::DeviceType::VirtualGpu => "virtual GPU",
            wgpu::DeviceType::Cpu => "software (CPU)",
            wgpu::DeviceType::Other => "unknown type",
        }
    }
}

/// Maps a MAP_READ buffer and copies its contents out, awaiting the GPU without blocking
/// the browser: natively the device is polled to completion (the one place this crate
/// waits), on the web the browser resolves the mapping from its event loop.
pub async fn map_read(device: &wgpu::Device, buffer: &wgpu::Buffer) -> Result<Vec<u8>, Error> {
    let (sender, receiver) = futures_channel::oneshot::channel();
    buffer.map_async(wgpu::MapMode::Read, .., move |result| {
        let _ = sender.send(result);
    });
    #[cfg(not(target_arch = "wasm32"))]
    device
        .poll(wgpu::PollType::Wait { submission_index: None, timeout: None })
        .map_err(|e| Error::Gpu(format!("waiting for the GPU failed ({e})")))?;
    #[cfg(target_arch = "wasm32")]
    let _ = device;
    receiver
        .await
        .map_err(|_| Error::Gpu("the GPU device was lost before the result came back".into()))?
        .map_err(|e| Error::Gpu(format!("reading the result back failed ({e})")))?;
    let bytes = buffer.get_mapped_range(..).map_err(|e| Error::Gpu(format!("{e}")))?.to_vec();
    buffer.unmap();
    Ok(bytes)
}

//! GoogLeNet (Inception v1) and Inception v3 on WebGPU with hand-written WGSL compute shaders,
//! and on the CPU with SIMD GEMMs.
//!
//! The pieces, in the order data flows through them:
//! - [`models`] build a [`graph::Graph`] per network variant;
//! - [`weights`] loads and validates a weights file into a [`weights::Model`] (batch norm
//!   folded): safetensors, or a PyTorch checkpoint through [`pth`]; both give [`tensors`];
//!   [`convert`] writes the project's own safetensors file from either;
//! - [`network::Network`] (the scheduler) creates every GPU resource once and runs a
//!   forward pass as one command buffer, reading back only the top-k;
//! - [`cpu::CpuNetwork`] runs the same steps (the same placement and sibling GEMMs) on the
//!   CPU: packed GEMMs with per-ISA micro-kernels, Winograd, threads; [`backend::Engine`]
//!   holds either network and chooses between them by measuring;
//! - [`ops`] holds one module per layer type, each beside its shader in `shaders/` and
//!   with a CPU twin; [`reference`] chains the twins into a CPU forward pass.
//!
//! The same code runs natively (Vulkan, Metal, DX12) and in the browser (WebGPU).

pub mod architecture;
pub mod backend;
pub mod clock;
pub mod convert;
pub mod cpu;
pub mod error;
pub mod gpu;
pub mod gpu_objects;
pub mod graph;
pub mod heatmap;
pub mod labels;
pub mod models;
pub mod network;
pub mod ops;
pub mod parallel;
pub mod plan;
pub mod prediction;
pub mod pth;
pub mod reference;
pub mod synthetic;
pub mod tensors;
pub mod weights;

pub use cpu::{CpuNetwork, CpuOptions};
pub use error::{Error, WeightsError};
pub use gpu::Gpu;
pub use models::{Model, Variant};
pub use network::Network;
pub use plan::Output;
pub use prediction::{Classification, Prediction};

#[cfg(target_arch = "wasm32")]
mod wasm;

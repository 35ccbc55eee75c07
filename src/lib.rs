//! GoogLeNet (Inception v1) and Inception v3 on WebGPU with hand-written WGSL compute shaders,
//! and on the CPU with SIMD GEMMs.
//!
//! The modules, in layers that only look down (`tests/layers.rs` holds the table;
//! docs/architecture.md draws it):
//! - ground: [`graph`] (shapes, windows, layer specs, [`graph::Graph`]), [`error`],
//!   [`parallel`], [`clock`], [`heatmap`];
//! - weights: [`tensors`] (named tensors, whatever the file's format), [`pth`] (PyTorch
//!   checkpoints), [`weights`] (a graph's parameters checked, batch norm folded), [`labels`];
//! - models: [`models`] (the variants, their builders and registry, [`models::Model`]),
//!   [`convert`] (the project's own safetensors file), [`architecture`];
//! - plan: [`plan`], what every backend executes: placement, steps, input, outputs;
//! - backends, side by side: the GPU's [`gpu`], [`gpu_objects`], [`ops`] (one module per
//!   layer type beside its shader in `shaders/`, with a CPU twin) and [`network`] (the
//!   scheduler: one command buffer a pass, only the top-k read back); the CPU's [`cpu`]
//!   (packed GEMMs with micro-kernel tiers per instruction set, Winograd, threads);
//! - engine: [`backend::Engine`] (either network, chosen by measuring), [`prediction`],
//!   `reference` (the twins chained), [`synthetic`];
//! - front ends: the browser API (`wasm.rs`) and the command-line program (`src/cli/`).
//!
//! The same code runs natively (Vulkan, Metal, DX12) and in the browser (WebGPU).

pub mod architecture;
pub mod backend;
pub mod calibrate;
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

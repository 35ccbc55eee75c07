//! The plan every backend executes: where each tensor lives (concatenations as channel
//! slices, slots shared by tensors whose lifetimes do not overlap), the steps in order
//! (sibling 1x1 convolutions merged into one GEMM), the input from pixels, and what a pass
//! gives back. The GPU scheduler (`network`) and the CPU backend (`cpu`) both build from
//! it, side by side; neither knows the other.

mod arena;
pub mod input;
mod output;
mod placement;
mod steps;
pub mod winograd;

pub use arena::{Arena, Lifetime};
pub use output::{no_cams, producer_of, top_k, LayerTime, Output, Stats, TOP_K};
pub use placement::{label_of, sibling_groups, Place, Placement};
pub use steps::{steps, Step, Work};

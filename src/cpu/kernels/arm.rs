//! The aarch64 tier: NEON, always there on that target.

use super::{micro_kernel, vector, Tiers};
use std::arch::aarch64::*;

vector!(Neon(float32x4_t), 4, splat: vdupq_n_f32, load: |p| vld1q_f32(p), store: |p, v| vst1q_f32(p, v),
    mul_add: |s, a, b| vfmaq_f32(s, a, b), max: vmaxq_f32);

micro_kernel! {
    /// 8 x 12: 24 sums, 3 of B and a broadcast in NEON's 32 registers. (Compiled for
    /// aarch64 but not measured: this project's machines are x86-64.)
    NEON = "neon", Neon, 8 x 3
}

/// Int8 runs the portable tier here: the dot-product instructions (`sdot`) are not yet
/// in stable Rust's `std::arch`.
pub fn plug(tiers: &mut Tiers) {
    tiers.float.push(NEON);
}

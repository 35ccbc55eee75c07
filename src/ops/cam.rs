//! Class activation maps (`shaders/cam.wgsl`): a 1x1 convolution of the last feature maps
//! with the classifier rows of the classes ranked, exact for networks that end in global
//! average pooling and one linear layer (GoogLeNet, Inception v3). Biases are left out:
//! they shift a map by a constant, which its normalisation removes.

use super::{interface, Context, Dispatch, Variant, View};
use crate::graph::{Shape, Tensor};

interface! {
    "cam", include_str!("../../shaders/cam.wgsl"),
    constants [WORKGROUP_SIZE = 64] entries [main(features, weights, ranking, maps)]
    struct Params {
        channels: u32, pixels: u32, k: u32, c_offset: u32,
    }
}

const WORKGROUP_SIZE: u32 = SHADER.constant(0);

/// Bytes of the maps of `k` classes over feature maps of `shape`.
pub fn maps_size(k: u32, shape: Shape) -> u64 {
    4 * k as u64 * shape.pixels() as u64
}

/// Records the maps of the `k` classes `ranking` (softmax_topk's result) holds, from the
/// feature maps `features` of `shape` and the classifier's row-major (classes, channels)
/// `weights`, into `maps` (k x h x w, [`maps_size`] bytes).
pub fn dispatch(
    ctx: &Context,
    shape: Shape,
    k: u32,
    features: View,
    weights: &wgpu::Buffer,
    ranking: &wgpu::Buffer,
    maps: &wgpu::Buffer,
) -> Dispatch {
    let params = Params { channels: shape.c, pixels: shape.pixels(), k, c_offset: features.c_offset };
    ctx.kernel(&SHADER, &Variant::entry("main")).dispatch(
        &ctx.device,
        "cam".into(),
        &params,
        &[
            ("features", features.buffer.as_entire_binding()),
            ("weights", weights.as_entire_binding()),
            ("ranking", ranking.as_entire_binding()),
            ("maps", maps.as_entire_binding()),
        ],
        [(k * shape.pixels()).div_ceil(WORKGROUP_SIZE), 1, 1],
    )
}

/// CPU twin: the map of each of `classes` (h x w each, in f64 sums), from feature maps of
/// `shape` and the classifier's row-major (classes, channels) `weights`.
pub fn cpu(shape: Shape, features: Tensor, weights: &[f32], classes: &[usize]) -> Vec<Vec<f32>> {
    let (c, pixels) = (shape.c as usize, shape.pixels() as usize);
    let f = &features.data[features.c_offset as usize * pixels..][..c * pixels];
    classes
        .iter()
        .map(|&class| {
            let row = &weights[class * c..][..c];
            (0..pixels)
                .map(|q| row.iter().enumerate().map(|(i, &w)| w as f64 * f[i * pixels + q] as f64).sum::<f64>() as f32)
                .collect()
        })
        .collect()
}

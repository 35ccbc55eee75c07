//! Class activation maps on the CPU (the twin of `shaders/cam.wgsl`; `ops::cam::cpu` is the
//! exact reference): per class, the classifier row's weights accumulated over the feature
//! planes, a plane at a time, which the compiler vectorises. 5 x 1024 x 49 multiply-adds
//! for GoogLeNet: well under a millisecond, so on one thread.

use crate::graph::{Shape, Tensor};
use crate::heatmap::ActivationMap;

/// The map of each of `classes` from feature maps of `shape` and the classifier's
/// row-major (classes, channels) `weights`.
pub fn maps(shape: Shape, features: Tensor, weights: &[f32], classes: &[usize]) -> Vec<ActivationMap> {
    let (c, pixels) = (shape.c as usize, shape.pixels() as usize);
    let planes = &features.data[features.c_offset as usize * pixels..][..c * pixels];
    let map = |&class: &usize| {
        let mut values = vec![0.0f32; pixels];
        for (plane, &w) in planes.chunks_exact(pixels).zip(&weights[class * c..][..c]) {
            values.iter_mut().zip(plane).for_each(|(v, &f)| *v += w * f);
        }
        ActivationMap { width: shape.w, height: shape.h, values }
    };
    classes.iter().map(map).collect()
}

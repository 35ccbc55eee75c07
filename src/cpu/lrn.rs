//! Local response normalisation across channels on the CPU, a channel per task, in f32.

use super::{CpuCall, CpuLayer};
use crate::graph::LrnSpec;
use crate::parallel::{self, Disjoint};

pub struct Lrn(pub LrnSpec);

impl CpuLayer for Lrn {
    fn run(&self, call: CpuCall) {
        let spec = &self.0;
        let shape = call.input_shape;
        assert!(call.input.c_offset == 0 && call.output.c_offset == 0, "LRN works on whole tensors");
        let pixels = shape.pixels() as usize;
        let input = &call.input.data[..shape.elements()];
        let channels = Disjoint::new(&mut call.output.data[..shape.elements()], pixels);
        let (lo, hi) = ((spec.size as usize - 1) / 2, spec.size as usize / 2);
        let scale = spec.alpha / spec.size as f32;
        parallel::for_each(shape.c as usize, |c| {
            parallel::wide(
                #[inline(always)]
                || {
                    // SAFETY: each task writes its own channel.
                    let out = unsafe { channels.get(c) };
                    let window = c.saturating_sub(lo)..(c + hi + 1).min(shape.c as usize);
                    out.fill(0.0);
                    for j in window {
                        for (sum, &a) in out.iter_mut().zip(&input[j * pixels..(j + 1) * pixels]) {
                            *sum += a * a;
                        }
                    }
                    let x = &input[c * pixels..(c + 1) * pixels];
                    // GoogLeNet's beta of 0.75 as square roots, several times faster than `powf`
                    // (and vectorised: the choice is made outside the loop)
                    if spec.beta == 0.75 {
                        for (y, &x) in out.iter_mut().zip(x) {
                            let root = (spec.k + scale * *y).sqrt();
                            *y = x / (root * root.sqrt());
                        }
                    } else {
                        for (y, &x) in out.iter_mut().zip(x) {
                            *y = x * (spec.k + scale * *y).powf(-spec.beta);
                        }
                    }
                },
            )
        });
    }
}

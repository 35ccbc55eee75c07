//! A fully connected layer on the CPU: one dot product per output, 16 independent sums
//! each (so the compiler vectorises them), a block of outputs per task.

use super::{CpuCall, CpuLayer};
use crate::graph::LinearSpec;
use crate::parallel::{self, Disjoint};

use crate::weights::LayerParams;

pub struct Linear {
    spec: LinearSpec,
    weights: Vec<f32>,
    bias: Vec<f32>,
}

impl Linear {
    pub fn new(spec: LinearSpec, params: &LayerParams) -> Linear {
        Linear { spec, weights: params.weight.clone(), bias: params.bias.clone() }
    }
}

const OUTPUTS_PER_TASK: usize = 64;

impl CpuLayer for Linear {
    fn run(&self, call: CpuCall) {
        let n = call.input_shape.elements();
        let x = &call.input.data[call.input.c_offset as usize * call.input_shape.pixels() as usize..][..n];
        let outputs = self.spec.out_features as usize;
        let blocks = Disjoint::new(&mut call.output.data[..outputs], OUTPUTS_PER_TASK);
        parallel::for_each(outputs.div_ceil(OUTPUTS_PER_TASK), |block| {
            // SAFETY: each task writes its own block.
            let out = unsafe { blocks.get(block) };
            for (i, y) in out.iter_mut().enumerate() {
                let j = block * OUTPUTS_PER_TASK + i;
                let v = self.bias[j] + dot(&self.weights[j * n..(j + 1) * n], x);
                *y = if self.spec.relu { super::relu(v) } else { v };
            }
        });
    }

    fn weight_bytes(&self) -> u64 {
        4 * (self.weights.len() + self.bias.len()) as u64
    }

    fn weight_matrix(&self) -> Option<&[f32]> {
        Some(&self.weights)
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [0.0f32; 16];
    let (a_blocks, b_blocks) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = a_blocks.remainder().iter().zip(b_blocks.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in a_blocks.zip(b_blocks) {
        for i in 0..16 {
            sums[i] += x[i] * y[i];
        }
    }
    sums.iter().sum::<f32>() + tail
}

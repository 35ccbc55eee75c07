//! The whole network on the CPU, from the CPU twins of the ops: slow (seconds), exact
//! (f64 accumulation), and independent of the scheduler's buffer placement. Tests use it
//! as the ground truth for graphs PyTorch has no golden file for.

use crate::graph::{Op, Tensor, TensorMut};
use crate::models::Model;
use crate::ops::{conv2d, linear, lrn, pool};

/// Every tensor of the graph for the given preprocessed input (CHW); the last is the logits.
pub fn forward(model: &Model, input: &[f32]) -> Vec<Vec<f32>> {
    let graph = &model.graph;
    let mut tensors: Vec<Vec<f32>> = vec![Vec::new(); graph.shapes.len()];
    tensors[graph.input] = input.to_vec();
    for (node, params) in graph.nodes.iter().zip(&model.params) {
        let in_shape = graph.shapes[node.inputs[0]];
        let mut out = vec![0.0; graph.shapes[node.output].elements()];
        let x = &tensors[node.inputs[0]];
        match &node.op {
            Op::Conv2d { spec, .. } => {
                let p = params.as_ref().unwrap();
                conv2d::cpu(spec, in_shape, Tensor::whole(x), &p.weight, &p.bias, TensorMut::whole(&mut out));
            }
            Op::Pool(spec) => pool::cpu(spec, in_shape, Tensor::whole(x), TensorMut::whole(&mut out)),
            Op::Lrn(spec) => lrn::cpu(spec, in_shape, x, &mut out),
            Op::Linear { spec, .. } => {
                let p = params.as_ref().unwrap();
                linear::cpu(spec, x, &p.weight, &p.bias, &mut out);
            }
            // CHW: concatenating on channels is appending.
            Op::Concat => out = node.inputs.iter().flat_map(|&t| tensors[t].iter().copied()).collect(),
        }
        tensors[node.output] = out;
    }
    tensors
}

//! The forward pass as a list of steps, before any backend holds it: what both the GPU
//! layers and the CPU backend's are built from.

use super::placement::{label_of, sibling_groups, Place};
use crate::graph::{Graph, Op, Shape};
use crate::models::Model;
use crate::weights::LayerParams;
use std::borrow::Cow;

/// One step of the forward pass: what it computes, where it reads and writes, and `op`,
/// what computes it. The plan's steps hold the graph's op and parameters ([`Work`]); each
/// backend maps them to its own layers (`Step<GpuOp>`, `Step<Box<dyn CpuLayer>>`).
pub struct Step<K> {
    /// Node names, siblings joined ("inception_3a/3x3_reduce + 5x5_reduce").
    pub label: String,
    /// The graph nodes it computes (several for merged siblings).
    pub nodes: Vec<usize>,
    pub multiply_adds: u64,
    pub input_shape: Shape,
    pub input: Place,
    pub output: Place,
    pub op: K,
}

/// What a step of the plan computes: a node's op and parameters, or merged siblings'.
pub struct Work<'m> {
    pub op: Cow<'m, Op>,
    pub params: Option<Cow<'m, LayerParams>>,
}

impl<K> Step<K> {
    /// The same step computed by `f(self's op)`.
    pub fn map<T>(self, f: impl FnOnce(&Step<()>, K) -> T) -> Step<T> {
        let (step, op) = self.split();
        let op = f(&step, op);
        step.with(op)
    }

    /// [`Step::map`] for an `f` that can fail.
    pub fn try_map<T, E>(self, f: impl FnOnce(&Step<()>, K) -> Result<T, E>) -> Result<Step<T>, E> {
        let (step, op) = self.split();
        let op = f(&step, op)?;
        Ok(step.with(op))
    }

    fn split(self) -> (Step<()>, K) {
        let Step { label, nodes, multiply_adds, input_shape, input, output, op } = self;
        (Step { label, nodes, multiply_adds, input_shape, input, output, op: () }, op)
    }
}

impl Step<()> {
    fn with<T>(self, op: T) -> Step<T> {
        let Step { label, nodes, multiply_adds, input_shape, input, output, .. } = self;
        Step { label, nodes, multiply_adds, input_shape, input, output, op }
    }
}

/// The steps of `model` in execution order. Concatenations are free (their inputs write
/// into their slices) and sibling 1x1 convolutions become one step.
pub fn steps<'m>(model: &'m Model, places: &[Place]) -> Vec<Step<Work<'m>>> {
    let graph = &model.graph;
    let groups = sibling_groups(graph, places);
    let mut steps = Vec::new();
    for (i, node) in graph.nodes.iter().enumerate() {
        if groups[i].is_empty() || matches!(node.op, Op::Concat) {
            continue; // merged into an earlier sibling, or free
        }
        let (input, output) = (places[node.inputs[0]], places[node.output]);
        assert_ne!(input.slot, output.slot, "{}: reads and writes one buffer", node.name);
        let (op, params) = merge_siblings(model, &groups[i]);
        steps.push(Step {
            label: label_of(graph, &groups[i]),
            nodes: groups[i].clone(),
            multiply_adds: groups[i].iter().map(|&j| graph.node_multiply_adds(&graph.nodes[j])).sum(),
            input_shape: graph.shapes[node.inputs[0]],
            input,
            output,
            op: Work { op, params },
        });
    }
    steps
}

/// The op and parameters of a group of nodes: a node's own (borrowed), or sibling
/// convolutions as one whose output channels follow each other (weights are (out, in, kh,
/// kw): concatenated on out).
fn merge_siblings<'m>(model: &'m Model, group: &[usize]) -> (Cow<'m, Op>, Option<Cow<'m, LayerParams>>) {
    let graph: &Graph = &model.graph;
    let (op, params) = (&graph.nodes[group[0]].op, model.params[group[0]].as_ref());
    if group.len() == 1 {
        return (Cow::Borrowed(op), params.map(Cow::Borrowed));
    }
    let (mut op, mut params) = (op.clone(), params.expect("conv parameters").clone());
    for &j in &group[1..] {
        let Op::Conv2d { spec, .. } = &mut op else { unreachable!("siblings are convolutions") };
        let sibling = model.params[j].as_ref().expect("conv parameters");
        params.weight.extend_from_slice(&sibling.weight);
        params.bias.extend_from_slice(&sibling.bias);
        // (siblings read one tensor: their ranges are one range, calibrated alike)
        params.input_range = match (params.input_range, sibling.input_range) {
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
            _ => None,
        };
        spec.out_c += graph.shapes[graph.nodes[j].output].c;
    }
    (Cow::Owned(op), Some(Cow::Owned(params)))
}

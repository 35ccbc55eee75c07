//! The scheduler's list of layers: each a node of the graph (or sibling convolutions
//! merged into one), uploaded through its op's module, with its recorded dispatches.

use super::placement::{label_of, sibling_groups, Memory, Place};
use crate::error::Error;
use crate::graph::{Graph, Op};
use crate::ops::convolution::{ConvKernel, ConvLayer};
use crate::ops::lrn::LrnLayer;
use crate::ops::pool::PoolLayer;
use crate::ops::{linear, Call, Context, Dispatch, GpuLayer, Shape, Shared};
use crate::weights::{LayerParams, Model};
use std::borrow::Cow;

/// One step of the forward pass.
pub struct Layer {
    /// What it computes: node names, siblings joined ("inception_3a/3x3_reduce + 5x5_reduce").
    pub label: String,
    /// The graph nodes it computes (several for merged siblings).
    pub nodes: Vec<usize>,
    pub multiply_adds: u64,
    pub input_shape: Shape,
    pub input: Place,
    pub output: Place,
    pub op: Box<dyn GpuLayer>,
    /// Recorded once its kernel is known (a Winograd convolution has three).
    pub dispatches: Vec<Dispatch>,
}

impl Layer {
    /// The convolution kernel, for layers that have a choice.
    pub fn kernel(&self) -> Option<ConvKernel> {
        self.op.tuning().map(ConvLayer::kernel)
    }

    /// Records the layer's dispatches again (after a change of kernel).
    pub(super) fn record(&mut self, ctx: &Context, memory: &Memory, shared: &Shared) {
        let view = |p: Place| crate::ops::View { buffer: &memory.buffers[p.slot], c_offset: p.channel_offset };
        let call = Call {
            label: &self.label,
            spec: &(),
            input_shape: self.input_shape,
            input: view(self.input),
            output: view(self.output),
        };
        self.dispatches = self.op.record(ctx, &call, shared);
    }
}

/// One step of the forward pass as the graph and the placement describe it, before any
/// backend holds it: what both the GPU layers and the CPU backend's are built from.
pub(crate) struct Step<'m> {
    pub label: String,
    pub nodes: Vec<usize>,
    pub multiply_adds: u64,
    pub input_shape: Shape,
    pub input: Place,
    pub output: Place,
    pub op: Cow<'m, Op>,
    pub params: Option<Cow<'m, LayerParams>>,
}

/// The steps of `model` in execution order. Concatenations are free (their inputs write
/// into their slices) and sibling 1x1 convolutions become one step.
pub(crate) fn steps<'m>(model: &'m Model, places: &[Place]) -> Vec<Step<'m>> {
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
            op,
            params,
        });
    }
    steps
}

/// The layers of `model` in execution order, their parameters uploaded but nothing
/// recorded yet.
pub(super) fn upload(ctx: &Context, model: &Model, memory: &Memory) -> Result<Vec<Layer>, Error> {
    let mut layers = Vec::new();
    for step in steps(model, &memory.places) {
        layers.push(Layer {
            op: gpu_layer(ctx, &step.label, &step.op, step.input_shape, step.params.as_deref())?,
            multiply_adds: step.multiply_adds,
            label: step.label,
            nodes: step.nodes,
            input_shape: step.input_shape,
            input: step.input,
            output: step.output,
            dispatches: Vec::new(),
        });
    }
    Ok(layers)
}

/// Each layer type's upload through its own module: the one place that maps graph ops
/// to GPU layers.
fn gpu_layer(
    ctx: &Context,
    label: &str,
    op: &Op,
    input: Shape,
    params: Option<&LayerParams>,
) -> Result<Box<dyn GpuLayer>, Error> {
    let params = || params.unwrap_or_else(|| panic!("{label}: the model has no parameters for it"));
    Ok(match op {
        Op::Conv2d { spec, .. } => Box::new(ConvLayer::upload(ctx, label, *spec, input, params())?),
        Op::Linear { spec, .. } => {
            Box::new(linear::LinearLayer { spec: *spec, weights: linear::Weights::upload(ctx, label, params())? })
        }
        Op::Pool(spec) => Box::new(PoolLayer(*spec)),
        Op::Lrn(spec) => Box::new(LrnLayer(*spec)),
        Op::Concat => unreachable!("concatenations are not layers"),
    })
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
        spec.out_c += graph.shapes[graph.nodes[j].output].c;
    }
    (Cow::Owned(op), Some(Cow::Owned(params)))
}

//! The scheduler's list of layers: each a node of the graph (or sibling convolutions
//! merged into one), uploaded through its op's module, with its recorded dispatches.

use super::memory::Memory;
use crate::error::Error;
use crate::graph::{Op, Shape};
use crate::models::Model;
use crate::ops::convolution::{ConvKernel, ConvLayer};
use crate::ops::lrn::LrnLayer;
use crate::ops::pool::PoolLayer;
use crate::ops::{linear, Call, Context, Dispatch, GpuLayer, Shared};
use crate::plan::{steps, Place};
use crate::weights::LayerParams;

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

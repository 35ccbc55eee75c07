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
use crate::plan::{steps, Place, Step, Work};
use crate::weights::LayerParams;

/// One step of the forward pass on the GPU.
pub type Layer = Step<GpuOp>;

/// What computes a step on the GPU: its layer (parameters uploaded) and its dispatches.
pub struct GpuOp {
    pub layer: Box<dyn GpuLayer>,
    /// Recorded once its kernel is known (a Winograd convolution has three).
    pub dispatches: Vec<Dispatch>,
}

impl Step<GpuOp> {
    /// The convolution kernel, for layers that have a choice.
    pub fn kernel(&self) -> Option<ConvKernel> {
        self.op.layer.tuning().map(ConvLayer::kernel)
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
        self.op.dispatches = self.op.layer.record(ctx, &call, shared);
    }
}

/// The layers of `model` in execution order, their parameters uploaded but nothing
/// recorded yet.
pub(super) fn upload(ctx: &Context, model: &Model, memory: &Memory) -> Result<Vec<Layer>, Error> {
    let upload = |step: &Step<()>, work: Work| {
        let layer = gpu_layer(ctx, &step.label, &work.op, step.input_shape, work.params.as_deref())?;
        Ok(GpuOp { layer, dispatches: Vec::new() })
    };
    steps(model, &memory.places).into_iter().map(|step| step.try_map(upload)).collect()
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

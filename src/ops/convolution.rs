//! A convolution layer on the GPU with every kernel that can compute it: the direct
//! implicit GEMM of [`conv2d`] in each register tile, and Winograd ([`winograd`]) where it
//! applies. The scheduler picks one ([`ConvKernel`]), by default or by measuring, and
//! frees the weights of the others once the choice is final.

use super::conv2d::{self, Batch, Gemm, Tile, DEFAULT_TILE, TILES};
use super::{winograd, Call, Context, Dispatch, GpuLayer, Shared};
use crate::error::Error;
use crate::gpu_objects;
use crate::graph::{Conv2dSpec, Shape};
use crate::weights::LayerParams;

/// How a convolution is computed: the direct implicit GEMM, or Winograd F(2x2, 3x3) or
/// F(4x4, 3x3) whose GEMMs use the tile. Written "4x8", "winograd2 4x8", "winograd4 4x8".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConvKernel {
    Direct(Tile),
    Winograd(winograd::Size, Tile),
}

/// Winograd's default size.
const DEFAULT_WINOGRAD: winograd::Size = winograd::Size::F2;

impl ConvKernel {
    pub fn tile(self) -> Tile {
        match self {
            ConvKernel::Direct(t) | ConvKernel::Winograd(_, t) => t,
        }
    }

    /// Every kernel there is, in every tile.
    pub fn all() -> impl Iterator<Item = ConvKernel> {
        let winograd = winograd::Size::ALL.into_iter().flat_map(|size| TILES.map(|t| ConvKernel::Winograd(size, t)));
        TILES.into_iter().map(ConvKernel::Direct).chain(winograd)
    }
}

impl std::fmt::Display for ConvKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConvKernel::Direct(t) => write!(f, "{t}"),
            ConvKernel::Winograd(size, t) => write!(f, "winograd{} {t}", size.m()),
        }
    }
}

impl std::str::FromStr for ConvKernel {
    type Err = Error;
    fn from_str(s: &str) -> Result<ConvKernel, Error> {
        ConvKernel::all().find(|k| k.to_string() == s).ok_or_else(|| {
            Error::Usage(format!("unknown convolution kernel `{s}` (for example 4x8, 4x16, winograd2 4x8, winograd4 4x16)"))
        })
    }
}

/// A convolution's parameters on the GPU, for each kernel still available, and the kernel
/// in use.
pub struct ConvLayer {
    pub spec: Conv2dSpec,
    pub input_shape: Shape,
    /// the direct kernel's weights (None once released for a Winograd layer)
    weights: Option<gpu_objects::Buffer>,
    bias: gpu_objects::Buffer,
    /// U = G g G^T per Winograd size, where Winograd applies (those not in use are
    /// released with the direct weights by `release_unused`)
    winograd_weights: Vec<(winograd::Size, gpu_objects::Buffer)>,
    kernel: ConvKernel,
}

impl ConvLayer {
    /// Packs and uploads the weights of every kernel that applies; Winograd is the
    /// default wherever it applies (it won on every adapter measured so far).
    pub fn upload(
        ctx: &Context,
        label: &str,
        spec: Conv2dSpec,
        input_shape: Shape,
        params: &LayerParams,
    ) -> Result<ConvLayer, Error> {
        let packed = conv2d::pack(&spec, input_shape.c, &params.weight, &params.bias);
        let weights = ctx.storage(&format!("{label} weights"), &ctx.precision.bytes(&packed.weights))?;
        let bias = ctx.storage(&format!("{label} bias"), bytemuck::cast_slice(&packed.bias))?;
        let mut winograd_weights = Vec::new();
        if winograd::applies(&spec) {
            for size in winograd::Size::ALL {
                let u = winograd::pack(&spec, input_shape.c, &params.weight, size);
                winograd_weights.push((size, ctx.storage(&format!("{label} winograd weights"), &ctx.precision.bytes(&u))?));
            }
        }
        let kernel = match winograd_weights.is_empty() {
            true => ConvKernel::Direct(DEFAULT_TILE),
            false => ConvKernel::Winograd(DEFAULT_WINOGRAD, DEFAULT_TILE),
        };
        Ok(ConvLayer { spec, input_shape, weights: Some(weights), bias, winograd_weights, kernel })
    }

    pub fn kernel(&self) -> ConvKernel {
        self.kernel
    }

    fn transformed(&self, size: winograd::Size) -> Option<&wgpu::Buffer> {
        self.winograd_weights.iter().find(|(s, _)| *s == size).map(|(_, b)| &**b)
    }

    /// Whether every kernel's weights are still there (the autotuner needs them all).
    pub fn has_every_kernel(&self) -> bool {
        self.weights.is_some() && (self.winograd_weights.len() == winograd::Size::ALL.len() || !winograd::applies(&self.spec))
    }

    /// Switches to `wanted` where it can: Winograd falls back to the direct kernel (same
    /// tile) where it does not apply; after `release_unused` the layer keeps its algorithm.
    /// Returns whether the kernel changed (the layer must then be recorded again).
    pub fn set_kernel(&mut self, wanted: ConvKernel) -> bool {
        let kernel = match wanted {
            ConvKernel::Winograd(size, tile) if self.transformed(size).is_none() => match self.weights {
                Some(_) => ConvKernel::Direct(tile),
                None => self.kernel, // released: keep the algorithm
            },
            ConvKernel::Direct(_) if self.weights.is_none() => self.kernel,
            k => k,
        };
        std::mem::replace(&mut self.kernel, kernel) != kernel
    }

    /// Frees the weights of the kernels not in use; returns the bytes freed.
    pub fn release_unused(&mut self) -> u64 {
        let keep = match self.kernel {
            ConvKernel::Direct(_) => None,
            ConvKernel::Winograd(size, _) => Some(size),
        };
        let mut unused: Vec<gpu_objects::Buffer> = Vec::new();
        if keep.is_some() {
            unused.extend(self.weights.take());
        }
        for (size, buffer) in std::mem::take(&mut self.winograd_weights) {
            match Some(size) == keep {
                true => self.winograd_weights.push((size, buffer)),
                false => unused.push(buffer),
            }
        }
        unused.iter().map(|b| b.size()).sum()
    }

    /// Says what the layer computes: layers with equal keys do equal work, so one
    /// measurement serves them all, and a saved kernel choice is looked up by it.
    pub fn shape_key(&self) -> String {
        let (s, w) = (&self.spec, &self.spec.window);
        format!(
            "{}x{} s{}x{} p{}x{} {} -> {}{}",
            w.kernel.0,
            w.kernel.1,
            w.stride.0,
            w.stride.1,
            w.pad.0,
            w.pad.1,
            self.input_shape,
            s.out_c,
            if s.relu { " relu" } else { "" }
        )
    }

    /// Winograd's scratch for this layer: the largest over its sizes.
    fn scratch(&self) -> (u64, u64) {
        let sizes = self.winograd_weights.iter().map(|(size, _)| winograd::scratch_bytes(self.input_shape, &self.spec, *size));
        sizes.fold((0, 0), |(v, m), (a, b)| (v.max(a), m.max(b)))
    }
}

impl GpuLayer for ConvLayer {
    fn record(&self, ctx: &Context, call: &Call<()>, shared: &Shared) -> Vec<Dispatch> {
        let call = call.with_spec(&self.spec);
        match self.kernel {
            ConvKernel::Direct(tile) => {
                let weights = self.weights.as_ref().expect("set_kernel keeps a kernel whose weights exist");
                vec![conv2d::dispatch(ctx, &call, &Gemm { weights, bias: &self.bias, tile, batch: Batch::ONE })]
            }
            ConvKernel::Winograd(size, tile) => {
                let scratch = shared.winograd.as_ref().expect("scratch exists where Winograd applies");
                let transformed = self.transformed(size).expect("set_kernel keeps a kernel whose weights exist");
                let weights = winograd::Weights { transformed, bias: &self.bias };
                winograd::dispatch(ctx, &call, &weights, scratch, (size, tile))
            }
        }
    }

    fn weight_bytes(&self) -> u64 {
        let winograd: u64 = self.winograd_weights.iter().map(|(_, b)| b.size()).sum();
        self.weights.as_ref().map_or(0, |b| b.size()) + self.bias.size() + winograd
    }

    fn scratch_bytes(&self) -> (u64, u64) {
        self.scratch()
    }

    fn tuning(&self) -> Option<&ConvLayer> {
        Some(self)
    }

    fn tuning_mut(&mut self) -> Option<&mut ConvLayer> {
        Some(self)
    }
}

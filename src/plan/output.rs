//! What a forward pass gives back on either backend, and how the top classes are ranked.

use crate::error::Error;
use crate::graph::{Graph, TensorId};
use crate::heatmap::ActivationMap;

/// How many classes a forward pass ranks.
pub const TOP_K: u32 = 5;

/// The result of one forward pass.
#[derive(Clone, Debug)]
pub struct Output {
    /// (class index, probability), most probable first.
    pub top: Vec<(usize, f32)>,
    pub logits: Option<Vec<f32>>,
    /// GPU time of the pass, where the adapter has timestamp queries.
    pub gpu_ms: Option<f64>,
    /// The class activation map of each class of `top`, over the last feature maps'
    /// grid (7 x 7 for GoogLeNet), when the pass computed them.
    pub cams: Option<Vec<ActivationMap>>,
}

/// Sizes of what a network holds on the GPU.
#[derive(Clone, Copy, Debug)]
pub struct Stats {
    pub weight_bytes: u64,
    pub activation_bytes: u64,
    pub dispatches: usize,
    pub multiply_adds: u64,
}

/// GPU time of one layer (or of preprocessing, or of top-k).
#[derive(Clone, Debug)]
pub struct LayerTime {
    pub label: String,
    /// The graph nodes it computes; none for preprocessing, top-k and activation maps.
    pub nodes: Vec<usize>,
    pub ms: f64,
    pub multiply_adds: u64,
    /// The kernel's name, for convolutions.
    pub kernel: Option<String>,
}

/// Softmax probabilities of the top `k` logits, ties to the lower index.
pub fn top_k(logits: &[f32], k: usize) -> Vec<(usize, f32)> {
    let max = logits.iter().copied().fold(f32::MIN, f32::max);
    let sum: f64 = logits.iter().map(|&x| ((x - max) as f64).exp()).sum();
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    order.truncate(k);
    order.into_iter().map(|i| (i, (((logits[i] - max) as f64).exp() / sum) as f32)).collect()
}

/// The node that produces `tensor`, or why there is none.
pub fn producer_of(graph: &Graph, tensor: TensorId) -> Result<usize, Error> {
    graph.nodes.iter().position(|n| n.output == tensor).ok_or_else(|| Error::Usage(format!("no layer computes tensor {tensor}")))
}

/// Why a network has no class activation maps.
pub fn no_cams() -> Error {
    Error::Usage(
        "class activation maps need a network that ends in global average pooling and one linear layer, as GoogLeNet and Inception v3 do".into(),
    )
}

//! A network ready to run: which model, its graph, and its parameters from a weights file.

use super::Variant;
use crate::error::WeightsError;
use crate::graph::Graph;
use crate::tensors::Tensors;
use crate::weights::{self, read_tensors, LayerParams};

/// A network ready to run: its graph and the parameters of each node (conv and linear
/// nodes have `Some`).
pub struct Model {
    pub variant: Variant,
    pub graph: Graph,
    pub params: Vec<Option<LayerParams>>,
}

impl Model {
    /// Reads a weights file: safetensors, or a PyTorch checkpoint (`torch.save`, zip or
    /// legacy format). With `variant` `None` the network is recognised from the tensor
    /// names; the class count always comes from the classifier.
    pub fn load(bytes: &[u8], variant: Option<Variant>) -> Result<Model, WeightsError> {
        Model::from_tensors(&read_tensors(bytes)?, variant)
    }

    /// [`Model::load`] for a safetensors file made for `variant`.
    pub fn from_safetensors(variant: Variant, bytes: &[u8]) -> Result<Model, WeightsError> {
        Model::load(bytes, Some(variant))
    }

    pub fn from_tensors(file: &Tensors, variant: Option<Variant>) -> Result<Model, WeightsError> {
        let found = Variant::detect(file);
        let variant = match (variant, found) {
            (Some(expected), Some(found)) if expected != found => {
                return Err(WeightsError::WrongVariant { expected: expected.name(), found: found.name() })
            }
            (Some(v), _) | (None, Some(v)) => v,
            (None, None) => {
                let first = file.names().take(3).map(String::from).collect();
                return Err(WeightsError::Unrecognised { first, known: Variant::ALL.map(Variant::name).to_vec() });
            }
        };
        let num_classes = match file.get(variant.classifier_weight()) {
            Some(t) if t.shape.len() == 2 && t.shape[0] > 0 => t.shape[0] as u32,
            _ => 1000, // the checks below then report what is wrong with it
        };
        let graph = variant.graph(num_classes);
        let params = weights::bind(&graph, file, |tensor| variant.is_ignored(tensor))?;
        Ok(Model { variant, graph, params })
    }
}

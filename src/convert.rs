//! Converting any weights file the engine reads (a PyTorch checkpoint, a safetensors file
//! with extra tensors) into the project's own format: a safetensors file holding exactly
//! the tensors the network uses, in float32 or float16, with the network's name, its class
//! count and optionally its class names in the metadata.

use crate::error::WeightsError;
use crate::models::Variant;
use crate::ops::conv2d::Precision;
use crate::tensors::Tensors;
use crate::weights::{read_tensors, Model};
use safetensors::{tensor::TensorView, Dtype};
use std::collections::HashMap;

/// What a conversion produced.
pub struct Converted {
    pub bytes: Vec<u8>,
    pub variant: Variant,
    pub num_classes: u32,
    pub tensors: usize,
}

/// Converts `input` (any supported format) for `variant` (`None`: recognised from the
/// names). The file is validated as a whole first, so a converted file always loads.
/// `labels`, one per class, are stored in the metadata.
pub fn convert(input: &[u8], variant: Option<Variant>, half: bool, labels: Option<&[String]>) -> Result<Converted, WeightsError> {
    let file = read_tensors(input)?;
    let model = Model::from_tensors(&file, variant)?;
    let num_classes = model.graph.num_classes();
    if let Some(labels) = labels {
        if labels.len() != num_classes as usize {
            return Err(WeightsError::Labels { found: labels.len(), classes: num_classes });
        }
    }
    let bytes = write(&file, &model, half, labels);
    Ok(Converted { bytes, variant: model.variant, num_classes, tensors: model.graph.parameters().len() })
}

fn write(file: &Tensors, model: &Model, half: bool, labels: Option<&[String]>) -> Vec<u8> {
    // the same float16 rounding as the GPU weights get
    let precision = if half { Precision::F16 } else { Precision::F32 };
    let tensors: Vec<(String, Vec<usize>, Vec<u8>)> = model
        .graph
        .parameters()
        .into_iter()
        .map(|(name, shape)| {
            let values = file.get(&name).and_then(|t| t.to_f32()).expect("validated by Model::from_tensors");
            (name, shape, precision.bytes(&values))
        })
        .collect();
    let dtype = if half { Dtype::F16 } else { Dtype::F32 };
    let views: Vec<(&str, TensorView)> = tensors
        .iter()
        .map(|(name, shape, bytes)| (name.as_str(), TensorView::new(dtype, shape.clone(), bytes).expect("sizes match")))
        .collect();
    let mut metadata = HashMap::from([
        ("model".to_string(), model.variant.name().to_string()),
        ("classes".to_string(), model.graph.num_classes().to_string()),
    ]);
    if let Some(labels) = labels {
        metadata.insert("labels".into(), labels.join("\n"));
    }
    safetensors::serialize(views, Some(metadata)).expect("serialising validated tensors")
}

/// Class names stored in a safetensors file's metadata by [`convert`], if any.
pub fn embedded_labels(bytes: &[u8]) -> Option<Vec<String>> {
    let (_, metadata) = safetensors::SafeTensors::read_metadata(bytes).ok()?;
    let text = metadata.metadata().as_ref()?.get("labels")?.clone();
    Some(text.lines().map(String::from).collect())
}

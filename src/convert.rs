//! Converting any weights file the engine reads (a PyTorch checkpoint, a safetensors file
//! with extra tensors) into the project's own format: a safetensors file holding exactly
//! the tensors the network uses, in float32, float16 or int8 (see [`Storage`]), with the
//! network's name, its class count, the storage and optionally its class names in the metadata.

use crate::error::WeightsError;
use crate::models::{Model, Variant};
use crate::tensors::{input_range_name, int8_scale_name, Precision, Tensors};
use crate::weights::read_tensors;
use safetensors::{tensor::TensorView, Dtype};
use std::collections::{BTreeMap, HashMap};

/// How a converted file stores the network's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    F32,
    /// Every tensor rounded to float16 (half the bytes): as the GPU's float16 weights are.
    F16,
    /// Convolution and linear weights as int8 with one float32 scale per output channel
    /// (symmetric: `w = q * scale`, `scale = max|w| / 127`), a quarter of the bytes; biases
    /// and batch-norm statistics stay float32, and batch norm is folded at load, after the
    /// weights are expanded, so the folding adds no rounding of its own.
    Int8,
}

impl Storage {
    pub fn name(self) -> &'static str {
        match self {
            Storage::F32 => "float32",
            Storage::F16 => "float16",
            Storage::Int8 => "int8",
        }
    }
}

/// What a conversion produced.
pub struct Converted {
    pub bytes: Vec<u8>,
    pub variant: Variant,
    pub num_classes: u32,
    pub tensors: usize,
}

/// What to store besides the parameters.
#[derive(Clone, Copy, Default)]
pub struct Extras<'a> {
    /// Class names, one per class, stored in the metadata.
    pub labels: Option<&'a [String]>,
    /// Each convolution's calibrated input range (`calibrate`), by weight name, stored as
    /// `{weight}.input_range` tensors: what int8 compute needs.
    pub input_ranges: Option<Calibration<'a>>,
}

/// Calibrated input ranges by weight name, and how many photos gave them.
#[derive(Clone, Copy)]
pub struct Calibration<'a> {
    pub ranges: &'a BTreeMap<String, (f32, f32)>,
    pub photos: usize,
}

/// Converts `input` (any supported format) for `variant` (`None`: recognised from the
/// names). The file is validated as a whole first, so a converted file always loads.
pub fn convert(input: &[u8], variant: Option<Variant>, storage: Storage, extras: Extras) -> Result<Converted, WeightsError> {
    let labels = extras.labels;
    let file = read_tensors(input)?;
    let model = Model::from_tensors(&file, variant)?;
    let num_classes = model.graph.num_classes();
    if let Some(labels) = labels {
        if labels.len() != num_classes as usize {
            return Err(WeightsError::Labels { found: labels.len(), classes: num_classes });
        }
    }
    let bytes = write(&file, &model, storage, extras);
    Ok(Converted { bytes, variant: model.variant, num_classes, tensors: model.graph.parameters().len() })
}

fn write(file: &Tensors, model: &Model, storage: Storage, extras: Extras) -> Vec<u8> {
    let weights = model.graph.weight_tensors();
    let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, shape) in model.graph.parameters() {
        let values = file.get(&name).and_then(|t| t.to_f32()).expect("validated by Model::from_tensors");
        match storage {
            Storage::Int8 if weights.contains(&name) => {
                let (q, scales) = quantize_per_output(&values, shape[0]);
                tensors.push((int8_scale_name(&name), Dtype::F32, vec![shape[0]], Precision::F32.bytes(&scales)));
                tensors.push((name, Dtype::I8, shape, q.iter().map(|v| *v as u8).collect()));
            }
            // the same float16 rounding as the GPU weights get
            Storage::F16 => tensors.push((name, Dtype::F16, shape, Precision::F16.bytes(&values))),
            Storage::F32 | Storage::Int8 => tensors.push((name, Dtype::F32, shape, Precision::F32.bytes(&values))),
        }
    }
    for (weight, &(min, max)) in extras.input_ranges.into_iter().flat_map(|c| c.ranges) {
        if weights.contains(weight) {
            tensors.push((input_range_name(weight), Dtype::F32, vec![2], Precision::F32.bytes(&[min, max])));
        }
    }
    let views: Vec<(&str, TensorView)> = tensors
        .iter()
        .map(|(name, dtype, shape, bytes)| (name.as_str(), TensorView::new(*dtype, shape.clone(), bytes).expect("sizes match")))
        .collect();
    let mut metadata = HashMap::from([
        ("model".to_string(), model.variant.name().to_string()),
        ("classes".to_string(), model.graph.num_classes().to_string()),
        ("storage".to_string(), storage.name().to_string()),
    ]);
    if let Some(labels) = extras.labels {
        metadata.insert("labels".into(), labels.join("\n"));
    }
    if let Some(Calibration { photos, .. }) = extras.input_ranges {
        metadata.insert("calibration".into(), format!("input ranges of {photos} photos and their mirror images"));
    }
    safetensors::serialize(views, Some(metadata)).expect("serialising validated tensors")
}

/// Symmetric int8 per output channel (`values` holds `outputs` rows): each row's largest
/// magnitude maps to 127, rounding to nearest. A row of zeros gets scale 0.
fn quantize_per_output(values: &[f32], outputs: usize) -> (Vec<i8>, Vec<f32>) {
    let per_out = values.len() / outputs;
    let mut q = Vec::with_capacity(values.len());
    let mut scales = Vec::with_capacity(outputs);
    for row in values.chunks_exact(per_out) {
        let scale = row.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
        let inverse = if scale > 0.0 { 1.0 / scale } else { 0.0 };
        q.extend(row.iter().map(|v| (v * inverse).round().clamp(-127.0, 127.0) as i8));
        scales.push(scale);
    }
    (q, scales)
}

/// The storage a converted file names in its metadata (`None`: not made by [`convert`]).
pub fn stored_as(bytes: &[u8]) -> Option<Storage> {
    let (_, metadata) = safetensors::SafeTensors::read_metadata(bytes).ok()?;
    match metadata.metadata().as_ref()?.get("storage")?.as_str() {
        "float32" => Some(Storage::F32),
        "float16" => Some(Storage::F16),
        "int8" => Some(Storage::Int8),
        _ => None,
    }
}

/// Class names stored in a safetensors file's metadata by [`convert`], if any.
pub fn embedded_labels(bytes: &[u8]) -> Option<Vec<String>> {
    let (_, metadata) = safetensors::SafeTensors::read_metadata(bytes).ok()?;
    let text = metadata.metadata().as_ref()?.get("labels")?.clone();
    Some(text.lines().map(String::from).collect())
}

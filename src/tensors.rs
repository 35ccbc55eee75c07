//! Named tensors as a weights file holds them, whatever its format: the common ground of
//! the safetensors reader and the PyTorch checkpoint reader ([`crate::pth`]). Data stays
//! in the file's bytes where it can (contiguous tensors) and is copied only where it must
//! be (views with strides, which only `.pth` files have).

use crate::error::WeightsError;
use safetensors::Dtype;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// One tensor: element type, shape, and its elements in row-major (C) order, little endian.
#[derive(Clone, Debug, PartialEq)]
pub struct RawTensor<'a> {
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    pub data: Cow<'a, [u8]>,
}

impl RawTensor<'_> {
    pub fn elements(&self) -> usize {
        self.shape.iter().product()
    }

    /// The values as f32, for the float types the engine accepts (F32, F16, BF16, F64);
    /// `None` for any other type.
    pub fn to_f32(&self) -> Option<Vec<f32>> {
        let data = &self.data[..];
        let halves = || data.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]]));
        Some(match self.dtype {
            Dtype::F32 => data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect(),
            Dtype::F16 => halves().map(|h| half::f16::from_bits(h).to_f32()).collect(),
            Dtype::BF16 => halves().map(|h| half::bf16::from_bits(h).to_f32()).collect(),
            Dtype::F64 => data.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32).collect(),
            _ => return None,
        })
    }
}

/// A weights file's tensors by name (sorted, so that errors name tensors in a stable order).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tensors<'a> {
    pub map: BTreeMap<String, RawTensor<'a>>,
}

impl<'a> Tensors<'a> {
    pub fn get(&self, name: &str) -> Option<&RawTensor<'a>> {
        self.map.get(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    /// Drops `prefix` from every name when every name has it: `module.` is what
    /// `nn.DataParallel` and DistributedDataParallel put before each parameter.
    pub fn strip_common_prefix(&mut self, prefix: &str) {
        if !self.map.is_empty() && self.map.keys().all(|n| n.starts_with(prefix)) {
            let map = std::mem::take(&mut self.map);
            self.map = map.into_iter().map(|(n, t)| (n[prefix.len()..].to_string(), t)).collect();
        }
    }

    /// Expands int8 tensors (see [`crate::convert::Storage::Int8`]) to float32 with their
    /// per-output-channel scales, which are then removed: what follows sees float tensors.
    pub fn expand_int8(&mut self) -> Result<(), WeightsError> {
        let quantized: Vec<String> = self.map.iter().filter(|(_, t)| t.dtype == Dtype::I8).map(|(n, _)| n.clone()).collect();
        for name in quantized {
            let bad = |detail: String| WeightsError::Int8 { tensor: name.clone(), detail };
            let scale_name = int8_scale_name(&name);
            let scales = self.map.remove(&scale_name).ok_or_else(|| bad(format!("has no scales (`{scale_name}`)")))?;
            let tensor = &self.map[&name];
            // A scalar has no output channel to scale (seen while writing the safetensors fuzz
            // target: it indexed past an empty scale list).
            let Some(&outputs) = tensor.shape.first() else {
                return Err(bad("is a scalar; int8 weights need an output-channel dimension".into()));
            };
            if scales.dtype != Dtype::F32 || scales.shape != [outputs] {
                return Err(bad(format!(
                    "has scales of {:?} {:?}, expected F32 [{outputs}] (one per output channel)",
                    scales.dtype, scales.shape
                )));
            }
            let scales = scales.to_f32().expect("float32");
            let per_out = tensor.elements() / outputs.max(1);
            let values: Vec<u8> =
                tensor.data.iter().enumerate().flat_map(|(i, q)| (*q as i8 as f32 * scales[i / per_out]).to_le_bytes()).collect();
            let expanded = RawTensor { dtype: Dtype::F32, shape: tensor.shape.clone(), data: Cow::Owned(values) };
            self.map.insert(name, expanded);
        }
        if let Some(orphan) = self.map.keys().find(|n| n.ends_with(".int8_scale")) {
            let tensor = orphan.trim_end_matches(".int8_scale").to_string();
            return Err(WeightsError::Int8 {
                tensor,
                detail: format!("is missing or not int8, but `{orphan}` holds scales for it"),
            });
        }
        Ok(())
    }
}

/// The name of the per-output-channel scales of an int8 tensor.
pub fn int8_scale_name(tensor: &str) -> String {
    format!("{tensor}.int8_scale")
}

/// The name of the calibrated range of a layer's input, `[min, max]` float32, stored next
/// to its weight tensor (`weight`) by `convert` with calibration photos: what int8 compute
/// quantizes that input with.
pub fn input_range_name(weight: &str) -> String {
    format!("{weight}.input_range")
}

/// How convolution weights are stored on the GPU. Float16 halves their size and the
/// bandwidth the convolutions spend on them, where the adapter has `shader-f16`; sums
/// stay float32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Precision {
    F32,
    F16,
}

impl Precision {
    /// Bytes per stored weight.
    pub fn weight_bytes(self) -> u64 {
        match self {
            Precision::F32 => 4,
            Precision::F16 => 2,
        }
    }

    /// The packed weights as the GPU buffer holds them.
    pub fn bytes(self, packed: &[f32]) -> Vec<u8> {
        match self {
            Precision::F32 => bytemuck::cast_slice(packed).to_vec(),
            Precision::F16 => packed.iter().flat_map(|v| half::f16::from_f32(*v).to_le_bytes()).collect(),
        }
    }

    /// `weights` rounded as this precision stores them (for CPU twins and tolerances).
    pub fn round(self, weights: &[f32]) -> Vec<f32> {
        match self {
            Precision::F32 => weights.to_vec(),
            Precision::F16 => weights.iter().map(|v| half::f16::from_f32(*v).to_f32()).collect(),
        }
    }
}

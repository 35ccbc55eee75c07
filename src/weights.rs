//! Loading a model's parameters from a safetensors file: every tensor the graph needs must
//! be there with the right shape and a float dtype; nothing else may be there but what the
//! variant knowingly ignores. Batch norm is folded into the convolutions here.

use crate::error::WeightsError;
use crate::graph::{Graph, Op};
use crate::models::Variant;
use safetensors::{Dtype, SafeTensors};
use std::collections::{HashMap, HashSet};

/// One layer's parameters after folding, in PyTorch layout: conv (out, in, kh, kw) or
/// linear (out, in) weights, and one bias per output.
#[derive(Clone, Debug)]
pub struct LayerParams {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

/// A network ready to run: its graph and the parameters of each node (conv and linear
/// nodes have `Some`).
pub struct Model {
    pub variant: Variant,
    pub graph: Graph,
    pub params: Vec<Option<LayerParams>>,
}

impl Model {
    /// Reads a safetensors file for `variant`. The class count comes from the classifier.
    pub fn from_safetensors(variant: Variant, bytes: &[u8]) -> Result<Model, WeightsError> {
        check_not_truncated(bytes)?;
        let file = SafeTensors::deserialize(bytes).map_err(|e| WeightsError::Corrupt(e.to_string()))?;
        let names: HashSet<&str> = file.names().into_iter().collect();
        if !names.contains(variant.signature_tensor()) {
            if let Some(found) = Variant::ALL.into_iter().find(|v| names.contains(v.signature_tensor())) {
                return Err(WeightsError::WrongVariant { expected: variant, found });
            }
        }
        let num_classes = match file.tensor(variant.classifier_weight()) {
            Ok(t) if t.shape().len() == 2 && t.shape()[0] > 0 => t.shape()[0] as u32,
            _ => 1000, // the checks below then report what is wrong with it
        };
        let graph = variant.graph(num_classes);
        let tensors = validated_tensors(variant, &graph, &file)?;
        let params = fold(&graph, &tensors)?;
        Ok(Model { variant, graph, params })
    }
}

/// Names the first tensor whose data lies past the end of a cut-off file (the safetensors
/// crate only says that the buffer is incomplete).
fn check_not_truncated(bytes: &[u8]) -> Result<(), WeightsError> {
    let file_bytes = bytes.len() as u64;
    let Some(len) = bytes.get(..8) else {
        return Err(WeightsError::Corrupt(format!("the file has only {file_bytes} bytes")));
    };
    let header_len = u64::from_le_bytes(len.try_into().unwrap());
    if header_len > 100_000_000 {
        return Err(WeightsError::Corrupt("the header length is implausible".into()));
    }
    let Some(header) = bytes.get(8..8 + header_len as usize) else {
        return Err(WeightsError::Truncated {
            tensor: "(header)".into(),
            needed_bytes: 8 + header_len,
            file_bytes,
        });
    };
    // Anything malformed here is left to the safetensors crate to report.
    let Ok(serde_json::Value::Object(entries)) = serde_json::from_slice::<serde_json::Value>(header) else {
        return Ok(());
    };
    let mut ends: Vec<(u64, &str)> = entries
        .iter()
        .filter_map(|(name, info)| Some((info.get("data_offsets")?.get(1)?.as_u64()?, name.as_str())))
        .collect();
    ends.sort();
    match ends.into_iter().find(|(end, _)| 8 + header_len + end > file_bytes) {
        Some((end, tensor)) => {
            Err(WeightsError::Truncated { tensor: tensor.into(), needed_bytes: 8 + header_len + end, file_bytes })
        }
        None => Ok(()),
    }
}

fn validated_tensors(variant: Variant, graph: &Graph, file: &SafeTensors) -> Result<HashMap<String, Vec<f32>>, WeightsError> {
    let expected = graph.parameters();
    let expected_names: HashSet<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
    let mut names = file.names();
    names.sort();
    for name in names {
        if !expected_names.contains(name) && !variant.is_ignored(name) {
            let shape = file.tensor(name).map(|t| t.shape().to_vec()).unwrap_or_default();
            return Err(WeightsError::Unexpected { tensor: name.into(), shape });
        }
    }
    let missing: Vec<&(String, Vec<usize>)> = expected.iter().filter(|(n, _)| file.tensor(n).is_err()).collect();
    if let Some((tensor, shape)) = missing.first() {
        return Err(WeightsError::Missing { tensor: tensor.clone(), expected: shape.clone(), more: missing.len() - 1 });
    }
    let mut out = HashMap::new();
    for (name, shape) in expected {
        let t = file.tensor(&name).expect("checked above");
        if t.shape() != shape.as_slice() {
            return Err(WeightsError::Shape { tensor: name, expected: shape, found: t.shape().to_vec() });
        }
        let values = to_f32(t.dtype(), t.data()).ok_or_else(|| WeightsError::Dtype {
            tensor: name.clone(),
            found: format!("{:?}", t.dtype()),
        })?;
        if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
            return Err(WeightsError::BadValue { tensor: name, detail: format!("contains {bad}") });
        }
        out.insert(name, values);
    }
    Ok(out)
}

fn to_f32(dtype: Dtype, data: &[u8]) -> Option<Vec<f32>> {
    let halves = || data.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    Some(match dtype {
        Dtype::F32 => data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect(),
        Dtype::F16 => halves().map(|h| half::f16::from_bits(h).to_f32()).collect(),
        Dtype::BF16 => halves().map(|h| half::bf16::from_bits(h).to_f32()).collect(),
        _ => return None,
    })
}

/// Builds each layer's parameters, folding batch norm into the convolution before it:
/// y = (conv(x) + b - mean) * gamma / sqrt(var + eps) + beta.
fn fold(graph: &Graph, tensors: &HashMap<String, Vec<f32>>) -> Result<Vec<Option<LayerParams>>, WeightsError> {
    let get = |name: &str| tensors[name].clone();
    let mut out = Vec::with_capacity(graph.nodes.len());
    for node in &graph.nodes {
        out.push(match &node.op {
            Op::Conv2d { spec, params } => {
                let mut weight = get(&params.weight);
                let mut bias = match &params.bias {
                    Some(b) => get(b),
                    None => vec![0.0; spec.out_c as usize],
                };
                if let Some(bn) = &params.batch_norm {
                    let (gamma, beta) = (get(&bn.tensor("weight")), get(&bn.tensor("bias")));
                    let (mean, var) = (get(&bn.tensor("running_mean")), get(&bn.tensor("running_var")));
                    if let Some(v) = var.iter().find(|v| **v < 0.0) {
                        return Err(WeightsError::BadValue {
                            tensor: bn.tensor("running_var"),
                            detail: format!("holds a negative variance ({v})"),
                        });
                    }
                    let per_out = weight.len() / spec.out_c as usize;
                    for o in 0..spec.out_c as usize {
                        let scale = gamma[o] / (var[o] + bn.eps).sqrt();
                        weight[o * per_out..(o + 1) * per_out].iter_mut().for_each(|w| *w *= scale);
                        bias[o] = (bias[o] - mean[o]) * scale + beta[o];
                    }
                }
                Some(LayerParams { weight, bias })
            }
            Op::Linear { params, .. } => Some(LayerParams { weight: get(&params.weight), bias: get(&params.bias) }),
            Op::Pool(_) | Op::Lrn(_) | Op::Concat => None,
        });
    }
    Ok(out)
}

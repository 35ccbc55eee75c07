//! A graph's parameters from a weights file (safetensors or a PyTorch checkpoint): every
//! tensor the graph needs must be there with the right shape and a float dtype; nothing
//! else may be there but what the model knowingly ignores. Batch norm is folded into the
//! convolutions here. Which graph a file is for is the models' business (`models::Model`).

use crate::error::WeightsError;
use crate::graph::{Graph, Op};
use crate::tensors::{input_range_name, RawTensor, Tensors};
use safetensors::SafeTensors;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

/// One layer's parameters after folding, in PyTorch layout: conv (out, in, kh, kw) or
/// linear (out, in) weights, and one bias per output; and, where the file holds it, the
/// calibrated range (min, max) of the layer's input, which int8 compute needs.
#[derive(Clone, Debug, Default)]
pub struct LayerParams {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub input_range: Option<(f32, f32)>,
}

/// The tensors of a weights file, in whichever format it is, with DataParallel's
/// `module.` prefix removed.
pub fn read_tensors(bytes: &[u8]) -> Result<Tensors<'_>, WeightsError> {
    // safetensors starts with its header's length and then `{`; a torch.save zip with
    // `PK`, the legacy torch.save format with a pickle (0x80, protocol).
    let safetensors = bytes.get(8) == Some(&b'{');
    let checkpoint = bytes.starts_with(b"PK\x03\x04") || bytes.first() == Some(&0x80);
    let mut tensors = if checkpoint && !safetensors {
        crate::pth::read(bytes).map_err(|e| WeightsError::Checkpoint(e.to_string()))?
    } else {
        read_safetensors(bytes)?
    };
    tensors.strip_common_prefix("module.");
    Ok(tensors)
}

fn read_safetensors(bytes: &[u8]) -> Result<Tensors<'_>, WeightsError> {
    check_not_truncated(bytes)?;
    let file = SafeTensors::deserialize(bytes).map_err(|e| WeightsError::Corrupt(e.to_string()))?;
    let map = file
        .iter()
        .map(|(name, view)| {
            let tensor = RawTensor { dtype: view.dtype(), shape: view.shape().to_vec(), data: Cow::Borrowed(view.data()) };
            (name.to_string(), tensor)
        })
        .collect();
    let mut tensors = Tensors { map };
    tensors.expand_int8()?;
    Ok(tensors)
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
        return Err(WeightsError::Truncated { tensor: "(header)".into(), needed_bytes: 8 + header_len, file_bytes });
    };
    // Anything malformed here is left to the safetensors crate to report.
    let Ok(serde_json::Value::Object(entries)) = serde_json::from_slice::<serde_json::Value>(header) else {
        return Ok(());
    };
    let mut ends: Vec<(u64, &str)> =
        entries.iter().filter_map(|(name, info)| Some((info.get("data_offsets")?.get(1)?.as_u64()?, name.as_str()))).collect();
    ends.sort();
    match ends.into_iter().find(|(end, _)| 8 + header_len + end > file_bytes) {
        Some((end, tensor)) => {
            Err(WeightsError::Truncated { tensor: tensor.into(), needed_bytes: 8 + header_len + end, file_bytes })
        }
        None => Ok(()),
    }
}

/// Each node's parameters for `graph` from `file` (conv and linear nodes have `Some`),
/// checked and with batch norm folded; tensors `is_ignored` accepts may be in the file
/// unused (auxiliary heads, batch-norm counters).
pub fn bind(graph: &Graph, file: &Tensors, is_ignored: impl Fn(&str) -> bool) -> Result<Vec<Option<LayerParams>>, WeightsError> {
    let mut params = fold(graph, &validated_tensors(graph, file, is_ignored)?)?;
    for (node, params) in graph.nodes.iter().zip(&mut params) {
        if let (Some(weight), Some(params)) = (node.weight_name(), params) {
            params.input_range = input_range(file, weight)?;
        }
    }
    Ok(params)
}

/// The calibrated input range stored for the layer of `weight`, checked.
fn input_range(file: &Tensors, weight: &str) -> Result<Option<(f32, f32)>, WeightsError> {
    let name = input_range_name(weight);
    let Some(tensor) = file.get(&name) else { return Ok(None) };
    let bad = |detail: String| WeightsError::BadValue { tensor: name.clone(), detail };
    match tensor.to_f32() {
        Some(v) if tensor.shape == [2] && v.iter().all(|x| x.is_finite()) && v[0] <= v[1] => Ok(Some((v[0], v[1]))),
        Some(_) if tensor.shape == [2] => Err(bad("is not a finite range [min, max] with min <= max".into())),
        _ => Err(bad(format!("is {:?} {:?}, expected a float [min, max]", tensor.dtype, tensor.shape))),
    }
}

fn validated_tensors(
    graph: &Graph,
    file: &Tensors,
    is_ignored: impl Fn(&str) -> bool,
) -> Result<HashMap<String, Vec<f32>>, WeightsError> {
    let expected = graph.parameters();
    let expected_names: HashSet<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
    let ranges: HashSet<String> = graph.nodes.iter().filter_map(|n| n.weight_name()).map(input_range_name).collect();
    for (name, tensor) in &file.map {
        if !expected_names.contains(name.as_str()) && !ranges.contains(name) && !is_ignored(name) {
            return Err(WeightsError::Unexpected { tensor: name.clone(), shape: tensor.shape.clone() });
        }
    }
    let missing: Vec<&(String, Vec<usize>)> = expected.iter().filter(|(n, _)| !file.contains(n)).collect();
    if let Some((tensor, shape)) = missing.first() {
        return Err(WeightsError::Missing { tensor: tensor.clone(), expected: shape.clone(), more: missing.len() - 1 });
    }
    let mut out = HashMap::new();
    for (name, shape) in expected {
        let t = file.get(&name).expect("checked above");
        if t.shape != shape {
            return Err(WeightsError::Shape { tensor: name, expected: shape, found: t.shape.clone() });
        }
        let values = t.to_f32().ok_or_else(|| WeightsError::Dtype { tensor: name.clone(), found: format!("{:?}", t.dtype) })?;
        if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
            return Err(WeightsError::BadValue { tensor: name, detail: format!("contains {bad}") });
        }
        out.insert(name, values);
    }
    Ok(out)
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
                Some(LayerParams { weight, bias, input_range: None })
            }
            Op::Linear { params, .. } => {
                Some(LayerParams { weight: get(&params.weight), bias: get(&params.bias), input_range: None })
            }
            Op::Pool(_) | Op::Lrn(_) | Op::Concat => None,
        });
    }
    Ok(out)
}

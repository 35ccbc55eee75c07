//! The globals a checkpoint may name: the allowlist `torch.load(weights_only=True)` uses by
//! default, each as the plain value it stands for ([`Kind`]), and the message for any other.

use super::PthError;
use safetensors::Dtype;

#[derive(Clone, Debug)]
pub struct Global {
    pub name: String,
    pub kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// `collections.OrderedDict`, `collections.Counter`: calling it makes an empty dict.
    DictClass,
    /// `torch._utils._rebuild_tensor` (PyTorch before 0.4), `_rebuild_tensor_v2` (what
    /// torch saves plain tensors with), `_rebuild_tensor_v3` (dtypes without a storage
    /// class, such as uint16 or float8: the storage is untyped and the dtype an argument).
    RebuildTensor(u8),
    /// `_rebuild_parameter(data, requires_grad, hooks)` and `..._with_state(..., state)`:
    /// an nn.Parameter, which for weights is just its tensor.
    RebuildParameter,
    /// `torch._tensor._rebuild_from_type_v2(func, type, args, state)`: a tensor with
    /// Python attributes, or of a subclass. Kept if the type is Tensor or Parameter.
    RebuildFromType,
    /// Rebuild functions for tensors we do not read (sparse, quantized, meta, nested,
    /// wrapper subclasses, numpy-backed): what they make is described, not read.
    RebuildOther(&'static str),
    /// A storage class: element type (`None` for the types safetensors has no name
    /// for) and size.
    Storage(Option<Dtype>, usize),
    /// A dtype object (`torch.float32`), argument of `_rebuild_tensor_v3`.
    Dtype(Option<Dtype>),
    /// `torch.Tensor`, `torch.nn.parameter.Parameter` and the legacy tensor classes:
    /// `Parameter(data, requires_grad)` is its data; `torch.FloatTensor.__new__()` an
    /// empty tensor that BUILD gives its data.
    TensorClass,
    /// `torch.Size`: a tuple.
    Size,
    /// `_codecs.encode`: how protocol 2 pickles bytes (`encode(str, 'latin1')`).
    Encode,
    /// `builtins.set`.
    Set,
    /// Allowed by torch, without meaning here (`torch.device`, layouts, qschemes,
    /// bytearray, complex): calling it makes an opaque object.
    Opaque,
}

/// torch storage classes: element type (`None` where safetensors has no name for it) and
/// size in bytes (needed even then, to skip the data in legacy files). These legacy class
/// names are what torch still saves tensors of these dtypes with.
const STORAGES: &[(&str, Option<Dtype>, usize)] = &[
    ("FloatStorage", Some(Dtype::F32), 4),
    ("HalfStorage", Some(Dtype::F16), 2),
    ("BFloat16Storage", Some(Dtype::BF16), 2),
    ("DoubleStorage", Some(Dtype::F64), 8),
    ("LongStorage", Some(Dtype::I64), 8),
    ("IntStorage", Some(Dtype::I32), 4),
    ("ShortStorage", Some(Dtype::I16), 2),
    ("CharStorage", Some(Dtype::I8), 1),
    ("ByteStorage", Some(Dtype::U8), 1),
    ("BoolStorage", Some(Dtype::BOOL), 1),
    ("ComplexFloatStorage", Some(Dtype::C64), 8),
    ("ComplexDoubleStorage", None, 16),
    ("QInt8Storage", None, 1),
    ("QUInt8Storage", None, 1),
    ("QInt32Storage", None, 4),
    ("QUInt4x2Storage", None, 1),
    ("QUInt2x4Storage", None, 1),
];

/// Tensor classes of PyTorch before 0.4, one per element type.
const LEGACY_TENSORS: &[&str] =
    &["FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ShortTensor", "CharTensor", "ByteTensor"];

/// torch dtype objects (`str(dtype)` without `torch.`).
const DTYPES: &[(&str, Option<Dtype>)] = &[
    ("float32", Some(Dtype::F32)),
    ("float16", Some(Dtype::F16)),
    ("bfloat16", Some(Dtype::BF16)),
    ("float64", Some(Dtype::F64)),
    ("int64", Some(Dtype::I64)),
    ("int32", Some(Dtype::I32)),
    ("int16", Some(Dtype::I16)),
    ("int8", Some(Dtype::I8)),
    ("uint8", Some(Dtype::U8)),
    ("bool", Some(Dtype::BOOL)),
    ("uint16", Some(Dtype::U16)),
    ("uint32", Some(Dtype::U32)),
    ("uint64", Some(Dtype::U64)),
    ("complex64", Some(Dtype::C64)),
    ("float8_e4m3fn", Some(Dtype::F8_E4M3)),
    ("float8_e5m2", Some(Dtype::F8_E5M2)),
    ("float8_e4m3fnuz", Some(Dtype::F8_E4M3FNUZ)),
    ("float8_e5m2fnuz", Some(Dtype::F8_E5M2FNUZ)),
    ("float8_e8m0fnu", Some(Dtype::F8_E8M0)),
    ("complex32", None),
    ("complex128", None),
    ("qint8", None),
    ("quint8", None),
    ("qint32", None),
    ("quint4x2", None),
    ("quint2x4", None),
    ("float4_e2m1fn_x2", None),
    ("bits1x8", None),
    ("bits2x4", None),
    ("bits4x2", None),
    ("bits8", None),
    ("bits16", None),
];

/// The allowlist: what `module.name` stands for, or `None` if it is not allowed.
pub(super) fn lookup(module: &str, name: &str) -> Option<Kind> {
    let module = if module == "__builtin__" { "builtins" } else { module }; // Python 2
    Some(match (module, name) {
        ("collections", "OrderedDict" | "Counter") => Kind::DictClass,
        ("torch._utils", "_rebuild_tensor") => Kind::RebuildTensor(1),
        ("torch._utils", "_rebuild_tensor_v2") => Kind::RebuildTensor(2),
        ("torch._utils", "_rebuild_tensor_v3") => Kind::RebuildTensor(3),
        ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state") => Kind::RebuildParameter,
        ("torch._tensor", "_rebuild_from_type_v2") => Kind::RebuildFromType,
        ("torch._utils", "_rebuild_sparse_tensor") => Kind::RebuildOther("a sparse tensor"),
        ("torch._utils", "_rebuild_qtensor") => Kind::RebuildOther("a quantized tensor"),
        ("torch._utils", "_rebuild_meta_tensor_no_storage") => Kind::RebuildOther("a tensor without data (device `meta`)"),
        ("torch._utils", "_rebuild_wrapper_subclass") => Kind::RebuildOther("a tensor subclass"),
        ("torch._utils", "_rebuild_nested_tensor") => Kind::RebuildOther("a nested tensor"),
        ("torch._utils", "_rebuild_device_tensor_from_numpy" | "_rebuild_device_tensor_from_cpu_tensor") => {
            Kind::RebuildOther("a tensor of an accelerator without storage (XLA, MTIA...)")
        }
        // torch.cuda.*Storage: CUDA tensors in legacy files (torch.load moves them to
        // the CPU; so does this reader, which never sees a device).
        ("torch" | "torch.cuda", _) if STORAGES.iter().any(|s| s.0 == name) => {
            let &(_, dtype, size) = STORAGES.iter().find(|s| s.0 == name).unwrap();
            Kind::Storage(dtype, size)
        }
        ("torch.storage" | "torch", "UntypedStorage") => Kind::Storage(Some(Dtype::U8), 1),
        ("torch", _) if DTYPES.iter().any(|d| d.0 == name) => Kind::Dtype(DTYPES.iter().find(|d| d.0 == name).and_then(|d| d.1)),
        ("torch", "Tensor") | ("torch._tensor", "Tensor") | ("torch.nn.parameter", "Parameter") => Kind::TensorClass,
        // The typed tensor classes of PyTorch before 0.4 (see BUILD).
        ("torch" | "torch.cuda", _) if LEGACY_TENSORS.contains(&name) => Kind::TensorClass,
        ("torch", "Size") => Kind::Size,
        ("_codecs", "encode") => Kind::Encode,
        ("builtins", "set") => Kind::Set,
        ("torch", "device" | "per_tensor_affine" | "per_tensor_symmetric" | "per_channel_affine")
        | ("torch", "per_channel_symmetric" | "per_channel_affine_float_qparams")
        | ("torch.serialization", "_get_layout")
        | ("builtins", "bytearray" | "complex") => Kind::Opaque,
        _ => return None,
    })
}

pub(super) fn refuse(module: &str, name: &str, pickle: &[u8]) -> PthError {
    let full = format!("{module}.{name}");
    let contains = |needle: &[u8]| pickle.windows(needle.len()).any(|w| w == needle);
    // A pickled nn.Module names its class, then its submodules' classes from torch.nn.
    let model =
        ["torch.nn.", "torchvision.models", "timm.models"].iter().any(|m| full.starts_with(m)) || contains(b"torch.nn.modules");
    PthError(if module.starts_with("__torch__") {
        format!("this is a TorchScript program (torch.jit.save), class `{full}`, not a torch.save checkpoint")
    } else if model {
        format!(
            "the checkpoint holds a whole pickled model object (torch.save(model), class `{full}`); \
             save model.state_dict() instead"
        )
    } else {
        format!("pickle references `{full}`, which a weights file has no reason to contain; refusing to load it")
    })
}

//! Errors that reach users: each says what was wrong and with what.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// A command line or API argument that makes no sense.
    Usage(String),
    /// No adapter, a refused device, a lost device, a failed readback.
    Gpu(String),
    /// An image that could not be read or used.
    Image(String),
    Weights(WeightsError),
}

/// What is wrong with a weights file. Every variant names the tensor involved.
#[derive(Debug, Clone, PartialEq)]
pub enum WeightsError {
    /// Not a safetensors file at all, or its header is damaged.
    Corrupt(String),
    /// The file ends before the data of `tensor` does.
    Truncated {
        tensor: String,
        needed_bytes: u64,
        file_bytes: u64,
    },
    /// A PyTorch checkpoint that could not be read (see `pth`).
    Checkpoint(String),
    /// The tensors match none of the networks (the first few names are kept).
    Unrecognised {
        first: Vec<String>,
        /// The networks the engine runs, by name.
        known: Vec<&'static str>,
    },
    /// The file holds weights of another network than the one asked for.
    /// The names are the models' (`Variant::name`), so that this layer knows no model types.
    WrongVariant {
        expected: &'static str,
        found: &'static str,
    },
    Missing {
        tensor: String,
        expected: Vec<usize>,
        more: usize,
    },
    Unexpected {
        tensor: String,
        shape: Vec<usize>,
    },
    Shape {
        tensor: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    Dtype {
        tensor: String,
        found: String,
    },
    /// A labels list whose length is not the model's class count.
    Labels {
        found: usize,
        classes: u32,
    },
    /// An int8 tensor without usable scales, or scales without their tensor.
    Int8 {
        tensor: String,
        detail: String,
    },
    /// A value that would poison the network (NaN or infinity), or a negative variance.
    BadValue {
        tensor: String,
        detail: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) => write!(f, "{m}"),
            Error::Gpu(m) => write!(f, "GPU error: {m}"),
            Error::Image(m) => write!(f, "image error: {m}"),
            Error::Weights(e) => write!(f, "weights file error: {e}"),
        }
    }
}

impl fmt::Display for WeightsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WeightsError::Corrupt(m) => {
                write!(f, "not a weights file this engine reads ({m}); it reads safetensors files and PyTorch checkpoints")
            }
            WeightsError::Truncated { tensor, needed_bytes, file_bytes } => write!(
                f,
                "the file is truncated: tensor `{tensor}` needs the file to be at least {needed_bytes} bytes, \
                 but it has {file_bytes}"
            ),
            WeightsError::Checkpoint(m) => write!(f, "not a readable PyTorch checkpoint: {m}"),
            WeightsError::Unrecognised { first, known } => write!(
                f,
                "these are not the weights of any network this engine runs ({}); the file's tensors begin with {}",
                known.join(", "),
                if first.is_empty() { "nothing: it holds no tensors".into() } else { first.join(", ") }
            ),
            WeightsError::WrongVariant { expected, found } => {
                write!(f, "these are weights for the `{found}` model, not `{expected}` (try --model {found})")
            }
            WeightsError::Missing { tensor, expected, more } => {
                write!(f, "tensor `{tensor}` is missing (expected shape {expected:?})")?;
                if *more > 0 {
                    write!(f, ", and {more} more missing")?;
                }
                Ok(())
            }
            WeightsError::Unexpected { tensor, shape } => {
                write!(f, "unexpected tensor `{tensor}` with shape {shape:?}: the model has no such parameter")
            }
            WeightsError::Shape { tensor, expected, found } => {
                write!(f, "tensor `{tensor}` has shape {found:?}, expected {expected:?}")
            }
            WeightsError::Dtype { tensor, found } => {
                write!(f, "tensor `{tensor}` has dtype {found}; only float32, float16, bfloat16 and float64 are supported")
            }
            WeightsError::Int8 { tensor, detail } => write!(f, "int8 tensor `{tensor}` {detail}"),
            WeightsError::Labels { found, classes } => {
                write!(f, "the labels list has {found} classes but the model has {classes}")
            }
            WeightsError::BadValue { tensor, detail } => write!(f, "tensor `{tensor}` {detail}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<WeightsError> for Error {
    fn from(e: WeightsError) -> Error {
        Error::Weights(e)
    }
}

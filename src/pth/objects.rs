//! What a pickle builds: objects in an arena, referring to each other by index (see
//! `pickle.rs`), and the readers of the values torch's rebuild functions take.

use super::allowlist::Global;
use safetensors::Dtype;
use std::rc::Rc;

/// torch's limit on dimensions.
pub const MAX_DIMS: usize = 64;

/// Index of an object in [`Pickle::objs`].
pub type Id = usize;

/// The result of running a pickle: every object it created, and the one STOP returned.
pub struct Pickle {
    pub objs: Vec<Obj>,
    pub root: Id,
}

impl Pickle {
    pub fn get(&self, id: Id) -> &Obj {
        &self.objs[id]
    }

    pub fn as_int(&self, id: Id) -> Option<i128> {
        as_int(&self.objs, id)
    }

    pub fn as_str(&self, id: Id) -> Option<&str> {
        as_str(&self.objs, id)
    }

    /// A tuple or list of non-negative ints.
    pub fn as_u64s(&self, id: Id) -> Option<Vec<u64>> {
        self.as_seq(id)?.iter().map(|&x| as_u64(&self.objs, x)).collect()
    }

    /// The items of a tuple or list.
    pub fn as_seq(&self, id: Id) -> Option<&[Id]> {
        match &self.objs[id] {
            Obj::Tuple(v) | Obj::List(v) => Some(v),
            _ => None,
        }
    }

    /// What an object is, in a few words, for error messages.
    pub fn describe(&self, id: Id) -> String {
        describe(&self.objs, id)
    }
}

pub(super) fn as_int(objs: &[Obj], id: Id) -> Option<i128> {
    match &objs[id] {
        Obj::Int(i) => Some(*i),
        _ => None,
    }
}

pub(super) fn as_u64(objs: &[Obj], id: Id) -> Option<u64> {
    as_int(objs, id).and_then(|v| u64::try_from(v).ok())
}

pub(super) fn as_str(objs: &[Obj], id: Id) -> Option<&str> {
    match &objs[id] {
        Obj::Str(s) => Some(s),
        _ => None,
    }
}

pub(super) fn describe(objs: &[Obj], id: Id) -> String {
    match &objs[id] {
        Obj::None => "None".into(),
        Obj::Bool(_) => "a bool".into(),
        Obj::Int(_) | Obj::BigInt => "an int".into(),
        Obj::Float => "a float".into(),
        Obj::Str(_) => "a string".into(),
        Obj::Bytes => "bytes".into(),
        Obj::Tuple(_) => "a tuple".into(),
        Obj::List(_) => "a list".into(),
        Obj::Dict(_) => "a dict".into(),
        Obj::Set(_) => "a set".into(),
        Obj::Global(g) => format!("`{}`", g.name),
        Obj::Storage(_) => "a bare storage".into(),
        Obj::Tensor(_) => "a tensor".into(),
        Obj::PendingTensor => "a tensor without data".into(),
        Obj::Other(what) | Obj::Unreadable(what) => what.clone(),
    }
}

pub enum Obj {
    None,
    Bool(bool),
    /// Python ints; LONG opcodes can make them arbitrarily long, beyond i128 they are
    /// [`Obj::BigInt`], whose value nothing here needs.
    Int(i128),
    BigInt,
    /// Floats and bytes: their values are of no use here (optimizer settings, metrics).
    Float,
    /// Shared: a key or a module name may be referenced many times.
    Str(Rc<str>),
    Bytes,
    Tuple(Vec<Id>),
    List(Vec<Id>),
    /// dict, OrderedDict or Counter: items in insertion order. A key set twice appears
    /// twice; readers take the last, as Python would.
    Dict(Vec<(Id, Id)>),
    Set(Vec<Id>),
    Global(Global),
    /// What a persistent id `('storage', StorageClass, key, location, numel[, view])`
    /// stands for: the data is looked up by the caller, who knows the file's format.
    Storage(Box<StorageRef>),
    Tensor(TensorRef),
    /// A tensor that cannot be read (sparse, quantized, unsupported dtype, malformed
    /// arguments), described in words: fine where it is ignored (an optimizer's state), an
    /// error in the state_dict.
    Unreadable(String),
    /// A tensor made empty by NEWOBJ, as the oldest PyTorch versions pickled them, until
    /// BUILD sets its `(storage, offset, size, stride)`.
    PendingTensor,
    /// Anything else an allowed global can make (a `torch.device`, a Counter of something),
    /// described in words.
    Other(String),
}

#[derive(Clone, Debug)]
pub struct StorageRef {
    /// Where the bytes are: `data/<key>` in a zip, the key's slot in a legacy file.
    pub key: Rc<str>,
    /// The storage's element type, from its class (`torch.FloatStorage`: F32;
    /// `torch.UntypedStorage`: bytes, so U8), `None` for types we cannot name.
    pub dtype: Option<Dtype>,
    /// The size of those elements in bytes.
    pub elsize: usize,
    /// Its length in those elements, as the persistent id says.
    pub numel: u64,
    /// Legacy files could save a tensor whose storage is a slice of another:
    /// (offset, length) in elements within the storage `key`.
    pub view: Option<(u64, u64)>,
}

/// The arguments of a tensor rebuild function. Shape and stride are tuples (at most
/// [`MAX_DIMS`] long) in the arena, not copied: a hostile pickle could rebuild many tensors
/// from the same long tuples.
#[derive(Clone, Debug)]
pub struct TensorRef {
    /// An [`Obj::Storage`].
    pub storage: Id,
    pub dtype: Dtype,
    /// In elements of `dtype`, within the storage (after its view offset, if any).
    pub offset: u64,
    pub shape: Id,
    pub stride: Id,
}

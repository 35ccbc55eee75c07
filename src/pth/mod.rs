//! Reading PyTorch checkpoints (`torch.save`) without Python and without running them.
//!
//! A checkpoint is a pickle (Python's object serialization, which can call any function
//! while loading, hence [`pickle`]'s allowlist) whose tensors refer to "storages", blobs
//! of raw little-endian elements kept outside the pickle:
//! - since PyTorch 1.6, a zip archive ([`zip`]): `<archive>/data.pkl` is the pickle,
//!   `<archive>/data/<key>` each storage, `<archive>/byteorder` says "little";
//! - before, the "legacy" format, still readable by torch and used by old downloads: five
//!   pickles in a row (magic number, protocol version, system info, the object, the list of
//!   storage keys), then for each key its element count (8 bytes) and its bytes.
//!
//! The object is usually a state_dict (`{name: tensor}`), sometimes wrapped in a training
//! checkpoint (`{"model": state_dict, "optimizer": ..., "epoch": 3}`); [`read`] finds it.
//! A tensor is a view of a storage (offset, shape, strides): contiguous ones are returned
//! as slices of the input, other views are copied into row-major order.

mod allowlist;
mod objects;
mod pickle;
mod zip;

use crate::tensors::{RawTensor, Tensors};
use objects::{Id, Obj, Pickle, StorageRef, MAX_DIMS};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// Why a checkpoint could not be read, in words for whoever chose the file.
#[derive(Clone, Debug, PartialEq)]
pub struct PthError(pub String);

impl std::fmt::Display for PthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PthError {}

fn err<T>(msg: impl Into<String>) -> Result<T, PthError> {
    Err(PthError(msg.into()))
}

/// Entries of a training checkpoint that hold the model's weights, most likely first.
const WRAPPER_KEYS: &[&str] = &[
    "state_dict",
    "model_state_dict",
    "model",
    "net",
    "network",
    "module",
    "state_dict_ema",
    "model_ema",
    "ema",
    "params",
    "weights",
];

/// The state_dict a checkpoint holds: its tensors by name, names exactly as stored.
pub fn read(bytes: &[u8]) -> Result<Tensors<'_>, PthError> {
    if zip::is_zip(bytes) {
        read_zip(bytes)
    } else if bytes.get(257..262) == Some(b"ustar") {
        err("this is a checkpoint in the tar format of PyTorch before 0.1.10; load it and save it again with a recent PyTorch")
    } else if bytes.first() == Some(&0x80) {
        read_legacy(bytes)
    } else {
        err("not a PyTorch checkpoint: it is neither a zip archive nor a pickle")
    }
}

fn read_zip(bytes: &[u8]) -> Result<Tensors<'_>, PthError> {
    let zip = zip::Zip::parse(bytes)?;
    // torch names the archive's folder after the file it first saved to, so look for any
    // `*/data.pkl`, the outermost if there are several.
    let Some(pkl) = zip.names().filter(|n| *n == "data.pkl" || n.ends_with("/data.pkl")).min_by_key(|n| n.len()) else {
        return err("this zip archive has no data.pkl: it is not a checkpoint written by torch.save");
    };
    let prefix = &pkl[..pkl.len() - "data.pkl".len()];
    if zip.contains(&format!("{prefix}constants.pkl")) {
        return err("this is a TorchScript program (torch.jit.save), not a torch.save checkpoint; save model.state_dict() with torch.save instead");
    }
    // Files from before torch 1.10 have no byteorder entry; they are little endian.
    if let Some(order) = zip.entry(&format!("{prefix}byteorder")) {
        match order? {
            b"little" => {}
            b"big" => return err(BIG_ENDIAN),
            _ => return err("the checkpoint's byteorder entry is neither \"little\" nor \"big\""),
        }
    }
    let (pickle, _) = pickle::run(zip.entry(pkl).expect("listed")?, "data.pkl")?;
    let storage = |s: &StorageRef| -> Option<Result<&[u8], PthError>> { zip.entry(&format!("{prefix}data/{}", s.key)) };
    let storage_name = |s: &StorageRef| format!("data/{}", s.key);
    build(&pickle, bytes.len(), storage, storage_name, false)
}

const BIG_ENDIAN: &str = "the checkpoint was saved on a big-endian machine, which this reader does not support; \
                          load it with PyTorch and save it again";

/// torch.save's `_use_new_zipfile_serialization=False` format.
fn read_legacy(bytes: &[u8]) -> Result<Tensors<'_>, PthError> {
    let mut at = 0;
    let mut next = |what: &str| -> Result<Pickle, PthError> {
        let (p, len) = pickle::run(&bytes[at..], what)?;
        at += len;
        Ok(p)
    };
    let magic = next("the checkpoint's first pickle")?;
    if magic.as_int(magic.root) != Some(0x1950a86a20f9469cfc6c) {
        return err("this is a pickle file, but not one written by torch.save (no PyTorch magic number)");
    }
    let protocol = next("the checkpoint's protocol version")?;
    if protocol.as_int(protocol.root) != Some(1001) {
        return err("this checkpoint uses an unknown version of PyTorch's legacy format");
    }
    let info = next("the checkpoint's system info")?;
    if let Obj::Dict(items) = info.get(info.root) {
        let little = items.iter().rev().find(|(k, _)| info.as_str(*k) == Some("little_endian"));
        if let Some((_, v)) = little {
            if matches!(info.get(*v), Obj::Bool(false)) {
                return err(BIG_ENDIAN);
            }
        }
    }
    let main = next("the checkpoint's main pickle")?;
    let keys = next("the checkpoint's storage list")?;

    // What the main pickle says of each storage: element size and count. torch creates a
    // storage from its first reference and reuses it; a file whose references disagree
    // was not written by torch.
    let mut refs: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
    for obj in &main.objs {
        if let Obj::Storage(s) = obj {
            let info = (s.elsize, s.numel);
            if *refs.entry(&s.key).or_insert(info) != info {
                return err(format!("storage `{}` is described twice with different types or lengths", s.key));
            }
        }
    }
    let Some(key_list) = keys.as_seq(keys.root) else {
        return err("the checkpoint's storage list is not a list");
    };
    // Then the storages, in the list's order: element count, then the elements.
    let mut data: BTreeMap<&str, &[u8]> = BTreeMap::new();
    for &k in key_list {
        let Some(key) = keys.as_str(k) else {
            return err("the checkpoint's storage list holds something else than storage names");
        };
        let Some(&(elsize, numel)) = refs.get(key) else {
            return err(format!("the checkpoint lists storage `{key}`, which nothing refers to"));
        };
        let Some(count) = bytes.get(at..at + 8) else {
            return err(format!("storage `{key}` is missing: the file is truncated"));
        };
        let count = u64::from_le_bytes(count.try_into().unwrap());
        if count != numel {
            return err(format!("storage `{key}` holds {count} elements where {numel} are expected"));
        }
        let len = numel.checked_mul(elsize as u64).and_then(|n| usize::try_from(n).ok());
        let Some(stored) = len.and_then(|len| bytes.get(at + 8..(at + 8).checked_add(len)?)) else {
            return err(format!("storage `{key}` is cut short: the file is truncated"));
        };
        if data.insert(key, stored).is_some() {
            return err(format!("the checkpoint lists storage `{key}` twice"));
        }
        at += 8 + stored.len();
    }
    let storage = |s: &StorageRef| data.get(&*s.key).map(|&d| Ok(d));
    let storage_name = |s: &StorageRef| format!("storage `{}`", s.key);
    build(&main, bytes.len(), storage, storage_name, true)
}

/// Finds the state_dict in the pickle and reads its tensors.
/// `storage` finds a storage's bytes; in legacy files their length was checked exactly,
/// in zips an entry may be longer than the storage (torch reads only what it needs).
fn build<'a>(
    pickle: &Pickle,
    file_len: usize,
    storage: impl Fn(&StorageRef) -> Option<Result<&'a [u8], PthError>>,
    storage_name: impl Fn(&StorageRef) -> String,
    legacy: bool,
) -> Result<Tensors<'a>, PthError> {
    let (dict, wrapper) = find_state_dict(pickle)?;
    let within = match wrapper {
        Some(w) => format!(" (in `{w}`)"),
        None => String::new(),
    };
    // Copies (of views that are not contiguous) may exceed the file's size only so much:
    // a view with zero strides can repeat one element any number of times.
    let mut copy_budget = file_len.saturating_mul(8).saturating_add(8 << 20);
    let mut map = BTreeMap::new();
    // A name set twice: the last one wins, as in the Python dict; so go backwards and skip
    // names already read (first by identity, cheaply: a pickle can repeat one long name).
    let mut seen = BTreeSet::new();
    for &(k, v) in dict.iter().rev() {
        let Some(name) = pickle.as_str(k) else {
            return err(format!("the state_dict{within} has a key that is {}, not a name", pickle.describe(k)));
        };
        if !seen.insert(k) || map.contains_key(name) {
            continue;
        }
        let t = match pickle.get(v) {
            Obj::Tensor(t) => t,
            Obj::Unreadable(what) => return err(format!("`{name}`{within} is {what}")),
            Obj::PendingTensor => return err(format!("`{name}`{within} is a tensor without data")),
            _ => return err(format!("`{name}`{within} is {}, not a tensor", pickle.describe(v))),
        };
        let Obj::Storage(s) = pickle.get(t.storage) else {
            return err(format!("tensor `{name}` has no storage")); // the pickle reader ensures it has
        };
        let what = storage_name(s);
        let bytes = match storage(s) {
            Some(b) => b?,
            None if legacy => return err(format!("tensor `{name}`: the checkpoint has no data for {what}")),
            None => return err(format!("tensor `{name}`: {what} is missing from the archive")),
        };
        let (Some(shape), Some(stride)) = (pickle.as_u64s(t.shape), pickle.as_u64s(t.stride)) else {
            return err(format!("tensor `{name}` has a negative or non-integer size or stride"));
        };
        let view = View { dtype: t.dtype, offset: t.offset, shape, stride };
        let tensor =
            materialize(&view, s, bytes, &mut copy_budget).map_err(|e| PthError(format!("tensor `{name}` ({what}): {e}")))?;
        map.insert(name.to_string(), tensor);
    }
    Ok(Tensors { map })
}

/// A dict's items, as (key, value) pairs.
type Items<'p> = &'p [(Id, Id)];

/// The dict of tensors, and the wrapper entry it was found in if any.
fn find_state_dict(p: &Pickle) -> Result<(Items<'_>, Option<&str>), PthError> {
    // Whether a dict holds tensors, once per dict: a hostile pickle can refer to one big
    // dict many times.
    let mut known = BTreeMap::new();
    let mut has_tensors = |id: Id| {
        *known.entry(id).or_insert_with(|| match p.get(id) {
            Obj::Dict(items) => {
                items.iter().any(|&(_, v)| matches!(p.get(v), Obj::Tensor(_) | Obj::Unreadable(_) | Obj::PendingTensor))
            }
            _ => false,
        })
    };
    let items = match p.get(p.root) {
        Obj::Dict(items) => items,
        Obj::Tensor(_) | Obj::Unreadable(_) | Obj::PendingTensor => {
            return err("the checkpoint holds a single tensor, not a state_dict of named tensors")
        }
        _ => return err(format!("the checkpoint holds {}, not a state_dict", p.describe(p.root))),
    };
    let entry = |key: &str| items.iter().rev().find(|&&(k, _)| p.as_str(k) == Some(key)).map(|&(_, v)| v);
    let as_items = |id: Id| match p.get(id) {
        Obj::Dict(items) => &items[..],
        _ => &[],
    };
    // A training checkpoint: the weights under a well-known name...
    for &key in WRAPPER_KEYS {
        if let Some(v) = entry(key).filter(|&v| has_tensors(v)) {
            return Ok((as_items(v), Some(key)));
        }
    }
    // ...or a state_dict itself...
    if has_tensors(p.root) {
        return Ok((items, None));
    }
    // ...or under another name.
    if let Some(&(k, v)) = items.iter().find(|&&(k, v)| p.as_str(k).is_some() && has_tensors(v)) {
        return Ok((as_items(v), p.as_str(k)));
    }
    if items.is_empty() {
        return err("the checkpoint holds an empty dict");
    }
    let names: Vec<String> =
        items.iter().take(8).map(|&(k, _)| p.as_str(k).map_or_else(|| p.describe(k), |s| format!("`{s}`"))).collect();
    let more = if items.len() > 8 { ", ..." } else { "" };
    err(format!(
        "the checkpoint holds a dict without tensors and without a state_dict in it (entries: {}{more})",
        names.join(", ")
    ))
}

/// A tensor as a view of a storage, in elements of `dtype`.
struct View {
    dtype: safetensors::Dtype,
    offset: u64,
    shape: Vec<u64>,
    stride: Vec<u64>,
}

/// The tensor's elements in row-major order: a slice of `storage` (the bytes of `s`) when
/// the view is contiguous, else a copy (charged to `budget`).
fn materialize<'a>(t: &View, s: &StorageRef, storage: &'a [u8], budget: &mut usize) -> Result<RawTensor<'a>, String> {
    if t.shape.len() > MAX_DIMS {
        return Err(format!("{} dimensions, more than torch allows", t.shape.len()));
    }
    // The storage's bytes, narrowed to its view in legacy files.
    let storage_len = s.numel.checked_mul(s.elsize as u64).filter(|&n| n <= storage.len() as u64);
    let Some(storage_len) = storage_len else {
        return Err(format!("the storage should hold {} elements but has only {} bytes", s.numel, storage.len()));
    };
    let (view_start, view_len) = s.view.unwrap_or((0, s.numel));
    if view_start.checked_add(view_len).is_none_or(|end| end > s.numel) {
        return Err(format!("its storage view [{view_start}, +{view_len}) lies outside the storage of {} elements", s.numel));
    }
    // In range: both ends are at most `storage_len`, which is at most `storage.len()`.
    let region = &storage[(view_start * s.elsize as u64) as usize..((view_start + view_len) * s.elsize as u64) as usize];
    debug_assert!(region.len() as u64 <= storage_len);

    let elsize = t.dtype.bitsize() / 8;
    let Some(numel) = t.shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d)) else {
        return Err(format!("its shape {:?} overflows", t.shape));
    };
    let shape: Vec<usize> = t.shape.iter().map(|&d| d as usize).collect();
    if numel == 0 {
        // No element is read: torch does not check the offset either. (A dimension
        // that does not fit a usize on a 32-bit target cannot be real.)
        if t.shape.iter().any(|&d| usize::try_from(d).is_err()) {
            return Err(format!("its shape {:?} overflows", t.shape));
        }
        return Ok(RawTensor { dtype: t.dtype, shape, data: Cow::Borrowed(&[]) });
    }
    // The furthest element the view reaches (strides are never negative in torch); an
    // overflow means it reaches further than any storage.
    let last = t.shape.iter().zip(&t.stride).try_fold(t.offset, |acc, (&d, &st)| acc.checked_add((d - 1).checked_mul(st)?));
    let end_byte = last.and_then(|l| l.checked_add(1)?.checked_mul(elsize as u64));
    if end_byte.is_none_or(|end| end > region.len() as u64) {
        return Err(format!(
            "its view (offset {}, shape {:?}, strides {:?}) reaches past the end of its storage ({} bytes)",
            t.offset,
            t.shape,
            t.stride,
            region.len()
        ));
    }
    // Not bounded by the storage's size: zero strides repeat elements.
    let Some(out_len) = numel.checked_mul(elsize as u64).and_then(|n| usize::try_from(n).ok()) else {
        return Err(format!("its shape {:?} overflows", t.shape));
    };
    let start = (t.offset * elsize as u64) as usize; // <= end_byte
                                                     // Row-major strides, where dimensions of size 1 may have any stride.
    let mut expected = 1u64;
    let mut contiguous = true;
    for (&d, &st) in t.shape.iter().zip(&t.stride).rev() {
        if d != 1 && st != expected {
            contiguous = false;
        }
        expected *= d; // <= numel
    }
    if contiguous {
        return Ok(RawTensor { dtype: t.dtype, shape, data: Cow::Borrowed(&region[start..start + out_len]) });
    }
    if out_len > *budget {
        return Err(format!("it is a strided view of {numel} elements, too many to copy for a file of this size"));
    }
    *budget -= out_len;
    Ok(RawTensor { dtype: t.dtype, shape, data: Cow::Owned(gather(t, elsize, &region[start..])) })
}

/// Copies a strided view (bounds already checked) into row-major order, by runs: the
/// innermost dimensions that are contiguous are copied as one slice.
fn gather(t: &View, elsize: usize, base: &[u8]) -> Vec<u8> {
    // Dimensions of size 1 change nothing (and their stride may be anything). For the
    // others, size x stride is at most twice the storage, as checked by the caller.
    let dims: Vec<(usize, usize)> =
        t.shape.iter().zip(&t.stride).filter(|(&d, _)| d != 1).map(|(&d, &s)| (d as usize, s as usize)).collect();
    // Merge trailing dimensions while they are laid out contiguously.
    let mut run = 1usize;
    let mut outer = dims.len();
    while outer > 0 && dims[outer - 1].1 == run {
        run *= dims[outer - 1].0;
        outer -= 1;
    }
    let run_bytes = run * elsize;
    let dims = &dims[..outer];
    let numel: usize = t.shape.iter().map(|&d| d as usize).product();
    let mut out = Vec::with_capacity(numel * elsize);
    let mut index = vec![0usize; dims.len()];
    let mut at = 0usize; // element offset of the current run
    loop {
        out.extend_from_slice(&base[at * elsize..at * elsize + run_bytes]);
        // Odometer over the outer dimensions, last fastest.
        let mut d = dims.len();
        loop {
            if d == 0 {
                return out;
            }
            d -= 1;
            index[d] += 1;
            at += dims[d].1;
            if index[d] < dims[d].0 {
                break;
            }
            at -= dims[d].1 * index[d];
            index[d] = 0;
        }
    }
}

//! A pickle reader that only builds data: it runs the opcodes `torch.save` emits (pickle
//! protocols 1 to 5) but never calls or imports anything. Globals are looked up in a fixed
//! allowlist, the one `torch.load(weights_only=True)` uses by default, and become plain
//! values ([`Global`]); applying one (REDUCE, NEWOBJ) is interpreted here, for the few
//! whose meaning matters (dicts, tensors, storages) and as an opaque [`Obj::Other`] for the
//! rest. Any other global stops the load.
//!
//! Objects live in an arena ([`Pickle::objs`]) and refer to each other by index, which
//! makes shared and even cyclic references (the memo allows both) harmless: nothing here
//! recurses over the object graph, and nothing copies a container or a string that a
//! pickle could refer to many times. Each opcode creates at most one object, and objects,
//! memo entries and stack depth are capped ([`MAX_OBJECTS`]), so memory stays within some
//! hundreds of MB whatever the file.

use super::allowlist::{lookup, refuse, Global, Kind};
use super::objects::{as_str, as_u64, describe, Id, Obj, Pickle, StorageRef, TensorRef, MAX_DIMS};
use super::PthError;
use std::collections::BTreeMap;
use std::rc::Rc;

/// Objects, memo entries and stack depth a pickle may reach: a torch.save pickle makes
/// about 20 objects per tensor, so this allows some 400 000 tensors (models have a few
/// thousand), and bounds memory to a few hundred MB.
const MAX_OBJECTS: usize = 1 << 23;

/// Runs the pickle at the start of `bytes`; returns it and how many bytes it took (legacy
/// files are several pickles in a row). `what` names it in errors (`data.pkl`).
pub fn run(bytes: &[u8], what: &str) -> Result<(Pickle, usize), PthError> {
    let mut vm = Vm { bytes, pos: 0, what, objs: Vec::new(), stack: Vec::new(), marks: Vec::new(), memo: BTreeMap::new() };
    let root = vm.run()?;
    Ok((Pickle { objs: vm.objs, root }, vm.pos))
}

/// Pickle opcodes, named as in CPython's `pickle.py` and `pickletools`. All of them are
/// listed, so that any byte can be looked up; [`Vm::run`] does not read the protocol 0
/// text forms (FLOAT, STRING, UNICODE, PERSID, GET, PUT, INST, OBJ) nor the extension
/// registry (EXT1, EXT2, EXT4), which it refuses like unknown bytes.
#[allow(dead_code, reason = "the opcodes the reader refuses are listed too, to name every byte")]
mod op {
    // Protocol 0 and 1.
    pub const MARK: u8 = b'(';
    pub const STOP: u8 = b'.';
    pub const POP: u8 = b'0';
    pub const POP_MARK: u8 = b'1';
    pub const DUP: u8 = b'2';
    pub const FLOAT: u8 = b'F';
    pub const INT: u8 = b'I';
    pub const BININT: u8 = b'J';
    pub const BININT1: u8 = b'K';
    pub const LONG: u8 = b'L';
    pub const BININT2: u8 = b'M';
    pub const NONE: u8 = b'N';
    pub const PERSID: u8 = b'P';
    pub const BINPERSID: u8 = b'Q';
    pub const REDUCE: u8 = b'R';
    pub const STRING: u8 = b'S';
    pub const BINSTRING: u8 = b'T';
    pub const SHORT_BINSTRING: u8 = b'U';
    pub const UNICODE: u8 = b'V';
    pub const BINUNICODE: u8 = b'X';
    pub const APPEND: u8 = b'a';
    pub const BUILD: u8 = b'b';
    pub const GLOBAL: u8 = b'c';
    pub const DICT: u8 = b'd';
    pub const EMPTY_DICT: u8 = b'}';
    pub const APPENDS: u8 = b'e';
    pub const GET: u8 = b'g';
    pub const BINGET: u8 = b'h';
    pub const INST: u8 = b'i';
    pub const LONG_BINGET: u8 = b'j';
    pub const LIST: u8 = b'l';
    pub const EMPTY_LIST: u8 = b']';
    pub const OBJ: u8 = b'o';
    pub const PUT: u8 = b'p';
    pub const BINPUT: u8 = b'q';
    pub const LONG_BINPUT: u8 = b'r';
    pub const SETITEM: u8 = b's';
    pub const TUPLE: u8 = b't';
    pub const EMPTY_TUPLE: u8 = b')';
    pub const SETITEMS: u8 = b'u';
    pub const BINFLOAT: u8 = b'G';

    // Protocol 2.
    pub const PROTO: u8 = 0x80;
    pub const NEWOBJ: u8 = 0x81;
    pub const EXT1: u8 = 0x82;
    pub const EXT2: u8 = 0x83;
    pub const EXT4: u8 = 0x84;
    pub const TUPLE1: u8 = 0x85;
    pub const TUPLE2: u8 = 0x86;
    pub const TUPLE3: u8 = 0x87;
    pub const NEWTRUE: u8 = 0x88;
    pub const NEWFALSE: u8 = 0x89;
    pub const LONG1: u8 = 0x8a;
    pub const LONG4: u8 = 0x8b;

    // Protocol 3.
    pub const BINBYTES: u8 = b'B';
    pub const SHORT_BINBYTES: u8 = b'C';

    // Protocol 4.
    pub const SHORT_BINUNICODE: u8 = 0x8c;
    pub const BINUNICODE8: u8 = 0x8d;
    pub const BINBYTES8: u8 = 0x8e;
    pub const EMPTY_SET: u8 = 0x8f;
    pub const ADDITEMS: u8 = 0x90;
    pub const FROZENSET: u8 = 0x91;
    pub const NEWOBJ_EX: u8 = 0x92;
    pub const STACK_GLOBAL: u8 = 0x93;
    pub const MEMOIZE: u8 = 0x94;
    pub const FRAME: u8 = 0x95;

    // Protocol 5.
    pub const BYTEARRAY8: u8 = 0x96;
    pub const NEXT_BUFFER: u8 = 0x97;
    pub const READONLY_BUFFER: u8 = 0x98;
}

struct Vm<'b> {
    bytes: &'b [u8],
    pos: usize,
    what: &'b str,
    objs: Vec<Obj>,
    stack: Vec<Id>,
    /// Stack lengths at each MARK: the items pushed since are what TUPLE, SETITEMS... take.
    marks: Vec<usize>,
    /// BTreeMap, not Vec: a hostile LONG_BINPUT index must not size an allocation.
    memo: BTreeMap<u32, Id>,
}

impl Vm<'_> {
    fn bad(&self, why: impl std::fmt::Display) -> PthError {
        PthError(format!("{} is malformed: {why} (at byte {})", self.what, self.pos))
    }

    fn take(&mut self, n: usize) -> Result<&[u8], PthError> {
        let bytes = self.bytes;
        let end = self.pos.checked_add(n).filter(|&e| e <= bytes.len());
        let Some(end) = end else {
            return Err(PthError(format!("{} ends early: the file is truncated or damaged", self.what)));
        };
        let out = &bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], PthError> {
        Ok(self.take(N)?.try_into().unwrap())
    }

    fn take_len(&mut self, n: usize) -> Result<usize, PthError> {
        let v = match n {
            1 => self.take(1)?[0] as u64,
            4 => u32::from_le_bytes(self.take_array()?) as u64,
            _ => u64::from_le_bytes(self.take_array()?),
        };
        // Longer than what is left cannot be right; take() would say so too, but this way
        // the conversion to usize cannot truncate on 32-bit targets.
        usize::try_from(v).map_err(|_| self.bad("length out of range"))
    }

    /// A text line (GLOBAL's operands, protocol 1's INT and LONG), without its newline.
    fn line(&mut self) -> Result<&str, PthError> {
        let rest = &self.bytes[self.pos..];
        let Some(n) = rest.iter().position(|&b| b == b'\n') else {
            return Err(PthError(format!("{} ends early: the file is truncated or damaged", self.what)));
        };
        self.pos += n + 1;
        std::str::from_utf8(&rest[..n]).map_err(|_| self.bad("a text operand is not UTF-8"))
    }

    /// Adds an object and pushes it. Memory is proportional to the pickle's length, but
    /// a pickle is a few MB at most even for the largest models: a cap keeps a hostile one
    /// from costing gigabytes.
    fn push(&mut self, obj: Obj) -> Result<(), PthError> {
        if self.objs.len() >= MAX_OBJECTS {
            return Err(self.bad(format!("more than {MAX_OBJECTS} objects, which no weights file has")));
        }
        self.objs.push(obj);
        self.stack.push(self.objs.len() - 1);
        Ok(())
    }

    fn push_made(&mut self, made: Made) -> Result<(), PthError> {
        match made {
            Made::New(obj) => self.push(obj),
            Made::Same(id) => {
                self.stack.push(id);
                Ok(())
            }
        }
    }

    fn pop(&mut self) -> Result<Id, PthError> {
        // Items below the last MARK belong to an outer level: popping them means the
        // pickle is corrupt (Python's unpickler is as strict).
        if self.stack.len() <= self.marks.last().copied().unwrap_or(0) {
            return Err(self.bad("stack underflow"));
        }
        Ok(self.stack.pop().unwrap())
    }

    fn top(&self) -> Result<Id, PthError> {
        if self.stack.len() <= self.marks.last().copied().unwrap_or(0) {
            return Err(self.bad("stack underflow"));
        }
        Ok(*self.stack.last().unwrap())
    }

    fn pop_mark(&mut self) -> Result<Vec<Id>, PthError> {
        let mark = self.marks.pop().ok_or_else(|| self.bad("no MARK"))?;
        Ok(self.stack.split_off(mark))
    }

    fn string(&mut self, n: usize) -> Result<(), PthError> {
        // Python writes lone surrogates ("surrogatepass"); they cannot be names of tensors
        // we need, so they are replaced rather than refused.
        let s = String::from_utf8_lossy(self.take(n)?).into();
        self.push(Obj::Str(s))
    }

    fn bytes(&mut self, n: usize) -> Result<(), PthError> {
        self.take(n)?;
        self.push(Obj::Bytes)
    }

    fn int(&mut self, v: i128) -> Result<(), PthError> {
        self.push(Obj::Int(v))
    }

    /// LONG1 / LONG4: little-endian two's complement.
    fn long(&mut self, n: usize) -> Result<(), PthError> {
        let b = self.take(n)?;
        let negative = b.last().is_some_and(|&x| x & 0x80 != 0);
        // Beyond 16 bytes the value only fits in i128 if the rest is sign extension.
        let fill = if negative { 0xFF } else { 0 };
        let obj = if b.len() > 16 && b[16..].iter().any(|&x| x != fill) {
            Obj::BigInt
        } else {
            let mut buf = [fill; 16];
            let k = b.len().min(16);
            buf[..k].copy_from_slice(&b[..k]);
            let v = i128::from_le_bytes(buf);
            if (v < 0) != negative && b.len() >= 16 {
                Obj::BigInt
            } else {
                Obj::Int(v)
            }
        };
        self.push(obj)
    }

    fn memo_put(&mut self, index: u32) -> Result<(), PthError> {
        let top = self.top()?;
        if self.memo.len() >= MAX_OBJECTS {
            return Err(self.bad(format!("more than {MAX_OBJECTS} memo entries, which no weights file has")));
        }
        self.memo.insert(index, top);
        Ok(())
    }

    fn memo_get(&mut self, index: u32) -> Result<(), PthError> {
        let id = *self.memo.get(&index).ok_or_else(|| self.bad(format!("memo entry {index} is not defined")))?;
        self.stack.push(id);
        Ok(())
    }

    fn global(&mut self, module: &str, name: &str) -> Result<(), PthError> {
        match lookup(module, name) {
            Some(kind) => {
                let name = format!("{module}.{name}");
                self.push(Obj::Global(Global { name, kind }))
            }
            None => Err(refuse(module, name, self.bytes)),
        }
    }

    fn run(&mut self) -> Result<Id, PthError> {
        loop {
            // DUP, BINGET and MARK grow the stacks without making objects.
            if self.stack.len() + self.marks.len() > MAX_OBJECTS {
                return Err(self.bad(format!("a stack deeper than {MAX_OBJECTS}, which no weights file has")));
            }
            let opcode = self.take(1)?[0];
            match opcode {
                op::PROTO => {
                    let v = self.take(1)?[0];
                    if v > 5 {
                        return Err(self.bad(format!("unknown pickle protocol {v}")));
                    }
                }
                op::FRAME => {
                    // A length prefix for buffered reading; the data is inline.
                    self.take(8)?;
                }
                op::STOP => {
                    let id = self.pop()?;
                    return Ok(id);
                }
                op::MARK => self.marks.push(self.stack.len()),
                op::POP => {
                    self.pop()?;
                }
                op::POP_MARK => {
                    self.pop_mark()?;
                }
                op::DUP => {
                    let top = self.top()?;
                    self.stack.push(top);
                }

                // Scalars.
                op::NONE => self.push(Obj::None)?,
                op::NEWTRUE => self.push(Obj::Bool(true))?,
                op::NEWFALSE => self.push(Obj::Bool(false))?,
                op::BININT => {
                    let v = i32::from_le_bytes(self.take_array()?);
                    self.int(v.into())?;
                }
                op::BININT1 => {
                    let v = self.take(1)?[0];
                    self.int(v.into())?;
                }
                op::BININT2 => {
                    let v = u16::from_le_bytes(self.take_array()?);
                    self.int(v.into())?;
                }
                op::LONG1 => {
                    let n = self.take_len(1)?;
                    self.long(n)?;
                }
                op::LONG4 => {
                    let n = self.take_len(4)?;
                    self.long(n)?;
                }
                op::INT | op::LONG => self.text_int(opcode)?,
                op::BINFLOAT => {
                    self.take(8)?;
                    self.push(Obj::Float)?;
                }

                // Strings and bytes. Python 2's str (BINSTRING) is read as text, as
                // torch.load does by default.
                op::BINUNICODE => {
                    let n = self.take_len(4)?;
                    self.string(n)?;
                }
                op::SHORT_BINUNICODE | op::SHORT_BINSTRING => {
                    let n = self.take_len(1)?;
                    self.string(n)?;
                }
                op::BINUNICODE8 => {
                    let n = self.take_len(8)?;
                    self.string(n)?;
                }
                op::BINSTRING => {
                    let n = self.take_len(4)?;
                    self.string(n)?;
                }
                op::SHORT_BINBYTES => {
                    let n = self.take_len(1)?;
                    self.bytes(n)?;
                }
                op::BINBYTES => {
                    let n = self.take_len(4)?;
                    self.bytes(n)?;
                }
                op::BINBYTES8 | op::BYTEARRAY8 => {
                    let n = self.take_len(8)?;
                    self.bytes(n)?;
                }

                // Containers.
                op::EMPTY_TUPLE => self.push(Obj::Tuple(Vec::new()))?,
                op::EMPTY_LIST => self.push(Obj::List(Vec::new()))?,
                op::EMPTY_DICT => self.push(Obj::Dict(Vec::new()))?,
                op::EMPTY_SET => self.push(Obj::Set(Vec::new()))?,
                op::TUPLE => {
                    let items = self.pop_mark()?;
                    self.push(Obj::Tuple(items))?;
                }
                op::LIST => {
                    let items = self.pop_mark()?;
                    self.push(Obj::List(items))?;
                }
                op::FROZENSET => {
                    let items = self.pop_mark()?;
                    self.push(Obj::Set(items))?;
                }
                op::DICT => {
                    let items = self.pop_mark()?;
                    let pairs = self.pairs(items)?;
                    self.push(Obj::Dict(pairs))?;
                }
                op::TUPLE1..=op::TUPLE3 => self.small_tuple((opcode - op::TUPLE1) as usize + 1)?,
                op::APPEND => {
                    let item = self.pop()?;
                    self.extend(vec![item])?;
                }
                op::APPENDS => {
                    let items = self.pop_mark()?;
                    self.extend(items)?;
                }
                op::ADDITEMS => {
                    let items = self.pop_mark()?;
                    self.add_items(items)?;
                }
                op::SETITEM => {
                    let value = self.pop()?;
                    let key = self.pop()?;
                    self.set_items(vec![(key, value)])?;
                }
                op::SETITEMS => {
                    let items = self.pop_mark()?;
                    let pairs = self.pairs(items)?;
                    self.set_items(pairs)?;
                }

                // Memo.
                op::BINPUT => {
                    let i = self.take(1)?[0];
                    self.memo_put(i.into())?;
                }
                op::LONG_BINPUT => {
                    let i = u32::from_le_bytes(self.take_array()?);
                    self.memo_put(i)?;
                }
                op::MEMOIZE => {
                    let i = u32::try_from(self.memo.len()).map_err(|_| self.bad("memo too large"))?;
                    self.memo_put(i)?;
                }
                op::BINGET => {
                    let i = self.take(1)?[0];
                    self.memo_get(i.into())?;
                }
                op::LONG_BINGET => {
                    let i = u32::from_le_bytes(self.take_array()?);
                    self.memo_get(i)?;
                }

                // Globals and what is done with them.
                op::GLOBAL => {
                    let module = self.line()?.to_string();
                    let name = self.line()?.to_string();
                    self.global(&module, &name)?;
                }
                op::STACK_GLOBAL => self.stack_global()?,
                op::REDUCE => {
                    let args = self.pop()?;
                    let func = self.pop()?;
                    let made = self.call(func, args, 0)?;
                    self.push_made(made)?;
                }
                op::NEWOBJ | op::NEWOBJ_EX => {
                    // NEWOBJ(cls, args) / NEWOBJ_EX(cls, args, kwargs): cls.__new__(cls, *args)
                    if opcode == op::NEWOBJ_EX {
                        self.pop()?;
                    }
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    let made = self.new_object(cls, args)?;
                    self.push_made(made)?;
                }
                op::BUILD => self.build()?,
                op::BINPERSID => {
                    let pid = self.pop()?;
                    let obj = self.persistent_load(pid)?;
                    self.push(obj)?;
                }

                op::NEXT_BUFFER | op::READONLY_BUFFER => {
                    return Err(self.bad("out-of-band buffers (pickle protocol 5) are not supported"))
                }
                _ => return Err(self.bad(format!("unsupported pickle opcode 0x{opcode:02x}"))),
            }
        }
    }

    /// INT / LONG: protocol 0/1 text ints ("I01" and "I00" are True and False).
    fn text_int(&mut self, opcode: u8) -> Result<(), PthError> {
        let line = self.line()?;
        let obj = match line {
            "01" if opcode == op::INT => Obj::Bool(true),
            "00" if opcode == op::INT => Obj::Bool(false),
            _ => {
                let digits = line.strip_suffix('L').unwrap_or(line);
                match digits.parse::<i128>() {
                    Ok(v) => Obj::Int(v),
                    Err(_) if !digits.is_empty() && digits.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit()) => {
                        Obj::BigInt
                    }
                    Err(_) => return Err(self.bad("invalid integer")),
                }
            }
        };
        self.push(obj)
    }

    /// TUPLE1 / TUPLE2 / TUPLE3: a tuple of the top `n` items.
    fn small_tuple(&mut self, n: usize) -> Result<(), PthError> {
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(self.pop()?);
        }
        items.reverse();
        self.push(Obj::Tuple(items))
    }

    /// STACK_GLOBAL: GLOBAL with its module and name taken from the stack.
    fn stack_global(&mut self) -> Result<(), PthError> {
        let name = self.pop()?;
        let module = self.pop()?;
        let (Obj::Str(module), Obj::Str(name)) = (&self.objs[module], &self.objs[name]) else {
            return Err(self.bad("STACK_GLOBAL operands are not strings"));
        };
        let (module, name) = (Rc::clone(module), Rc::clone(name));
        self.global(&module, &name)
    }

    /// BUILD sets an object's state: the data of a PendingTensor (what torch.load does
    /// too, with `Tensor.set_`); otherwise nothing needed here (OrderedDict's `_metadata`,
    /// the state_dict version of each module; attributes of opaque objects), so the state
    /// is dropped.
    fn build(&mut self) -> Result<(), PthError> {
        let state = self.pop()?;
        let inst = self.top()?;
        match self.objs[inst] {
            Obj::PendingTensor => {
                let tensor = match &self.objs[state] {
                    Obj::Tuple(args) => self.rebuild_tensor(1, args),
                    _ => Obj::Unreadable("a tensor with malformed state".into()),
                };
                self.objs[inst] = tensor;
            }
            Obj::Dict(_) | Obj::Other(_) | Obj::Unreadable(_) | Obj::Set(_) => {}
            _ => return Err(self.bad(format!("BUILD on {}", self.describe(inst)))),
        }
        Ok(())
    }

    fn describe(&self, id: Id) -> String {
        describe(&self.objs, id)
    }

    fn pairs(&self, items: Vec<Id>) -> Result<Vec<(Id, Id)>, PthError> {
        if !items.len().is_multiple_of(2) {
            return Err(self.bad("odd number of items for a dict"));
        }
        Ok(items.chunks_exact(2).map(|p| (p[0], p[1])).collect())
    }

    fn extend(&mut self, items: Vec<Id>) -> Result<(), PthError> {
        let target = self.top()?;
        match &mut self.objs[target] {
            Obj::List(v) => {
                v.extend(items);
                Ok(())
            }
            _ => Err(self.bad(format!("APPEND to {}", self.describe(target)))),
        }
    }

    fn set_items(&mut self, pairs: Vec<(Id, Id)>) -> Result<(), PthError> {
        let target = self.top()?;
        match &mut self.objs[target] {
            Obj::Dict(v) => {
                v.extend(pairs);
                Ok(())
            }
            _ => Err(self.bad(format!("SETITEM on {}", self.describe(target)))),
        }
    }

    fn add_items(&mut self, items: Vec<Id>) -> Result<(), PthError> {
        let target = self.top()?;
        match &mut self.objs[target] {
            Obj::Set(v) => {
                v.extend(items);
                Ok(())
            }
            _ => Err(self.bad("ADDITEMS on something that is not a set")),
        }
    }

    /// The items of a call's argument tuple.
    fn args(&self, args: Id) -> Result<&[Id], PthError> {
        match &self.objs[args] {
            Obj::Tuple(v) => Ok(v),
            _ => Err(self.bad("call arguments are not a tuple")),
        }
    }

    /// REDUCE: what calling an allowed global would make. Never copies a container (a
    /// hostile pickle could call the same one many times): `OrderedDict(d)` and the like
    /// return the argument itself, which only reading follows. `depth` bounds the nesting
    /// of `_rebuild_from_type_v2`, which calls another rebuild function.
    fn call(&self, func: Id, args: Id, depth: u32) -> Result<Made, PthError> {
        let Obj::Global(g) = &self.objs[func] else {
            return Err(self.bad(format!("REDUCE calls {}, which is not a function", self.describe(func))));
        };
        let args = self.args(args)?;
        let arg = |i: usize| args.get(i).map(|&a| (a, &self.objs[a]));
        Ok(Made::New(match g.kind {
            Kind::DictClass => match arg(0) {
                // OrderedDict() or OrderedDict(dict) / Counter(dict).
                None => Obj::Dict(Vec::new()),
                Some((a, Obj::Dict(_))) => return Ok(Made::Same(a)),
                Some(_) => Obj::Other(format!("`{}` of something else than a dict", g.name)),
            },
            Kind::RebuildTensor(version) => self.rebuild_tensor(version, args),
            Kind::RebuildParameter => match arg(0) {
                Some((data, Obj::Tensor(_) | Obj::Unreadable(_))) => return Ok(Made::Same(data)),
                _ => return Err(self.bad("nn.Parameter of something that is not a tensor")),
            },
            Kind::RebuildFromType => {
                // (func, type, args, state): func(*args), when type is a plain tensor class.
                let (Some((f, _)), Some((_, t)), Some((a, _))) = (arg(0), arg(1), arg(2)) else {
                    return Err(self.bad("_rebuild_from_type_v2 needs 4 arguments"));
                };
                if depth > 0 {
                    return Err(self.bad("nested _rebuild_from_type_v2"));
                }
                let made = self.call(f, a, depth + 1)?;
                match (t, &made) {
                    (Obj::Global(Global { kind: Kind::TensorClass, .. }), _) => return Ok(made),
                    (_, Made::New(Obj::Tensor(_))) => {
                        Obj::Unreadable("a tensor subclass, which this reader does not support".into())
                    }
                    _ => return Ok(made),
                }
            }
            Kind::RebuildOther(what) => Obj::Unreadable(format!("{what}, which this reader does not support")),
            Kind::Size => match arg(0) {
                Some((a, Obj::Tuple(_))) => return Ok(Made::Same(a)),
                None => Obj::Tuple(Vec::new()),
                _ => return Err(self.bad("torch.Size of something that is not a tuple")),
            },
            // encode(text, 'latin1'): bytes, whose value nothing here needs.
            Kind::Encode => match arg(0) {
                Some((_, Obj::Str(_))) => Obj::Bytes,
                _ => return Err(self.bad("_codecs.encode of something that is not a string")),
            },
            // Sets are never looked into.
            Kind::Set => Obj::Set(Vec::new()),
            Kind::Opaque => Obj::Other(format!("a `{}`", g.name)),
            Kind::TensorClass => match arg(0) {
                Some((a, Obj::Tensor(_) | Obj::Unreadable(_))) => return Ok(Made::Same(a)),
                _ => Obj::Unreadable(format!("a `{}` made without a tensor", g.name)),
            },
            Kind::Storage(..) | Kind::Dtype(_) => {
                return Err(self.bad(format!("`{}` is called directly, which torch.save never does", g.name)))
            }
        }))
    }

    /// NEWOBJ: `cls.__new__(cls, *args)`.
    fn new_object(&self, cls: Id, args: Id) -> Result<Made, PthError> {
        let Obj::Global(g) = &self.objs[cls] else {
            return Err(self.bad(format!("NEWOBJ of {}, which is not a class", self.describe(cls))));
        };
        let args = self.args(args)?;
        let first = args.first().map(|&a| (a, &self.objs[a]));
        Ok(match (g.kind, first) {
            (Kind::DictClass, _) => Made::New(Obj::Dict(Vec::new())),
            (Kind::Set, _) => Made::New(Obj::Set(Vec::new())),
            (Kind::Size, Some((a, Obj::Tuple(_)))) => Made::Same(a),
            // nn.Parameter(data, requires_grad): the data.
            (Kind::TensorClass, Some((a, Obj::Tensor(_) | Obj::Unreadable(_)))) => Made::Same(a),
            (Kind::TensorClass, None) => Made::New(Obj::PendingTensor),
            (Kind::TensorClass, _) => Made::New(Obj::Unreadable(format!("a `{}` made without a tensor", g.name))),
            _ => Made::New(Obj::Other(format!("a `{}`", g.name))),
        })
    }

    /// `('storage', StorageClass, key, location, numel)`, plus `view_metadata` (None or
    /// `(view_key, offset, size)`) in legacy files.
    fn persistent_load(&self, pid: Id) -> Result<Obj, PthError> {
        let bad = || self.bad("a persistent id is not a storage reference");
        let fields = match &self.objs[pid] {
            Obj::Tuple(v) if v.len() == 5 || v.len() == 6 => v,
            _ => return Err(bad()),
        };
        if as_str(&self.objs, fields[0]) != Some("storage") {
            return Err(bad());
        }
        let Obj::Global(Global { kind: Kind::Storage(dtype, elsize), .. }) = self.objs[fields[1]] else {
            return Err(bad());
        };
        let key: Rc<str> = match &self.objs[fields[2]] {
            Obj::Str(s) => s.clone(),
            Obj::Int(i) => i.to_string().into(),
            _ => return Err(bad()),
        };
        let Some(numel) = as_u64(&self.objs, fields[4]) else {
            return Err(self.bad(format!("storage `{key}` has an invalid length")));
        };
        let view = match fields.get(5).map(|&v| &self.objs[v]) {
            None | Some(Obj::None) => None,
            Some(Obj::Tuple(v)) if v.len() == 3 => match (as_u64(&self.objs, v[1]), as_u64(&self.objs, v[2])) {
                (Some(offset), Some(len)) => Some((offset, len)),
                _ => return Err(self.bad(format!("storage `{key}` has an invalid view"))),
            },
            Some(_) => return Err(bad()),
        };
        Ok(Obj::Storage(Box::new(StorageRef { key, dtype, elsize, numel, view })))
    }

    /// `_rebuild_tensor(storage, offset, size, stride)`, v2 adds `requires_grad, hooks[,
    /// metadata]`, v3 adds `dtype[, metadata]` after those. Only the types are checked
    /// here; the numbers are checked where the data is known.
    fn rebuild_tensor(&self, version: u8, args: &[Id]) -> Obj {
        let objs = &self.objs[..];
        let expected: &[usize] = match version {
            1 => &[4],
            2 => &[6, 7],
            _ => &[7, 8],
        };
        if !expected.contains(&args.len()) {
            return Obj::Unreadable("a tensor with malformed rebuild arguments".into());
        }
        let storage_dtype = match &objs[args[0]] {
            Obj::Storage(s) => s.dtype,
            Obj::Unreadable(what) => return Obj::Unreadable(what.clone()),
            _ => return Obj::Unreadable("a tensor whose storage is not a storage".into()),
        };
        let dtype = if version == 3 {
            match &objs[args[6]] {
                Obj::Global(Global { kind: Kind::Dtype(Some(d)), .. }) => *d,
                Obj::Global(Global { kind: Kind::Dtype(None), name }) => {
                    return Obj::Unreadable(format!("a tensor of dtype `{name}`, which this reader does not support"))
                }
                _ => return Obj::Unreadable("a tensor with malformed rebuild arguments".into()),
            }
        } else {
            match storage_dtype {
                Some(d) => d,
                None => {
                    return Obj::Unreadable("a tensor of a dtype this reader does not support (complex128 or quantized)".into())
                }
            }
        };
        let dims = |id: Id| match &objs[id] {
            Obj::Tuple(v) | Obj::List(v) => Some(v.len()),
            _ => None,
        };
        match (as_u64(objs, args[1]), dims(args[2]), dims(args[3])) {
            (Some(offset), Some(n), Some(m)) if n == m && n <= MAX_DIMS => {
                Obj::Tensor(TensorRef { storage: args[0], dtype, offset, shape: args[2], stride: args[3] })
            }
            (_, Some(n), _) if n > MAX_DIMS => Obj::Unreadable(format!("a tensor of {n} dimensions, more than torch allows")),
            _ => Obj::Unreadable("a tensor with a negative, non-integer or mismatched offset, size or stride".into()),
        }
    }
}

/// What a call made: a new object, or one that already exists (`OrderedDict(d)`: `d`).
enum Made {
    New(Obj),
    Same(Id),
}

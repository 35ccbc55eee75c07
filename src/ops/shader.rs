//! What the Rust side of an op assumes about its WGSL file, in one place: the `Params`
//! uniform (written into the shader from the Rust struct), the entry points and the names of their bindings, and the constants
//! (workgroup sizes, limits) that Rust computes dispatch sizes with and writes into the
//! shader, so that each value is written once. tests/shaders.rs checks all of it against
//! the shader as naga parses it.

/// A WGSL file and its interface.
pub struct Shader {
    pub label: &'static str,
    pub wgsl: &'static str,
    /// `const NAME: u32 = value;` lines the engine writes before the file.
    pub constants: &'static [(&'static str, u32)],
    /// The fields of `struct Params`, bound at 0 as `p` (see `ops::params!`).
    pub params: &'static [Field],
    pub entries: &'static [Entry],
}

/// One entry point and the names of the variables it binds at 1, 2, ... in order.
pub struct Entry {
    pub name: &'static str,
    pub bindings: &'static [&'static str],
}

/// One field of a `Params` struct: name, WGSL type, byte offset and size in Rust.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub wgsl_type: &'static str,
    pub offset: usize,
    pub size: usize,
}

/// The WGSL spelling of a `Params` field's Rust type.
pub trait WgslType {
    const NAME: &'static str;
}

impl WgslType for u32 {
    const NAME: &'static str = "u32";
}

impl WgslType for f32 {
    const NAME: &'static str = "f32";
}

/// (height, width) pairs: `.x` is the height.
impl WgslType for [u32; 2] {
    const NAME: &'static str = "vec2<u32>";
}

impl WgslType for [f32; 4] {
    const NAME: &'static str = "vec4<f32>";
}

/// A compiled form of a shader: an entry point, WGSL `override` values, and a prelude
/// (`enable` directives and aliases, which must come before any declaration).
#[derive(Clone, Copy, Debug)]
pub struct Variant<'a> {
    pub entry: &'static str,
    pub overrides: &'a [(&'static str, f64)],
    pub prelude: &'static str,
}

impl Variant<'static> {
    /// The entry point as it is, without overrides or prelude.
    pub const fn entry(entry: &'static str) -> Variant<'static> {
        Variant { entry, overrides: &[], prelude: "" }
    }
}

impl Shader {
    /// The WGSL the engine compiles: the prelude, the constants, `struct Params` from the
    /// Rust struct, then the file.
    pub fn source(&self, prelude: &str) -> String {
        let constants: String = self.constants.iter().map(|(name, value)| format!("const {name}: u32 = {value}u;\n")).collect();
        let fields: String = self.params.iter().map(|f| format!("    {}: {},\n", f.name, f.wgsl_type)).collect();
        format!("{prelude}{constants}struct Params {{\n{fields}}}\n{}", self.wgsl)
    }

    pub fn entry(&self, name: &str) -> &'static Entry {
        let entries: &'static [Entry] = self.entries;
        entries.iter().find(|e| e.name == name).unwrap_or_else(|| panic!("{} has no entry point `{name}`", self.label))
    }

    /// The value of one of the constants.
    pub const fn constant(&self, index: usize) -> u32 {
        self.constants[index].1
    }
}

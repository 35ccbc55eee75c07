//! The interface between each op's Rust module and its WGSL file, checked rather than
//! remembered: every shader (with what the engine writes before it: preludes, constants,
//! and `struct Params` from the Rust struct) parses and validates with naga; WGSL's layout
//! rules put every `Params` field at the offset and size `#[repr(C)]` gives it in Rust; and
//! each entry point binds exactly the variables the Rust side names, at the binding
//! numbers it gives them.

use inception::ops::{Field, Shader, SHADERS};
use naga::valid::{Capabilities, ValidationFlags, Validator};

/// The preludes the engine compiles a shader with (conv2d's weight types).
fn preludes(shader: &Shader) -> Vec<&'static str> {
    match shader.label {
        "conv2d" => vec!["alias Weights4 = vec4<f32>;\n", "enable f16;\nalias Weights4 = vec4<f16>;\n"],
        _ => vec![""],
    }
}

fn parse(shader: &Shader, prelude: &str) -> (naga::Module, naga::valid::ModuleInfo) {
    let source = shader.source(prelude);
    let module = naga::front::wgsl::parse_str(&source)
        .unwrap_or_else(|e| panic!("{} does not parse:\n{}", shader.label, e.emit_to_string(&source)));
    let info = Validator::new(ValidationFlags::all(), Capabilities::all())
        .validate(&module)
        .unwrap_or_else(|e| panic!("{} does not validate: {e:?}", shader.label));
    (module, info)
}

/// The fields of the WGSL `struct Params`, as the shader lays them out.
fn wgsl_params(module: &naga::Module) -> Vec<(String, usize, usize)> {
    let (_, ty) = module.types.iter().find(|(_, t)| t.name.as_deref() == Some("Params")).expect("a struct Params");
    let naga::TypeInner::Struct { members, .. } = &ty.inner else { panic!("Params is not a struct") };
    members
        .iter()
        .map(|m| {
            let size = module.types[m.ty].inner.size(module.to_ctx()) as usize;
            (m.name.clone().unwrap_or_default(), m.offset as usize, size)
        })
        .collect()
}

fn rust_params(fields: &[Field]) -> Vec<(String, usize, usize)> {
    fields.iter().map(|f| (f.name.to_string(), f.offset, f.size)).collect()
}

/// (binding, name) of every resource an entry point uses, in binding order.
fn wgsl_bindings(module: &naga::Module, info: &naga::valid::ModuleInfo, entry: &str) -> Vec<(u32, String)> {
    let index = module.entry_points.iter().position(|e| e.name == entry).unwrap_or_else(|| panic!("no entry point {entry}"));
    let uses = info.get_entry_point(index);
    let mut bindings: Vec<(u32, String)> = module
        .global_variables
        .iter()
        .filter(|(handle, _)| !uses[*handle].is_empty())
        .filter_map(|(_, var)| {
            let b = var.binding.as_ref()?;
            assert_eq!(b.group, 0, "{entry}: {:?} is not in group 0", var.name);
            Some((b.binding, var.name.clone().unwrap_or_default()))
        })
        .collect();
    bindings.sort();
    bindings
}

#[test]
fn every_shader_matches_its_rust_interface() {
    for shader in SHADERS {
        for prelude in preludes(shader) {
            let (module, info) = parse(shader, prelude);
            assert_eq!(wgsl_params(&module), rust_params(shader.params), "{}: WGSL Params vs the Rust struct", shader.label);
            let entries: Vec<&str> = module.entry_points.iter().map(|e| e.name.as_str()).collect();
            let declared: Vec<&str> = shader.entries.iter().map(|e| e.name).collect();
            assert_eq!(entries, declared, "{}: entry points", shader.label);
            for entry in shader.entries {
                let want: Vec<(u32, String)> = std::iter::once("p")
                    .chain(entry.bindings.iter().copied())
                    .enumerate()
                    .map(|(i, name)| (i as u32, name.to_string()))
                    .collect();
                assert_eq!(wgsl_bindings(&module, &info, entry.name), want, "{} {}: bindings", shader.label, entry.name);
            }
        }
    }
}

/// The check itself fails where the two sides differ: a field added in Rust where WGSL's
/// alignment puts it elsewhere (a vec4 after one u32: offset 4 in Rust, 16 in WGSL), a
/// struct also written by hand in the WGSL file, or a binding renamed on one side.
#[test]
fn the_interface_check_sees_the_sides_differ() {
    let lrn = SHADERS.iter().find(|s| s.label == "lrn").unwrap();
    let mut fields = lrn.params.to_vec();
    fields.insert(1, Field { name: "extra", wgsl_type: "vec4<f32>", offset: 4, size: 16 });
    let with_field = Shader { params: fields.leak(), ..**lrn };
    let (module, _) = parse(&with_field, "");
    assert_ne!(wgsl_params(&module), rust_params(with_field.params), "a vec4 at offset 4 passed");
    let hand_written = Shader { wgsl: format!("struct Params {{ n: u32 }}\n{}", lrn.wgsl).leak(), ..**lrn };
    let source = hand_written.source("");
    assert!(naga::front::wgsl::parse_str(&source).is_err(), "a second struct Params passed");
    let renamed = Shader { wgsl: lrn.wgsl.replace("output", "out").leak(), ..**lrn };
    let (module, info) = parse(&renamed, "");
    assert_ne!(wgsl_bindings(&module, &info, "main")[2].1, lrn.entries[0].bindings[1], "a binding renamed in WGSL only");
}

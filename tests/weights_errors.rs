//! Bad weights files give specific errors that name the tensor, never a panic.

use inception::error::WeightsError;
use inception::{synthetic, Model, Variant};

type TensorList = Vec<(String, Vec<usize>, String)>;

/// What a real torchvision state_dict holds, from the golden file's tensor list.
fn torchvision_tensors() -> TensorList {
    let path = format!("{}/tests/golden/torchvision.json", env!("CARGO_MANIFEST_DIR"));
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let shape = t[1].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
            (t[0].as_str().unwrap().to_owned(), shape, t[2].as_str().unwrap().to_owned())
        })
        .collect()
}

fn load(tensors: &TensorList) -> Result<Model, WeightsError> {
    Model::from_safetensors(Variant::Torchvision, &synthetic::safetensors_file(tensors))
}

fn error(result: Result<Model, WeightsError>) -> WeightsError {
    match result {
        Ok(_) => panic!("a bad file loaded"),
        Err(e) => {
            println!("{e}");
            e
        }
    }
}

#[test]
fn a_complete_file_loads() {
    let model = load(&torchvision_tensors()).unwrap();
    assert_eq!(model.graph.num_classes(), 1000);
}

#[test]
fn truncated_file_names_the_cut_tensor() {
    let file = synthetic::safetensors_file(&torchvision_tensors());
    let cut = &file[..file.len() * 6 / 10];
    match error(Model::from_safetensors(Variant::Torchvision, cut)) {
        WeightsError::Truncated { tensor, needed_bytes, file_bytes } => {
            assert!(!tensor.is_empty() && tensor != "(header)");
            assert!(needed_bytes > file_bytes && file_bytes == cut.len() as u64);
        }
        e => panic!("wrong error: {e:?}"),
    }
    // cut inside the header, and nearly empty
    assert!(matches!(error(Model::from_safetensors(Variant::Torchvision, &file[..100])), WeightsError::Truncated { .. }));
    assert!(matches!(error(Model::from_safetensors(Variant::Torchvision, &file[..5])), WeightsError::Corrupt(_)));
}

#[test]
fn wrong_shape_names_tensor_and_both_shapes() {
    let mut tensors = torchvision_tensors();
    let conv = tensors.iter_mut().find(|t| t.0 == "inception4b.branch3.1.conv.weight").unwrap();
    conv.1 = vec![64, 24, 5, 5];
    let e = error(load(&tensors));
    assert_eq!(
        e,
        WeightsError::Shape {
            tensor: "inception4b.branch3.1.conv.weight".into(),
            expected: vec![64, 24, 3, 3],
            found: vec![64, 24, 5, 5]
        }
    );
    assert!(e.to_string().contains("[64, 24, 3, 3]") && e.to_string().contains("[64, 24, 5, 5]"));
}

#[test]
fn missing_tensor_is_named() {
    let mut tensors = torchvision_tensors();
    tensors.retain(|t| t.0 != "inception4c.branch2.1.bn.running_var" && t.0 != "fc.bias");
    match error(load(&tensors)) {
        WeightsError::Missing { tensor, expected, more } => {
            assert_eq!((tensor.as_str(), expected, more), ("inception4c.branch2.1.bn.running_var", vec![256], 1));
        }
        e => panic!("wrong error: {e:?}"),
    }
}

#[test]
fn unexpected_tensor_is_named() {
    let mut tensors = torchvision_tensors();
    tensors.push(("inception4c.branch5.conv.weight".into(), vec![8, 8, 1, 1], "float32".into()));
    assert_eq!(
        error(load(&tensors)),
        WeightsError::Unexpected { tensor: "inception4c.branch5.conv.weight".into(), shape: vec![8, 8, 1, 1] }
    );
}

#[test]
fn wrong_variant_is_recognised() {
    // BVLC's tensor names, loaded as torchvision and as the tutorial's network
    let bvlc: TensorList =
        Variant::Bvlc.graph(1000).parameters().into_iter().map(|(name, shape)| (name, shape, "float32".to_owned())).collect();
    let file = synthetic::safetensors_file(&bvlc);
    for asked in [Variant::Torchvision, Variant::Seed] {
        let e = error(Model::from_safetensors(asked, &file));
        assert_eq!(e, WeightsError::WrongVariant { expected: asked.name(), found: Variant::Bvlc.name() });
        assert!(e.to_string().contains("--model bvlc"));
    }
    // torchvision's file loaded as the tutorial's
    let e = error(Model::from_safetensors(Variant::Seed, &synthetic::safetensors_file(&torchvision_tensors())));
    assert_eq!(e, WeightsError::WrongVariant { expected: Variant::Seed.name(), found: Variant::Torchvision.name() });
}

#[test]
fn integer_tensor_where_floats_belong() {
    let mut tensors = torchvision_tensors();
    tensors.iter_mut().find(|t| t.0 == "conv1.conv.weight").unwrap().2 = "int64".into();
    assert_eq!(error(load(&tensors)), WeightsError::Dtype { tensor: "conv1.conv.weight".into(), found: "I64".into() });
}

#[test]
fn not_a_safetensors_file() {
    let jpeg = std::fs::read(format!("{}/../shared/images/pug.jpg", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|_| b"\xff\xd8\xff\xe0 not really a jpeg, but not safetensors either".repeat(10));
    assert!(matches!(
        error(Model::from_safetensors(Variant::Bvlc, &jpeg)),
        WeightsError::Corrupt(_) | WeightsError::Truncated { .. }
    ));
    let json_garbage = [&16u64.to_le_bytes()[..], b"{not json at all}"].concat();
    assert!(matches!(error(Model::from_safetensors(Variant::Bvlc, &json_garbage)), WeightsError::Corrupt(_)));
}

#[test]
fn nan_weights_are_refused() {
    use safetensors::{tensor::TensorView, Dtype};
    let tensors = torchvision_tensors();
    let file = synthetic::safetensors_file(&tensors);
    let parsed = safetensors::SafeTensors::deserialize(&file).unwrap();
    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> =
        parsed.tensors().into_iter().map(|(n, t)| (n, t.dtype(), t.shape().to_vec(), t.data().to_vec())).collect();
    let fc = owned.iter_mut().find(|t| t.0 == "fc.weight").unwrap();
    fc.3[8..12].copy_from_slice(&f32::NAN.to_le_bytes());
    let views: Vec<(&str, TensorView)> =
        owned.iter().map(|(n, d, s, b)| (n.as_str(), TensorView::new(*d, s.clone(), b).unwrap())).collect();
    let bad = safetensors::serialize(views, None).unwrap();
    match error(Model::from_safetensors(Variant::Torchvision, &bad)) {
        WeightsError::BadValue { tensor, .. } => assert_eq!(tensor, "fc.weight"),
        e => panic!("wrong error: {e:?}"),
    }
}

type OwnedTensors = Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)>;

/// `file` with its tensors changed by `edit`.
fn rewritten(file: &[u8], edit: impl FnOnce(&mut OwnedTensors)) -> Vec<u8> {
    use safetensors::tensor::TensorView;
    let parsed = safetensors::SafeTensors::deserialize(file).unwrap();
    let mut owned: OwnedTensors =
        parsed.tensors().into_iter().map(|(n, t)| (n, t.dtype(), t.shape().to_vec(), t.data().to_vec())).collect();
    edit(&mut owned);
    let views: Vec<(&str, TensorView)> =
        owned.iter().map(|(n, d, s, b)| (n.as_str(), TensorView::new(*d, s.clone(), b).unwrap())).collect();
    safetensors::serialize(views, None).unwrap()
}

fn bvlc_int8() -> (Model, Vec<u8>) {
    let bvlc: TensorList =
        Variant::Bvlc.graph(1000).parameters().into_iter().map(|(name, shape)| (name, shape, "float32".to_owned())).collect();
    let file = synthetic::safetensors_file(&bvlc);
    let original = Model::from_safetensors(Variant::Bvlc, &file).unwrap();
    let int8 = inception::convert::convert(&file, None, inception::convert::Storage::Int8, Default::default()).unwrap();
    (original, int8.bytes)
}

/// An int8 file loads with every weight within half a quantization step (max|w| / 127 of
/// its output channel) of the float32 original, and biases exact.
#[test]
fn int8_weights_expand_within_half_a_step() {
    let (original, bytes) = bvlc_int8();
    let expanded = Model::from_safetensors(Variant::Bvlc, &bytes).unwrap();
    let mut checked = 0;
    for (a, b) in original.params.iter().zip(&expanded.params) {
        let (Some(a), Some(b)) = (a, b) else { continue };
        let outputs = a.bias.len();
        for (row_a, row_b) in a.weight.chunks_exact(a.weight.len() / outputs).zip(b.weight.chunks_exact(a.weight.len() / outputs))
        {
            let step = row_a.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
            let worst = row_a.iter().zip(row_b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
            assert!(worst <= step * 0.5001 + 1e-12, "off by {worst}, step {step}");
        }
        assert_eq!(a.bias, b.bias);
        checked += 1;
    }
    assert_eq!(checked, 58); // 57 convolutions and the classifier
}

#[test]
fn int8_tensor_without_usable_scales_is_named() {
    use safetensors::Dtype;
    let (_, bytes) = bvlc_int8();
    let tensor = "conv1/7x7_s2.weight";
    let scales = format!("{tensor}.int8_scale");
    let without = rewritten(&bytes, |t| t.retain(|t| t.0 != scales));
    let e = error(Model::from_safetensors(Variant::Bvlc, &without));
    assert!(matches!(&e, WeightsError::Int8 { tensor: t, detail } if t == tensor && detail.contains("no scales")), "{e:?}");
    let short = rewritten(&bytes, |t| {
        let s = t.iter_mut().find(|t| t.0 == scales).unwrap();
        s.2 = vec![32];
        s.3.truncate(32 * 4);
    });
    let e = error(Model::from_safetensors(Variant::Bvlc, &short));
    assert!(matches!(&e, WeightsError::Int8 { tensor: t, detail } if t == tensor && detail.contains("[64]")), "{e:?}");
    // scales whose tensor is float32: the scales name it
    let orphan = rewritten(&bytes, |t| {
        let w = t.iter_mut().find(|t| t.0 == tensor).unwrap();
        w.1 = Dtype::F32;
        w.3 = w.3.iter().flat_map(|q| (*q as i8 as f32).to_le_bytes()).collect();
    });
    let e = error(Model::from_safetensors(Variant::Bvlc, &orphan));
    assert!(matches!(&e, WeightsError::Int8 { tensor: t, .. } if t == tensor), "{e:?}");
    // an int8 scalar with an empty scale list (it once panicked)
    let scalar = rewritten(&bytes, |t| {
        let w = t.iter_mut().find(|t| t.0 == tensor).unwrap();
        (w.2, w.3) = (vec![], vec![3]);
        let s = t.iter_mut().find(|t| t.0 == scales).unwrap();
        (s.2, s.3) = (vec![0], vec![]);
    });
    let e = error(Model::from_safetensors(Variant::Bvlc, &scalar));
    assert!(matches!(&e, WeightsError::Int8 { tensor: t, detail } if t == tensor && detail.contains("scalar")), "{e:?}");
}

/// A calibrated input range (`convert --calibrate`) is read where it belongs; one of the
/// wrong shape or type, or one that is no range, is named.
#[test]
fn input_ranges_are_read_and_bad_ones_named() {
    let weight = torchvision_tensors()[0].0.clone();
    let range = format!("{weight}.input_range");
    let with = |shape: Vec<usize>, dtype: &str| {
        let mut tensors = torchvision_tensors();
        tensors.push((range.clone(), shape, dtype.to_owned()));
        load(&tensors)
    };
    // synthetic values are uniform in -1..1: a [2] holds some pair, a range or not
    let pair = inception::synthetic::tensor(&range, &[2]);
    match with(vec![2], "float32") {
        Ok(model) if pair[0] <= pair[1] => {
            let params = model.params.iter().flatten().next().unwrap();
            assert_eq!(params.input_range, Some((pair[0], pair[1])));
        }
        Ok(_) => panic!("{pair:?} is not a range, and loaded"),
        Err(e) => assert!(pair[0] > pair[1] && e.to_string().contains("min <= max"), "{e}"),
    }
    for (shape, dtype) in [(vec![3], "float32"), (vec![2], "int64")] {
        let e = error(with(shape.clone(), dtype)).to_string();
        assert!(e.contains(&range) && e.contains("expected a float [min, max]"), "{shape:?} {dtype}: {e}");
    }
}

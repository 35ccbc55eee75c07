//! Whole networks against PyTorch: torchvision's googlenet and inception_v3 and the
//! tutorial's GoogLeNet, with deterministic weights regenerated here from tensor names
//! (tools/golden.py made the golden logits from the same weights), also loaded from
//! PyTorch checkpoints; and the BVLC graph against the CPU twins.

mod common;

use common::{diff, golden_doc, gpu, top_classes, torch_checkpoint};
use inception::backend::{Backend, Engine};
use inception::network::Options;
use inception::tensors::Precision;

use inception::{synthetic, CpuOptions, Model, Network, Variant};
use serde_json::Value;

struct Golden {
    tensors: Vec<(String, Vec<usize>, String)>,
    logits: Vec<f32>,
    top5: Vec<usize>,
    /// The synthetic image's side.
    side: u32,
}

fn golden(variant: &str) -> Golden {
    let doc: Value = golden_doc(variant);
    let usizes = |v: &Value| v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect::<Vec<_>>();
    Golden {
        tensors: doc["tensors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t[0].as_str().unwrap().to_owned(), usizes(&t[1]), t[2].as_str().unwrap().to_owned()))
            .collect(),
        logits: doc["logits"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect(),
        top5: usizes(&doc["top5"]),
        side: doc["image"]["width"].as_u64().unwrap() as u32,
    }
}

/// Whole-network tolerance on logits: |diff| <= 1e-4 * (max - min of the golden logits),
/// about 3e-4 here; the measured difference is about 1e-6.
const TOLERANCE_OF_RANGE: f32 = 1e-4;

fn check_against_pytorch(variant: Variant, backend: Backend) {
    let g = golden(variant.name());
    // The file holds everything the PyTorch state_dict holds: auxiliary heads and
    // num_batches_tracked counters included, which the loader must accept and ignore.
    let file = synthetic::safetensors_file(&g.tensors);
    let model = Model::from_safetensors(variant, &file).unwrap();
    check_on(backend, &g, model, &format!("{variant} on the {}", backend.name()), Options::default(), TOLERANCE_OF_RANGE);
}

/// Runs `model` on the golden image and compares with PyTorch's logits: the same top-5,
/// and every logit within `tolerance` times the logits' range.
fn check_logits(g: &Golden, model: Model, what: &str, options: Options, tolerance: f32) {
    check_on(Backend::Gpu, g, model, what, options, tolerance)
}

fn check_on(backend: Backend, g: &Golden, model: Model, what: &str, options: Options, tolerance: f32) {
    assert_eq!(model.graph.num_classes() as usize, g.logits.len());
    let mut net = Engine::new(backend, Some(gpu()), &model, options, CpuOptions::default()).unwrap();
    let out = pollster::block_on(net.classify(&synthetic::image(g.side, g.side), g.side, g.side, true)).unwrap();
    let logits = out.logits.unwrap();
    let range = g.logits.iter().cloned().fold(f32::MIN, f32::max) - g.logits.iter().cloned().fold(f32::MAX, f32::min);
    let d = diff(&logits, &g.logits);
    println!(
        "{what}: top5 {:?}, max abs logit diff {:.2e}, max rel {:.2e} (logit range {range:.3}, allowed {:.2e})",
        top_classes(&out.top),
        d.max_abs,
        d.max_rel,
        tolerance * range
    );
    assert_eq!(top_classes(&out.top), g.top5, "{what}: top-5");
    assert!(d.max_abs <= tolerance * range, "{what}: logit {} off by {}", d.worst, d.max_abs);
}

#[test]
fn torchvision_googlenet_matches_pytorch() {
    check_against_pytorch(Variant::Torchvision, Backend::Gpu);
}

#[test]
fn tutorial_googlenet_with_10_classes_matches_pytorch() {
    check_against_pytorch(Variant::Seed, Backend::Gpu);
}

#[test]
fn inception_v3_matches_pytorch() {
    check_against_pytorch(Variant::InceptionV3, Backend::Gpu);
}

/// The CPU backend on every model, to the same tolerance, and from a torch.save checkpoint.
#[test]
fn cpu_backend_matches_pytorch_on_every_model() {
    for variant in [Variant::Torchvision, Variant::Seed, Variant::InceptionV3] {
        check_against_pytorch(variant, Backend::Cpu);
    }
    let model = Model::load(&torch_checkpoint("seed"), None).unwrap();
    check_on(Backend::Cpu, &golden("seed"), model, "seed .pth on the cpu", Options::default(), TOLERANCE_OF_RANGE);
}

/// The tutorial's network saved by `torch.save(model.state_dict())` (10 classes): the
/// checkpoint loads without being told which network it is, and gives PyTorch's logits.
#[test]
fn tutorial_checkpoint_from_torch_save_matches_pytorch() {
    let model = Model::load(&torch_checkpoint("seed"), None).unwrap();
    assert_eq!(model.variant, Variant::Seed);
    check_logits(&golden("seed"), model, "seed .pth", Options::default(), TOLERANCE_OF_RANGE);
}

/// Float16 weights (float32 sums), which the page uses where the adapter has shader-f16,
/// against PyTorch's float32 logits: the same top-5, logits within 2e-3 of their range
/// (rounding the weights to float16 moves them by about 5e-4 of it).
#[test]
fn float16_weights_keep_pytorchs_top5() {
    if !gpu().has_f16() {
        println!("SKIPPED float16_weights_keep_pytorchs_top5: this adapter has no shader-f16");
        return;
    }
    let options = Options { precision: Precision::F16, ..Options::default() };
    for variant in [Variant::Torchvision, Variant::InceptionV3] {
        let g = golden(variant.name());
        let model = Model::from_safetensors(variant, &synthetic::safetensors_file(&g.tensors)).unwrap();
        check_logits(&g, model, &format!("{variant} float16"), options, 2e-3);
    }
}

/// The paper's graph (LRN, ceil-mode pools, true 5x5) with deterministic weights, GPU
/// against the CPU twins chained by `reference::forward`, every layer compared. Needs no
/// weights file; the real-weights tests cover the same graph against Caffe's outputs.
#[test]
fn bvlc_graph_matches_cpu_twins_layer_by_layer() {
    let tensors: Vec<_> =
        Variant::Bvlc.graph(1000).parameters().into_iter().map(|(name, shape)| (name, shape, "float32".to_owned())).collect();
    let model = Model::from_safetensors(Variant::Bvlc, &synthetic::safetensors_file(&tensors)).unwrap();
    let options = Options { reuse_memory: false, ..Options::default() };
    let mut net = Network::with_options(gpu(), &model, options).unwrap();
    let rgba = synthetic::image(224, 224);
    pollster::block_on(net.classify(&rgba, 224, 224, false)).unwrap();
    let input = inception::ops::preprocess::cpu(&model.graph.input_spec, &rgba, 224, 224);
    let want = inception::reference::forward(&model, &input);
    for node in &model.graph.nodes {
        let got = pollster::block_on(net.read_tensor(gpu(), &node.name)).unwrap();
        let w = &want[node.output];
        let scale = w.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-3);
        let d = diff(&got, w);
        assert!(d.max_abs <= 1e-4 * scale, "{}: off by {} (largest value {scale})", node.name, d.max_abs);
    }
}

/// Activation memory stays within twice the largest pair of tensors live at once: a
/// layer's input and output, or, for a Winograd convolution, its two intermediate buffers
/// (the least any schedule needs is one such pair).
#[test]
fn activation_memory_is_at_most_twice_the_largest_live_pair() {
    use inception::graph::Op;
    use inception::ops::winograd;
    for variant in [Variant::Bvlc, Variant::Torchvision, Variant::InceptionV3] {
        let graph = variant.graph(1000);
        let tensors: Vec<_> = graph.parameters().into_iter().map(|(n, s)| (n, s, "float32".to_owned())).collect();
        let model = Model::from_safetensors(variant, &synthetic::safetensors_file(&tensors)).unwrap();
        let net = Network::new(gpu(), &model).unwrap();
        let bytes = |t: usize| 4 * graph.shapes[t].elements() as u64;
        let pair = |n: &inception::graph::Node| match &n.op {
            Op::Conv2d { spec, .. } if winograd::applies(spec) => winograd::Size::ALL
                .into_iter()
                .map(|size| winograd::scratch_bytes(graph.shapes[n.inputs[0]], spec, size))
                .map(|(v, m)| v + m)
                .fold(bytes(n.inputs[0]) + bytes(n.output), u64::max),
            _ => bytes(n.inputs[0]) + bytes(n.output),
        };
        let largest_pair = graph.nodes.iter().map(pair).max().unwrap();
        println!("{variant}: {} activation bytes, largest pair {largest_pair}", net.stats.activation_bytes);
        assert!(net.stats.activation_bytes <= 2 * largest_pair);
    }
}

/// The reduce convolutions of each Inception block, which read the same tensor, run as one
/// GEMM: 9 pairs in GoogLeNet, 10 in Inception v3 (blocks A, C, D, E; B has one).
#[test]
fn sibling_1x1_convolutions_run_as_one_layer() {
    for (variant, pairs) in [(Variant::Bvlc, 9), (Variant::Torchvision, 9), (Variant::InceptionV3, 10)] {
        let tensors: Vec<_> = variant.graph(1000).parameters().into_iter().map(|(n, s)| (n, s, "float32".to_owned())).collect();
        let model = Model::from_safetensors(variant, &synthetic::safetensors_file(&tensors)).unwrap();
        let net = Network::new(gpu(), &model).unwrap();
        let fused: Vec<&str> = net.layers().iter().map(|l| l.label.as_str()).filter(|l| l.contains(" + ")).collect();
        println!("{variant}: {} fused layers, e.g. {}", fused.len(), fused[0]);
        assert_eq!(fused.len(), pairs, "{variant}: {fused:?}");
    }
}

/// Two passes in flight (what the page does with camera frames on GPUs): the second image
/// is uploaded and submitted before the first result is read, and each result is its own.
#[test]
fn two_passes_in_flight_each_give_their_own_result() {
    let g = golden("torchvision");
    let model = Model::from_safetensors(Variant::Torchvision, &synthetic::safetensors_file(&g.tensors)).unwrap();
    let mut net = Network::new(gpu(), &model).unwrap();
    let noise = synthetic::image(224, 224);
    let grey = vec![128u8; noise.len()];
    // each alone first
    let alone: Vec<_> = [&noise, &grey]
        .iter()
        .map(|img| top_classes(&pollster::block_on(net.classify(img, 224, 224, false)).unwrap().top))
        .collect();
    assert_ne!(alone[0], alone[1], "the two images must be told apart");
    net.set_image(&noise, 224, 224).unwrap();
    let first = net.submit(true).unwrap();
    net.set_image(&grey, 224, 224).unwrap();
    let second = net.submit(false).unwrap();
    let a = pollster::block_on(net.read_output(first)).unwrap();
    let b = pollster::block_on(net.read_output(second)).unwrap();
    assert_eq!(top_classes(&a.top), alone[0]);
    assert_eq!(top_classes(&b.top), alone[1]);
    assert!(diff(&a.logits.unwrap(), &g.logits).max_abs <= TOLERANCE_OF_RANGE * 3.4);
}

/// Whatever kernels the autotuner picks, the network computes the same logits.
#[test]
fn autotuned_kernels_give_the_same_logits() {
    if !gpu().has_timestamps() {
        println!("SKIPPED autotuned_kernels_give_the_same_logits: this adapter has no timestamp queries");
        return;
    }
    let g = golden("torchvision");
    let model = Model::from_safetensors(Variant::Torchvision, &synthetic::safetensors_file(&g.tensors)).unwrap();
    let mut net = Network::new(gpu(), &model).unwrap();
    net.set_image(&synthetic::image(g.side, g.side), g.side, g.side).unwrap();
    let chosen = pollster::block_on(net.autotune()).unwrap();
    net.release_unused_kernels();
    let logits = pollster::block_on(net.run(true)).unwrap().logits.unwrap();
    let d = diff(&logits, &g.logits);
    println!("kernels {}: max abs logit diff {:.2e}", chosen.summary(), d.max_abs);
    assert!(d.max_abs <= 1e-4 * 3.3, "off by {}", d.max_abs);
}

/// A saved kernel choice comes back as it was saved, and one made for other layers (another
/// network, or the same kernels in another order) is refused rather than misapplied.
#[test]
fn saved_kernel_choices_are_keyed_by_layer_shape() {
    use inception::network::{ConvKernel, KernelChoice};
    let load = |variant: Variant| {
        let tensors: Vec<_> = variant.graph(1000).parameters().into_iter().map(|(n, s)| (n, s, "float32".to_owned())).collect();
        Network::new(gpu(), &Model::from_safetensors(variant, &synthetic::safetensors_file(&tensors)).unwrap()).unwrap()
    };
    let (mut googlenet, v3) = (load(Variant::Torchvision), load(Variant::InceptionV3));
    googlenet.set_conv_kernel("4x16".parse::<ConvKernel>().unwrap());
    let saved = googlenet.kernel_choice().to_json();
    let restored = KernelChoice::from_json(&saved).unwrap();
    assert_eq!(restored, googlenet.kernel_choice());
    googlenet.set_conv_kernel("4x8".parse::<ConvKernel>().unwrap());
    googlenet.set_kernel_choice(&restored).unwrap();
    assert_eq!(googlenet.kernel_choice(), restored);
    let foreign = googlenet.set_kernel_choice(&v3.kernel_choice()).unwrap_err();
    assert!(foreign.to_string().contains("another network"), "{foreign}");
    let mut reordered = restored.clone();
    reordered.0.swap(0, 1);
    assert!(googlenet.set_kernel_choice(&reordered).is_err());
    assert!(KernelChoice::from_json(r#"["4x8", "4x16"]"#).is_err(), "the old format, a list of names, is refused");
}

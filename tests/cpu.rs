//! The CPU backend's fast kernels against the plain CPU twins (the same reference the
//! shaders are tested against), on random inputs with the edges: tails of tiles, padding,
//! strides, asymmetric windows, channel slices; every micro-kernel this machine has; and
//! the whole network on one thread and on several.

mod common;

use common::cases::conv;
use common::{assert_all_close, diff, random, synthetic_model};
use inception::cpu::kernels::{self, MicroKernel};
use inception::cpu::winograd::Winograd;
use inception::cpu::{conv2d as fast_conv, linear as fast_linear, lrn as fast_lrn, pool as fast_pool};
use inception::cpu::{CpuCall, CpuLayer};
use inception::graph::{Conv2dSpec, InputSpec, LinearSpec, LrnSpec, PoolSpec, Shape, Tensor, TensorMut};
use inception::ops::conv2d;
use inception::ops::linear;
use inception::ops::lrn;
use inception::ops::pool;
use inception::ops::preprocess;

use inception::weights::LayerParams;
use inception::{synthetic, CpuNetwork, CpuOptions, Variant};

/// A sentinel-filled output tensor, so that writes outside the slice show up.
fn sentinel(n: usize) -> Vec<f32> {
    (0..n).map(|i| -1000.0 - i as f32).collect()
}

fn run(layer: &dyn CpuLayer, input_shape: Shape, input: &[f32], in_offset: u32, output: &mut [f32], out_offset: u32) {
    let call = CpuCall {
        input_shape,
        input: Tensor { data: input, c_offset: in_offset },
        output: TensorMut { data: output, c_offset: out_offset },
    };
    layer.run(call);
}

/// `spec` on `input` (channels `in_slice.1..` of a tensor of `in_slice.0`) into channels
/// `out_slice.1..` of a tensor of `out_slice.0`, for every micro-kernel.
fn conv_case(input: Shape, spec: Conv2dSpec, in_slice: (u32, u32), out_slice: (u32, u32)) {
    let out = spec.output_shape(input);
    let name = format!("conv {spec:?} on {input}");
    let x = random(&format!("{name} x"), (in_slice.0 * input.pixels()) as usize);
    let k = (input.c * spec.window.positions()) as usize;
    let params = LayerParams {
        weight: random(&format!("{name} w"), spec.out_c as usize * k),
        bias: random(&name, spec.out_c as usize),
        input_range: None,
    };
    let mut want = sentinel((out_slice.0 * out.pixels()) as usize);
    let x_cpu = Tensor { data: &x, c_offset: in_slice.1 };
    conv2d::cpu(&spec, input, x_cpu, &params.weight, &params.bias, TensorMut { data: &mut want, c_offset: out_slice.1 });
    // f32 sums of K terms: errors grow with the layer's values (K is 2700 in one case)
    let scale = want.iter().filter(|v| **v > -1000.0).fold(1.0f32, |m, v| m.max(v.abs()));
    for kernel in kernels::available() {
        let layer = fast_conv::Conv2d::new(spec, input, &params, kernel);
        let mut got = sentinel(want.len());
        run(&layer, input, &x, in_slice.1, &mut got, out_slice.1);
        assert_all_close(&format!("{name}, {kernel:?}"), &got, &want, 2e-6 * scale.max(5.0), 1e-4);
        // Winograd F(4x4, 3x3) for 3x3 stride 1 at any plane size (the network uses it from
        // 16 tiles up); its transforms have constants up to 8, so its error grows with the
        // layer's values faster: 1e-5 of the largest output
        if spec.window.kernel == (3, 3) && spec.window.stride == (1, 1) {
            let layer = Winograd::new(spec, input, &params, kernel);
            let mut got = sentinel(want.len());
            run(&layer, input, &x, in_slice.1, &mut got, out_slice.1);
            assert_all_close(&format!("{name}, Winograd, {kernel:?}"), &got, &want, 1e-5 * scale, 1e-4);
        }
    }
}

/// The registry holds what this CPU has, in the order of speed; a tier it lacks is named
/// (so that what was not run is seen), and `INCEPTION_CPU_KERNELS` forces a tier or says
/// why it cannot.
#[test]
fn the_registry_holds_what_this_cpu_runs_fastest_first() {
    let here: Vec<MicroKernel> = kernels::available();
    println!("micro-kernels here: {here:?}");
    for kernel in kernels::compiled().iter().filter(|k| !k.runs_here()) {
        println!("SKIPPED micro-kernel {kernel:?}: not run, this CPU lacks its instruction set");
    }
    assert_eq!(here.last().unwrap().name, "portable");
    #[cfg(target_arch = "x86_64")]
    {
        let expected = if std::is_x86_feature_detected!("avx512f") {
            "avx512"
        } else if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            "avx2+fma"
        } else {
            "portable"
        };
        assert_eq!(here[0].name, expected);
    }
    for kernel in &here {
        assert_eq!(kernels::by_name(kernel.name).unwrap().name, kernel.name);
    }
    let e = kernels::by_name("avx1024").unwrap_err().to_string();
    assert!(e.contains("INCEPTION_CPU_KERNELS=avx1024") && e.contains("portable"), "{e}");
}

#[test]
fn conv2d_matches_cpu_twin() {
    let mut cases = common::cases::conv_cases();
    cases.extend([
        (Shape::new(300, 5, 5), conv(7, (1, 1), 1, (0, 0), true)), // K over one KC block
        (Shape::new(40, 20, 20), conv(70, (1, 1), 1, (0, 0), true)), // several pixel blocks
        (Shape::new(40, 9, 9), conv(13, (3, 3), 1, (1, 1), true)), // K = 360: two KC blocks
        // Winograd: partial tiles, no padding, more than LANES tiles a row, C over KC
        (Shape::new(3, 5, 5), conv(4, (3, 3), 1, (0, 0), true)),
        (Shape::new(7, 38, 21), conv(9, (3, 3), 1, (1, 1), false)),
        (Shape::new(300, 17, 17), conv(20, (3, 3), 1, (1, 1), true)),
    ]);
    for (input, spec) in cases {
        conv_case(input, spec, (input.c, 0), (spec.out_c, 0));
    }
}

#[test]
fn conv2d_reads_and_writes_channel_slices() {
    conv_case(Shape::new(6, 4, 7), conv(11, (1, 1), 1, (0, 0), true), (9, 3), (16, 5));
    conv_case(Shape::new(5, 6, 6), conv(7, (3, 3), 1, (1, 1), false), (8, 2), (10, 3));
    conv_case(Shape::new(4, 18, 17), conv(6, (3, 3), 1, (1, 1), true), (9, 5), (8, 1));
}

fn pool_case(spec: PoolSpec, input: Shape, in_slice: (u32, u32), out_slice: (u32, u32)) {
    let out = spec.output_shape(input);
    let x = random(&format!("pool {spec:?} {input}"), (in_slice.0 * input.pixels()) as usize);
    let mut want = sentinel((out_slice.0 * out.pixels()) as usize);
    pool::cpu(&spec, input, Tensor { data: &x, c_offset: in_slice.1 }, TensorMut { data: &mut want, c_offset: out_slice.1 });
    let mut got = sentinel(want.len());
    run(&fast_pool::Pool(spec), input, &x, in_slice.1, &mut got, out_slice.1);
    assert_all_close(&format!("pool {spec:?} on {input}"), &got, &want, 1e-6, 1e-5);
}

#[test]
fn pool_matches_cpu_twin() {
    let mut cases = common::cases::pool_cases();
    // the separable path: stride 1, same size out (Inception's branch pools)
    cases.extend([
        (PoolSpec::max(3, 1, 1, false), Shape::new(35, 9, 7)),
        (PoolSpec::max(5, 1, 2, false), Shape::new(3, 6, 5)),
        (PoolSpec::max(3, 1, 1, false), Shape::new(2, 1, 1)),
        (PoolSpec::average(3, 1, 1, false), Shape::new(17, 2, 3)),
    ]);
    for (spec, input) in cases {
        pool_case(spec, input, (input.c, 0), (input.c, 0));
    }
    pool_case(PoolSpec::max(3, 1, 1, false), Shape::new(20, 5, 6), (24, 3), (30, 7));
    pool_case(PoolSpec::max(3, 2, 0, true), Shape::new(3, 9, 9), (5, 1), (7, 4));
}

#[test]
fn lrn_matches_cpu_twin() {
    for (spec, shape) in [
        (LrnSpec { size: 5, alpha: 1e-4, beta: 0.75, k: 1.0 }, Shape::new(9, 5, 6)),
        (LrnSpec { size: 3, alpha: 0.5, beta: 0.6, k: 2.0 }, Shape::new(4, 3, 3)),
        (LrnSpec { size: 5, alpha: 2.0, beta: 0.75, k: 1.0 }, Shape::new(2, 4, 4)),
    ] {
        let x: Vec<f32> = random(&format!("lrn {shape}"), shape.elements()).iter().map(|v| 10.0 * v).collect();
        let mut want = vec![0.0; x.len()];
        lrn::cpu(&spec, shape, &x, &mut want);
        let mut got = sentinel(x.len());
        run(&fast_lrn::Lrn(spec), shape, &x, 0, &mut got, 0);
        assert_all_close(&format!("lrn {spec:?} on {shape}"), &got, &want, 1e-6, 1e-5);
    }
}

#[test]
fn linear_matches_cpu_twin() {
    for (n, out, relu) in [(1024, 1000, false), (37, 130, true), (5, 3, false)] {
        let spec = LinearSpec { out_features: out, relu };
        let x = random(&format!("linear x {n}"), n);
        let params = LayerParams {
            weight: random(&format!("linear w {n}"), n * out as usize),
            bias: random("b", out as usize),
            input_range: None,
        };
        let mut want = vec![0.0; out as usize];
        linear::cpu(&spec, &x, &params.weight, &params.bias, &mut want);
        let mut got = sentinel(out as usize);
        run(&fast_linear::Linear::new(spec, &params), Shape::new(n as u32, 1, 1), &x, 0, &mut got, 0);
        assert_all_close(&format!("linear {n} -> {out}"), &got, &want, 1e-5, 1e-5);
    }
}

#[test]
fn preprocess_matches_cpu_twin() {
    let spec = |crop, resize, bgr| InputSpec { crop, resize, bgr, mul: [2.0, -1.0, 0.5], add: [0.1, 0.2, -0.3] };
    // downscales (antialiased), upscales, ready crops, odd aspect ratios
    for (s, (w, h)) in [
        (spec(224, 256, false), (640, 480)),
        (spec(224, 256, true), (224, 224)),
        (spec(299, 342, false), (200, 517)),
        (spec(8, 9, true), (3, 2)),
        (spec(224, 256, false), (1999, 1003)),
    ] {
        let rgba: Vec<u8> = synthetic::image(w, h);
        let want = preprocess::cpu(&s, &rgba, w, h);
        let mut got = vec![0.0; want.len()];
        inception::plan::input::run(&s, &rgba, w, h, &mut got);
        assert_all_close(&format!("preprocess {w}x{h} to {}", s.crop), &got, &want, 2e-5, 1e-5);
    }
}

/// The whole network on the CPU against the CPU twins chained (`reference::forward`), and
/// one thread against two: the split of the work never changes a sum's order, so the
/// logits are bit-identical.
#[test]
fn network_matches_twins_and_is_the_same_on_any_thread_count() {
    let model = synthetic_model(Variant::Bvlc);
    let rgba = synthetic::image(300, 240);
    let input = preprocess::cpu(&model.graph.input_spec, &rgba, 300, 240);
    let want = inception::reference::forward(&model, &input).pop().unwrap();
    let mut logits = Vec::new();
    for threads in [1, 2, 3] {
        let mut net = CpuNetwork::new(&model, CpuOptions { threads: Some(threads), ..CpuOptions::default() }).unwrap();
        let out = net.classify(&rgba, 300, 240, true).unwrap();
        let got = out.logits.unwrap();
        let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d = diff(&got, &want);
        println!("CPU backend, {threads} threads: max abs logit diff {:.2e} (largest logit {scale:.3})", d.max_abs);
        assert!(d.max_abs <= 1e-4 * scale, "{threads} threads: logit {} off by {}", d.worst, d.max_abs);
        logits.push(got);
    }
    assert!(logits.iter().all(|l| l == &logits[0]), "results depend on the thread count");
}

/// A pass run again on the same image (as the page's benchmark does) gives the same
/// logits: the image's tensor survives the reuse of its memory by later layers.
#[test]
fn a_second_pass_on_the_same_image_gives_the_same_logits() {
    let mut net = CpuNetwork::new(&synthetic_model(Variant::Bvlc), CpuOptions::default()).unwrap();
    let first = net.classify(&synthetic::image(320, 240), 320, 240, true).unwrap().logits.unwrap();
    let again = net.run(true).unwrap().logits.unwrap();
    assert_eq!(first, again);
    net.profile().unwrap();
    assert_eq!(net.run(true).unwrap().logits.unwrap(), first, "after profiling");
}

#[test]
fn bad_images_are_refused() {
    let mut net = CpuNetwork::new(&synthetic_model(Variant::Seed), CpuOptions::default()).unwrap();
    assert!(net.run(false).unwrap_err().to_string().contains("no image to classify yet"));
    assert!(net.set_image(&[0; 12], 2, 2).unwrap_err().to_string().contains("not a 2x2 RGBA image"));
    assert!(net.set_image(&[], 0, 0).is_err());
}

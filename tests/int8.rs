//! Int8 compute on the CPU: each int8 convolution against the float32 CPU twin within the
//! error its quantization allows (worked out per output from the weights and inputs),
//! every int8 tier giving the same bits, and the quantizer's edges.

mod common;

use common::cases::conv;
use common::random;
use inception::cpu::int8::{Int8Conv, Quantizer};
use inception::cpu::kernels::dot;
use inception::cpu::{CpuCall, CpuLayer};
use inception::graph::{Conv2dSpec, Shape, Tensor, TensorMut};
use inception::ops::conv2d;
use inception::weights::LayerParams;

fn run(layer: &dyn CpuLayer, input_shape: Shape, input: &[f32], output: &mut [f32]) {
    let call =
        CpuCall { input_shape, input: Tensor { data: input, c_offset: 0 }, output: TensorMut { data: output, c_offset: 0 } };
    layer.run(call);
}

/// The largest error int8 may make on each output of `spec` (before ReLU, which only
/// shrinks it): half an input step times the weights' magnitudes, half a weight step
/// times the inputs' (the largest each can be), and their product, summed over the window.
fn bound(spec: &Conv2dSpec, input: Shape, x: &[f32], params: &LayerParams, q: Quantizer) -> Vec<f32> {
    let k = (input.c * spec.window.positions()) as usize;
    let largest_x = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    params
        .weight
        .chunks_exact(k)
        .map(|w| {
            let step_w = w.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
            let sum_w: f32 = w.iter().map(|v| v.abs()).sum();
            sum_w * q.scale / 2.0 + k as f32 * (largest_x * step_w / 2.0 + q.scale * step_w / 4.0)
        })
        .collect()
}

fn int8_case(input: Shape, spec: Conv2dSpec, non_negative: bool) {
    let out = spec.output_shape(input);
    let name = format!("int8 conv {spec:?} on {input}, inputs {}", if non_negative { ">= 0" } else { "signed" });
    let mut x = random(&format!("{name} x"), input.elements());
    if non_negative {
        x.iter_mut().for_each(|v| *v = v.abs());
    }
    let (min, max) = x.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let k = (input.c * spec.window.positions()) as usize;
    let params = LayerParams {
        weight: random(&format!("{name} w"), spec.out_c as usize * k),
        bias: random(&format!("{name} b"), spec.out_c as usize),
        input_range: Some((min, max)),
    };
    let mut want = vec![0.0; out.elements()];
    conv2d::cpu(
        &spec,
        input,
        Tensor { data: &x, c_offset: 0 },
        &params.weight,
        &params.bias,
        TensorMut { data: &mut want, c_offset: 0 },
    );
    let q = Quantizer::of_range(min, max);
    let bound = bound(&spec, input, &x, &params, q);
    // The same convolution in float32 on the values int8 represents: the int8 layer must
    // give it up to float rounding (a quantum off anywhere shows here, not in the bound).
    let x_q: Vec<f32> = x.iter().map(|&v| (q.quantize(v) as f32 - q.zero as f32) * q.scale).collect();
    let w_q: Vec<f32> = params
        .weight
        .chunks_exact(k)
        .flat_map(|w| {
            let step = w.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
            w.iter().map(move |v| (v / step).round() * step)
        })
        .collect();
    let mut represented = vec![0.0; out.elements()];
    conv2d::cpu(
        &spec,
        input,
        Tensor { data: &x_q, c_offset: 0 },
        &w_q,
        &params.bias,
        TensorMut { data: &mut represented, c_offset: 0 },
    );
    let largest = represented.iter().fold(1f32, |m, v| m.max(v.abs()));
    let mut first: Option<(String, Vec<f32>)> = None;
    for kernel in dot::available() {
        let layer = Int8Conv::new(spec, input, &params, kernel).expect("calibrated");
        let mut got = vec![f32::NAN; out.elements()];
        run(&layer, input, &x, &mut got);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            let allowed = bound[i / out.pixels() as usize] * 1.001 + 1e-5;
            assert!((g - w).abs() <= allowed, "{name}, {kernel:?}, output {i}: {g} vs {w} (allowed {allowed})");
            let exact = represented[i];
            assert!((g - exact).abs() <= 2e-6 * largest, "{name}, {kernel:?}, output {i}: {g}, its int8 values give {exact}");
        }
        // the sums are exact and the epilogue is shared: every tier gives the same bits
        match &first {
            None => first = Some((format!("{kernel:?}"), got)),
            Some((tier, bits)) => assert!(bits == &got, "{name}: {kernel:?} differs from {tier}"),
        }
    }
}

#[test]
fn int8_convolutions_match_the_float_twin_within_their_quantization() {
    let mut cases = common::cases::conv_cases();
    cases.extend([
        (Shape::new(300, 5, 5), conv(7, (1, 1), 1, (0, 0), true)),   // K past 256
        (Shape::new(40, 20, 20), conv(70, (1, 1), 1, (0, 0), true)), // several pixel blocks
        (Shape::new(7, 38, 21), conv(9, (3, 3), 1, (1, 1), false)),
        (Shape::new(3, 23, 19), conv(10, (7, 7), 2, (3, 3), true)), // conv1's shape, K = 147
        (Shape::new(6, 17, 17), conv(5, (1, 7), 1, (0, 3), true)),  // Inception v3's 1x7
    ]);
    for (input, spec) in cases {
        int8_case(input, spec, true);
        int8_case(input, spec, false);
    }
}

#[test]
fn every_int8_tier_this_cpu_runs_is_listed_and_forced_names_are_checked() {
    let here = dot::available();
    println!("int8 micro-kernels here: {here:?}");
    for kernel in dot::compiled().iter().filter(|k| !k.runs_here()) {
        println!("SKIPPED int8 micro-kernel {kernel:?}: not run, this CPU lacks its instruction set");
    }
    assert_eq!(here.last().unwrap().name, "portable");
    for kernel in &here {
        assert_eq!(dot::by_name(kernel.name).unwrap().name, kernel.name);
    }
    let e = dot::by_name("avx1024").unwrap_err().to_string();
    assert!(e.contains("INCEPTION_CPU_INT8_KERNELS=avx1024") && e.contains("portable"), "{e}");
}

#[test]
fn the_quantizer_rounds_clamps_and_places_zero() {
    let relu = Quantizer::of_range(0.0, 12.7);
    assert_eq!((relu.zero, relu.scale), (0, 0.1));
    assert_eq!([-5.0, 0.0, 0.04, 0.06, 12.7, 99.0, f32::NAN].map(|x| relu.quantize(x)), [0, 0, 0, 1, 127, 127, 0]);
    let signed = Quantizer::of_range(-1.0, 3.0);
    assert_eq!(signed.zero, 32); // 0 is exactly a step
    assert_eq!(signed.quantize(0.0), signed.zero);
    let flat = Quantizer::of_range(0.0, 0.0); // a layer whose input was always zero
    assert_eq!(flat.quantize(0.0), 0);
}

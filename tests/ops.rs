//! Each WGSL shader against its plain-Rust CPU twin on random inputs, including the edges:
//! ceil-mode partial windows, padding, strides, odd sizes, channel slices.

mod common;

use common::cases::conv;
use common::{assert_all_close, gpu, random};
use inception::graph::{Conv2dSpec, InputSpec, LinearSpec, LrnSpec, PoolSpec, Shape, Tensor, TensorMut};
use inception::ops::cam;
use inception::ops::conv2d;
use inception::ops::linear;
use inception::ops::lrn;
use inception::ops::pool;
use inception::ops::preprocess;
use inception::ops::{softmax_topk, Call, Context, Dispatch, View};
use std::sync::OnceLock;

fn ctx() -> &'static Context {
    static K: OnceLock<Context> = OnceLock::new();
    K.get_or_init(|| Context::new(gpu(), inception::tensors::Precision::F32).unwrap())
}

/// A context storing convolution weights as float16, where the adapter has shader-f16.
fn half_ctx() -> Option<&'static Context> {
    static K: OnceLock<Option<Context>> = OnceLock::new();
    K.get_or_init(|| gpu().has_f16().then(|| Context::new(gpu(), inception::tensors::Precision::F16).unwrap())).as_ref()
}

fn view(buffer: &wgpu::Buffer, c_offset: u32) -> View<'_> {
    View { buffer, c_offset }
}

/// A call of `spec` on `input` (a slice from channel `input.1` of a buffer) into `output`.
fn call<'a, S>(label: &'a str, spec: &'a S, input_shape: Shape, input: View<'a>, output: View<'a>) -> Call<'a, S> {
    Call { label, spec, input_shape, input, output }
}

fn storage(data: &[f32]) -> inception::gpu_objects::Buffer {
    gpu().buffer_init("test", bytemuck::cast_slice(data), wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC)
}

fn run(dispatch: &Dispatch) {
    let mut encoder = gpu().device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        dispatch.encode(&mut pass);
    }
    gpu().queue.submit([encoder.finish()]);
}

fn read(buffer: &wgpu::Buffer) -> Vec<f32> {
    bytemuck::pod_collect_to_vec(&pollster::block_on(gpu().read_buffer(buffer, buffer.size())).unwrap())
}

/// A sentinel-filled output tensor, so that writes outside the slice show up.
fn sentinel(n: usize) -> Vec<f32> {
    (0..n).map(|i| -1000.0 - i as f32).collect()
}

struct ConvCase {
    input: Shape,
    spec: Conv2dSpec,
    /// (channels of the whole input tensor, offset of the slice read)
    in_slice: (u32, u32),
    /// (channels of the whole output tensor, offset of the slice written)
    out_slice: (u32, u32),
}

fn conv_case(c: &ConvCase) {
    let out = c.spec.output_shape(c.input);
    let name = format!("conv {:?} on {}", c.spec, c.input);
    let input = random(&format!("{name} x"), (c.in_slice.0 * c.input.pixels()) as usize);
    let k = (c.input.c * c.spec.window.positions()) as usize;
    let weights: Vec<f32> = random(&format!("{name} w"), c.spec.out_c as usize * k);
    let bias = random(&format!("{name} b"), c.spec.out_c as usize);
    let x = storage(&input);
    let half = half_ctx();
    if half.is_none() {
        println!("SKIPPED float16 weights of {name}: this adapter has no shader-f16");
    }
    for ctx in std::iter::once(ctx()).chain(half) {
        // the CPU twin sees the weights as the GPU stores them; sums are f32 on both sides
        let weights = ctx.precision.round(&weights);
        let mut want = sentinel((c.out_slice.0 * out.pixels()) as usize);
        let x_cpu = Tensor { data: &input, c_offset: c.in_slice.1 };
        conv2d::cpu(&c.spec, c.input, x_cpu, &weights, &bias, TensorMut { data: &mut want, c_offset: c.out_slice.1 });
        let packed = conv2d::pack(&c.spec, c.input.c, &weights, &bias);
        let w = gpu().buffer_init("w", &ctx.precision.bytes(&packed.weights), wgpu::BufferUsages::STORAGE);
        let b = storage(&packed.bias);
        // every tile the autotuner can choose
        for tile in conv2d::TILES {
            let y = storage(&sentinel(want.len()));
            let io = call(&name, &c.spec, c.input, view(&x, c.in_slice.1), view(&y, c.out_slice.1));
            let d = conv2d::dispatch(ctx, &io, &conv2d::Gemm { weights: &w, bias: &b, tile, batch: conv2d::Batch::ONE });
            run(&d);
            let what = format!("{name}, tile {tile}, {:?} weights", ctx.precision);
            assert_all_close(&what, &read(&y), &want, 1e-5, 1e-4);
        }
    }
}

#[test]
fn conv2d_matches_cpu() {
    let whole = |s: Shape, out_c: u32| ((s.c, 0), (out_c, 0));
    let cases = common::cases::conv_cases();
    let one = conv2d::Batch::ONE;
    let vec4_cases = cases.iter().filter(|(input, spec)| conv2d::contiguous(spec, *input, &one)).count();
    assert_eq!(vec4_cases, 2, "both shader input paths are covered");
    for (input, spec) in cases {
        let (in_slice, out_slice) = whole(input, spec.out_c);
        conv_case(&ConvCase { input, spec, in_slice, out_slice });
    }
}

#[test]
fn conv2d_reads_and_writes_channel_slices() {
    // the contiguous 1x1 path on slices
    conv_case(&ConvCase {
        input: Shape::new(6, 4, 7),
        spec: conv(11, (1, 1), 1, (0, 0), true),
        in_slice: (9, 3),
        out_slice: (16, 5),
    });
    // the 1x1 fast path on slices
    conv_case(&ConvCase {
        input: Shape::new(6, 5, 7),
        spec: conv(11, (1, 1), 1, (0, 0), true),
        in_slice: (9, 3),
        out_slice: (16, 5),
    });
    // Channels 4..9 of a 12-channel tensor in, channels 3..12 of a 20-channel tensor out.
    conv_case(&ConvCase {
        input: Shape::new(5, 7, 6),
        spec: conv(9, (5, 5), 1, (2, 2), true),
        in_slice: (12, 4),
        out_slice: (20, 3),
    });
}

fn pool_case(spec: PoolSpec, input: Shape, in_slice: (u32, u32), out_slice: (u32, u32)) {
    let out = spec.output_shape(input);
    let name = format!("pool {spec:?} on {input} -> {out}");
    let x = random(&name, (in_slice.0 * input.pixels()) as usize);
    let mut want = sentinel((out_slice.0 * out.pixels()) as usize);
    pool::cpu(&spec, input, Tensor { data: &x, c_offset: in_slice.1 }, TensorMut { data: &mut want, c_offset: out_slice.1 });
    let (xb, yb) = (storage(&x), storage(&sentinel(want.len())));
    run(&pool::dispatch(ctx(), &call(&name, &spec, input, view(&xb, in_slice.1), view(&yb, out_slice.1))));
    assert_all_close(&name, &read(&yb), &want, 1e-6, 1e-5);
}

#[test]
fn pool_output_sizes_follow_pytorch() {
    let s = |spec: PoolSpec, h| spec.output_shape(Shape::new(1, h, h)).h;
    // GoogLeNet's stem: 112 -> 56 -> (conv) -> 28 -> 14 -> 7, ceil mode without padding.
    assert_eq!(s(PoolSpec::max(3, 2, 0, true), 112), 56);
    assert_eq!(s(PoolSpec::max(3, 2, 0, true), 56), 28);
    assert_eq!(s(PoolSpec::max(3, 2, 0, true), 14), 7);
    assert_eq!(s(PoolSpec::max(2, 2, 0, true), 14), 7);
    // floor mode with padding (the tutorial): same sizes
    assert_eq!(s(PoolSpec::max(3, 2, 1, false), 112), 56);
    // ceil mode: a last window that would start in the right padding is dropped
    assert_eq!(s(PoolSpec::max(2, 2, 1, true), 5), 3);
    assert_eq!(s(PoolSpec::max(3, 2, 0, false), 14), 6);
    assert_eq!(s(PoolSpec::max(3, 2, 0, true), 13), 6);
}

#[test]
fn pool_matches_cpu() {
    let whole = |c| ((c, 0), (c, 0));
    let cases = common::cases::pool_cases();
    let general = cases.iter().filter(|(spec, _)| pool::Variant::of(spec) == pool::Variant::General).count();
    assert_eq!(general, 4, "both entry points are covered");
    for (spec, input) in cases {
        let (a, b) = whole(input.c);
        pool_case(spec, input, a, b);
    }
    // the inception pool branch reading a slice and writing into a concat slice
    pool_case(PoolSpec::max(3, 1, 1, true), Shape::new(3, 6, 5), (7, 2), (10, 6));
}

#[test]
fn max_pool_ignores_out_of_image_positions() {
    // All-negative input: a zero-padded max would give 0 at the borders.
    let input = Shape::new(1, 4, 4);
    let x: Vec<f32> = (0..16).map(|i| -1.0 - i as f32).collect();
    let spec = PoolSpec::max(3, 1, 1, false);
    let (xb, yb) = (storage(&x), storage(&sentinel(16)));
    run(&pool::dispatch(ctx(), &call("pool", &spec, input, view(&xb, 0), view(&yb, 0))));
    let got = read(&yb);
    assert_eq!(got[0], -1.0);
    assert!(got.iter().all(|&v| v < 0.0), "{got:?}");
}

#[test]
fn lrn_matches_cpu() {
    for (shape, spec) in [
        (Shape::new(13, 5, 7), LrnSpec { size: 5, alpha: 1e-4, beta: 0.75, k: 1.0 }),
        (Shape::new(4, 3, 3), LrnSpec { size: 5, alpha: 0.5, beta: 0.75, k: 2.0 }),
        (Shape::new(9, 2, 5), LrnSpec { size: 3, alpha: 0.1, beta: 0.5, k: 1.0 }),
        // an even window (one more channel after c than before), and a long slide
        (Shape::new(7, 3, 2), LrnSpec { size: 4, alpha: 0.2, beta: 0.75, k: 1.0 }),
        (Shape::new(192, 4, 4), LrnSpec { size: 5, alpha: 1e-4, beta: 0.75, k: 1.0 }),
    ] {
        let name = format!("lrn {spec:?} on {shape}");
        let x: Vec<f32> = random(&name, shape.elements()).iter().map(|v| v * 100.0).collect();
        let mut want = vec![0.0; shape.elements()];
        lrn::cpu(&spec, shape, &x, &mut want);
        let (xb, yb) = (storage(&x), storage(&sentinel(shape.elements())));
        run(&lrn::dispatch(ctx(), &call(&name, &spec, shape, view(&xb, 0), view(&yb, 0))));
        assert_all_close(&name, &read(&yb), &want, 1e-5, 1e-4);
    }
}

#[test]
fn linear_matches_cpu() {
    for (n_in, spec) in [
        (37, LinearSpec { out_features: 70, relu: false }),
        (1024, LinearSpec { out_features: 1000, relu: false }),
        (6, LinearSpec { out_features: 3, relu: true }),
    ] {
        let name = format!("linear {n_in} -> {spec:?}");
        let x = random(&format!("{name} x"), n_in);
        let w = random(&format!("{name} w"), n_in * spec.out_features as usize);
        let b = random(&format!("{name} b"), spec.out_features as usize);
        let mut want = vec![0.0; spec.out_features as usize];
        linear::cpu(&spec, &x, &w, &b, &mut want);
        let (xb, yb) = (storage(&x), storage(&sentinel(want.len())));
        let weights =
            linear::Weights::upload(ctx(), &name, &inception::weights::LayerParams { weight: w, bias: b, input_range: None })
                .unwrap();
        let io = call(&name, &spec, Shape::new(n_in as u32, 1, 1), view(&xb, 0), view(&yb, 0));
        run(&linear::dispatch(ctx(), &io, &weights));
        assert_all_close(&name, &read(&yb), &want, 1e-5, 1e-4);
    }
}

/// Activation maps: the shader and the CPU backend's loop against the f64 twin, on a
/// channel slice, with a channel count that is not a multiple of 4 (the shader's tail).
#[test]
fn cam_matches_cpu() {
    for (shape, c_offset, classes) in [
        (Shape::new(1024, 7, 7), 0, vec![3usize, 999, 0, 500, 42]),
        (Shape::new(2048, 8, 8), 0, vec![7, 1]),
        (Shape::new(37, 5, 3), 11, vec![2, 9, 4]),
    ] {
        let name = format!("cam {shape} from channel {c_offset}");
        let n_classes = 1000.min(classes.iter().max().unwrap() + 1);
        let features = random(&format!("{name} f"), (shape.c + c_offset) as usize * shape.pixels() as usize);
        let weights = random(&format!("{name} w"), n_classes * shape.c as usize);
        let want = cam::cpu(shape, Tensor { data: &features, c_offset }, &weights, &classes);
        // the ranking as softmax_topk writes it: (class, probability bits) per rank
        let ranking: Vec<u32> = classes.iter().flat_map(|&c| [c as u32, 0]).collect();
        let ranking = gpu().buffer_init("ranking", bytemuck::cast_slice(&ranking), wgpu::BufferUsages::STORAGE);
        let k = classes.len() as u32;
        let maps = storage(&sentinel(k as usize * shape.pixels() as usize));
        let (fb, wb) = (storage(&features), storage(&weights));
        run(&cam::dispatch(ctx(), shape, k, view(&fb, c_offset), &wb, &ranking, &maps));
        let got = read(&maps);
        let cpu = inception::cpu::cam::maps(shape, Tensor { data: &features, c_offset }, &weights, &classes);
        for (r, want) in want.iter().enumerate() {
            let grid = shape.pixels() as usize;
            assert_all_close(&format!("{name}, rank {r} (GPU)"), &got[r * grid..][..grid], want, 1e-5, 1e-4);
            assert_all_close(&format!("{name}, rank {r} (CPU backend)"), &cpu[r].values, want, 1e-5, 1e-4);
            assert_eq!((cpu[r].width, cpu[r].height), (shape.w, shape.h));
        }
    }
}

fn topk_gpu(logits: &[f32], k: u32) -> Vec<(usize, f32)> {
    let x = storage(logits);
    let result = storage(&vec![0.0; 2 * k as usize]);
    run(&softmax_topk::dispatch(ctx(), logits.len() as u32, k, view(&x, 0), &result));
    let bytes = pollster::block_on(gpu().read_buffer(&result, result.size())).unwrap();
    softmax_topk::decode(&bytes, k)
}

#[test]
fn softmax_topk_matches_cpu() {
    for (n, k, scale) in [(1000, 5, 8.0), (10, 5, 3.0), (3, 3, 1.0), (777, 32, 20.0)] {
        let logits: Vec<f32> = random(&format!("logits {n}"), n).iter().map(|v| v * scale).collect();
        let got = topk_gpu(&logits, k);
        let want = inception::plan::top_k(&logits, k as usize);
        assert_eq!(common::top_classes(&got), common::top_classes(&want), "n {n} k {k}");
        let (g, w): (Vec<f32>, Vec<f32>) = got.iter().zip(&want).map(|(g, w)| (g.1, w.1)).unzip();
        assert_all_close(&format!("softmax n {n}"), &g, &w, 1e-6, 1e-4);
    }
    // ties go to the lower index; huge logits do not overflow
    let mut flat = vec![50_000.0f32; 300];
    flat[200] = 50_001.0;
    let got = topk_gpu(&flat, 4);
    assert_eq!(common::top_classes(&got), vec![200, 0, 1, 2]);
    assert!(got.iter().all(|(_, p)| p.is_finite()));
}

fn preprocess_case(spec: &InputSpec, width: u32, height: u32, atol: f32) {
    let rgba = inception::synthetic::image(width, height);
    let want = preprocess::cpu(spec, &rgba, width, height);
    let texture = preprocess::create_texture(&gpu().device, width, height);
    preprocess::write_texture(&gpu().queue, &texture, &rgba);
    let out = storage(&sentinel(want.len()));
    run(&preprocess::dispatch(ctx(), spec, &texture, view(&out, 0)));
    assert_all_close(&format!("preprocess {width}x{height} {spec:?}"), &read(&out), &want, atol, 1e-5);
}

#[test]
fn preprocess_matches_cpu() {
    let rgb = InputSpec { crop: 24, resize: 28, bgr: false, mul: [2.0; 3], add: [-1.0; 3] };
    let bgr = InputSpec { bgr: true, mul: [255.0; 3], add: [-104.0, -117.0, -123.0], ..rgb };
    for spec in [rgb, bgr] {
        let atol = 1e-5 * spec.mul[0];
        preprocess_case(&spec, 24, 24, atol); // already the crop size: no resize
        preprocess_case(&spec, 24, 40, atol); // portrait, only cropped
        preprocess_case(&spec, 97, 61, atol); // downscale with an odd crop offset
        preprocess_case(&spec, 300, 200, atol); // strong downscale (wide filter)
        preprocess_case(&spec, 13, 17, atol); // upscale
    }
}

#[test]
fn preprocess_passes_a_crop_sized_image_through() {
    // A 224x224 image is the network input as is: channel order and scaling only.
    let spec = InputSpec { crop: 16, resize: 18, bgr: true, mul: [255.0; 3], add: [-104.0, -117.0, -123.0] };
    let rgba = inception::synthetic::image(16, 16);
    let out = preprocess::cpu(&spec, &rgba, 16, 16);
    for (i, px) in rgba.chunks_exact(4).enumerate() {
        for c in 0..3 {
            let want = px[2 - c] as f32 + spec.add[c];
            assert!((out[c * 256 + i] - want).abs() < 1e-3, "pixel {i} channel {c}");
        }
    }
}

#[test]
fn preprocess_geometry_matches_torchvision() {
    let spec = InputSpec { crop: 224, resize: 256, bgr: false, mul: [1.0; 3], add: [0.0; 3] };
    // 640x480 -> Resize(256) gives 341x256 (int(256 * 640 / 480)), crop offset round(58.5) = 58
    let g = spec.geometry(640, 480);
    assert_eq!((g.crop_x, g.crop_y), (58, 16));
    assert!((g.scale_x - 640.0 / 341.0).abs() < 1e-6 && (g.scale_y - 480.0 / 256.0).abs() < 1e-6);
    let g = spec.geometry(224, 224);
    assert_eq!((g.crop_x, g.crop_y, g.scale_x, g.scale_y), (0, 0, 1.0, 1.0));
}

#[test]
fn winograd_matches_direct_convolution() {
    use inception::ops::winograd;
    // odd sizes (partial tiles), a slice in and out, a GoogLeNet-like 7x7 layer, and
    // unpadded ("valid") convolutions as Inception v3's stem has
    for (input, out_c, pad, in_slice, out_slice) in [
        (Shape::new(5, 7, 9), 6, 1, (5, 0), (6, 0)),
        (Shape::new(6, 5, 4), 9, 1, (10, 3), (14, 4)),
        (Shape::new(32, 7, 7), 40, 1, (32, 0), (40, 0)),
        (Shape::new(8, 14, 13), 12, 1, (8, 0), (12, 0)),
        (Shape::new(5, 9, 11), 7, 0, (5, 0), (7, 0)),
        (Shape::new(6, 7, 6), 9, 0, (8, 2), (12, 3)),
    ] {
        let spec = conv(out_c, (3, 3), 1, (pad, pad), true);
        let name = format!("winograd {spec:?} on {input}");
        let x = random(&format!("{name} x"), (in_slice.0 * input.pixels()) as usize);
        let w = random(&format!("{name} w"), (out_c * input.c * 9) as usize);
        let b = random(&format!("{name} b"), out_c as usize);
        let mut want = sentinel((out_slice.0 * spec.output_shape(input).pixels()) as usize);
        let x_cpu = Tensor { data: &x, c_offset: in_slice.1 };
        conv2d::cpu(&spec, input, x_cpu, &w, &b, TensorMut { data: &mut want, c_offset: out_slice.1 });

        let packed = conv2d::pack(&spec, input.c, &w, &b);
        let (xb, bias) = (storage(&x), storage(&packed.bias));
        for (size, tile) in winograd::Size::ALL.into_iter().flat_map(|s| conv2d::TILES.map(|t| (s, t))) {
            let u = storage(&winograd::pack(&spec, input.c, &w, size));
            let (v_bytes, m_bytes) = winograd::scratch_bytes(input, &spec, size);
            let v = storage(&vec![0.0; v_bytes as usize / 4]);
            let m = storage(&vec![0.0; m_bytes as usize / 4]);
            let y = storage(&sentinel(want.len()));
            let scratch = winograd::Scratch { v, m, zero_bias: storage(&vec![0.0; packed.bias.len()]) };
            let weights = winograd::Weights { transformed: &u, bias: &bias };
            let io = call(&name, &spec, input, view(&xb, in_slice.1), view(&y, out_slice.1));
            for d in winograd::dispatch(ctx(), &io, &weights, &scratch, (size, tile)) {
                run(&d);
            }
            assert_all_close(&format!("{name}, {size:?}, tile {tile}"), &read(&y), &want, 1e-4, 1e-4);
        }
    }
}

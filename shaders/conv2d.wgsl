// 2-D convolution (also 1x1 convolutions and strided ones) over CHW f32 tensors, with the
// bias (batch norm folded in at load) and an optional ReLU in the epilogue.
//
// Implicit GEMM: M = output pixels, N = output channels, K = in_c * kernel_h * kernel_w.
// Each invocation owns a register tile of 4 output pixels by CHANNELS output channels
// (fewer channels: more invocations for small layers; more: each input load reused more),
// with no workgroup memory, which software adapters (llvmpipe, SwiftShader) run far faster
// than barrier-tiled kernels. The engine compiles the variants and picks per layer by
// measuring (autotune). Accumulators are named variables, not arrays: compilers keep those
// in registers (an array-based tile measured 1.8x slower on llvmpipe).
//
// Weights are pre-packed at load as [K][w_stride vec4s] (output channels padded to 16) in
// the loop order below, as float32 or float16 (`Weights4`, declared by the prelude the
// engine puts before this file: vec4<f32>, or vec4<f16> with `enable f16;`, halving the
// weight bytes read; sums are float32 either way), so the weights of one K step are CHANNELS / 4 vec4 loads. The
// output may be a channel slice of a larger tensor (concat is free), and the input may be
// one too.
//
// WORKGROUP_X, WORKGROUP_Y (`main`'s workgroup) and TILED_SIDE (`tiled`'s 64 x 64 tile)
// are written before this file by the engine (ops/conv2d.rs, `SHADER`), which sizes the
// dispatches with the same values.

override CHANNELS: u32 = 8u; // output channels per invocation: 4, 8 or 16
// Loop order: window position outside and input channels inside (the bounds mask is then
// computed once per position), or the reverse for layers with few input channels (the
// first convolution has 3), where the inner channel loop would be too short.
override CHANNELS_INSIDE: bool = true;
// The 4 pixels of a tile are 4 consecutive floats starting on a vec4 boundary: 1x1
// convolutions with stride 1 and no padding over planes of a multiple of 4 pixels (most
// 1x1 layers, and Winograd's GEMMs). Their inputs are then read as one vec4 instead of
// four scalars, which matters most on software adapters (each scalar is a gather).
override CONTIGUOUS: bool = false;

// `struct Params` (the uniform `p`) is written before this file by the engine, from the
// Rust struct in src/ops/conv2d.rs, so the two cannot differ.

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<Weights4>;
@group(0) @binding(3) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> output: array<f32>;
// The same buffer as `input`, seen as vec4s (only read when CONTIGUOUS).
@group(0) @binding(5) var<storage, read> input4: array<vec4<f32>>;

var<private> out_base: u32; // output offset of this invocation's batch

fn store(c: u32, m: u32, v: f32) {
    output[out_base + (p.out_c_offset + c) * p.out_h * p.out_w + m] = select(v, max(v, 0.0), p.relu != 0u);
}

// The register tile: acc<c> holds output channel c0 + c for the tile's 4 pixels.
var<private> acc0: vec4<f32>; var<private> acc1: vec4<f32>;
var<private> acc2: vec4<f32>; var<private> acc3: vec4<f32>;
var<private> acc4: vec4<f32>; var<private> acc5: vec4<f32>;
var<private> acc6: vec4<f32>; var<private> acc7: vec4<f32>;
var<private> acc8: vec4<f32>; var<private> acc9: vec4<f32>;
var<private> acc10: vec4<f32>; var<private> acc11: vec4<f32>;
var<private> acc12: vec4<f32>; var<private> acc13: vec4<f32>;
var<private> acc14: vec4<f32>; var<private> acc15: vec4<f32>;
var<private> wcol: u32; // first weight vec4 of this invocation

// The input values of the 4 pixels at indices `i` (zero where `inside` is false).
fn load(i: vec4<u32>, inside: vec4<bool>) -> vec4<f32> {
    if (CONTIGUOUS) {
        return input4[i.x / 4u];
    }
    return select(vec4<f32>(0.0), vec4<f32>(input[i.x], input[i.y], input[i.z], input[i.w]), inside);
}

// One K step: input values `v` of the 4 pixels times the weights at `wi` (the vec4 index
// of this invocation's first weight in row k: k * w_stride + wcol).
fn accumulate(v: vec4<f32>, wi: u32) {
    let wa = vec4<f32>(weights[wi]);
    acc0 += v * wa.x; acc1 += v * wa.y; acc2 += v * wa.z; acc3 += v * wa.w;
    if (CHANNELS > 4u) {
        let wb = vec4<f32>(weights[wi + 1u]);
        acc4 += v * wb.x; acc5 += v * wb.y; acc6 += v * wb.z; acc7 += v * wb.w;
    }
    if (CHANNELS > 8u) {
        let wc = vec4<f32>(weights[wi + 2u]);
        acc8 += v * wc.x; acc9 += v * wc.y; acc10 += v * wc.z; acc11 += v * wc.w;
        let wd = vec4<f32>(weights[wi + 3u]);
        acc12 += v * wd.x; acc13 += v * wd.y; acc14 += v * wd.z; acc15 += v * wd.w;
    }
}

@compute @workgroup_size(WORKGROUP_X, WORKGROUP_Y, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let pixels = p.out_h * p.out_w;
    let m0 = gid.x * 4u;
    wcol = gid.y * (CHANNELS / 4u);
    let c0 = wcol * 4u;
    if (m0 >= pixels || c0 >= p.out_c) {
        return;
    }
    // The 4 pixels (the tail repeats the last) and the top-left input corner of each window.
    let m = min(vec4<u32>(m0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(pixels - 1u));
    let plane = p.in_h * p.in_w;
    let in_base = gid.z * p.batch_in + p.in_c_offset * plane;
    out_base = gid.z * p.batch_out;
    let y0 = vec4<i32>((m / p.out_w) * p.stride.x) - i32(p.pad.x);
    let x0 = vec4<i32>((m % p.out_w) * p.stride.y) - i32(p.pad.y);
    let h = vec4<u32>(p.in_h);
    let w = vec4<u32>(p.in_w);
    var wi = gid.z * p.batch_w + wcol; // weight index of the current K step
    if (!CHANNELS_INSIDE) {
        for (var ci = 0u; ci < p.in_c; ci++) {
            let base = vec4<u32>(in_base + ci * plane);
            for (var ky = 0u; ky < p.kernel.x; ky++) {
                let y = vec4<u32>(y0 + vec4<i32>(i32(ky)));
                let row_inside = y < h;
                let row = base + y * p.in_w;
                for (var kx = 0u; kx < p.kernel.y; kx++) {
                    let x = vec4<u32>(x0 + vec4<i32>(i32(kx)));
                    let i = row + x;
                    accumulate(select(vec4<f32>(0.0), vec4<f32>(input[i.x], input[i.y], input[i.z], input[i.w]), row_inside & (x < w)), wi);
                    wi += p.w_stride;
                }
            }
        }
    }
    if (CHANNELS_INSIDE) {
        // Window position outside, input channels inside: the bounds mask and the 4 input
        // indices are computed once per position, and each input channel only adds a plane.
        for (var ky = 0u; ky < p.kernel.x; ky++) {
            // Rows outside the image (negative ones wrap to huge) are masked to zero.
            let y = vec4<u32>(y0 + vec4<i32>(i32(ky)));
            let row_inside = y < h;
            for (var kx = 0u; kx < p.kernel.y; kx++) {
                let x = vec4<u32>(x0 + vec4<i32>(i32(kx)));
                let inside = row_inside & (x < w);
                var i = vec4<u32>(in_base) + y * p.in_w + x; // masked where outside
                var ci = 0u;
                // four input channels per iteration, to cut the loop overhead
                for (; ci + 4u <= p.in_c; ci += 4u) {
                    let j = i + vec4<u32>(plane);
                    let l = j + vec4<u32>(plane);
                    let n = l + vec4<u32>(plane);
                    accumulate(load(i, inside), wi);
                    accumulate(load(j, inside), wi + p.w_stride);
                    accumulate(load(l, inside), wi + 2u * p.w_stride);
                    accumulate(load(n, inside), wi + 3u * p.w_stride);
                    i = n + vec4<u32>(plane);
                    wi += 4u * p.w_stride;
                }
                for (; ci < p.in_c; ci++) {
                    accumulate(load(i, inside), wi);
                    i += vec4<u32>(plane);
                    wi += p.w_stride;
                }
            }
        }
    }
    var acc = array<vec4<f32>, 16>(acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7,
                                   acc8, acc9, acc10, acc11, acc12, acc13, acc14, acc15);
    let channels = CHANNELS;
    for (var c = 0u; c < channels; c++) {
        if (c0 + c < p.out_c) {
            for (var i = 0u; i < 4u; i++) {
                if (m0 + i < pixels) {
                    store(c0 + c, m0 + i, acc[c][i] + bias[wcol + c / 4u][c % 4u]);
                }
            }
        }
    }
}

// ---- `tiled`: workgroup-memory tiling, for GPUs whose barriers are cheap ----
// A workgroup of 16x16 invocations computes 64 pixels x 64 output channels, each
// invocation 4 x 4 of them. K advances 16 at a time: the workgroup first copies the
// 16 x 64 input values (the implicit im2col) and 16 x 64 weights it needs into workgroup
// memory, so that each is read from global memory once instead of by 16 invocations.
// Software adapters run barriers very slowly (see README: Speed); the autotuner measures.

var<workgroup> shared_x: array<array<f32, TILED_SIDE>, 16>; // [k][pixel]
var<workgroup> shared_w: array<array<f32, TILED_SIDE>, 16>; // [k][output channel]

// The input value of im2col row k, output pixel m (zero in the padding), in the K order
// the weights were packed in.
fn im2col(k: u32, m: u32, in_base: u32) -> f32 {
    let window = p.kernel.x * p.kernel.y;
    var ci: u32;
    var pos: u32;
    if (CHANNELS_INSIDE) {
        pos = k / p.in_c;
        ci = k % p.in_c;
    } else {
        ci = k / window;
        pos = k % window;
    }
    let y = i32((m / p.out_w) * p.stride.x + pos / p.kernel.y) - i32(p.pad.x);
    let x = i32((m % p.out_w) * p.stride.y + pos % p.kernel.y) - i32(p.pad.y);
    if (y < 0 || y >= i32(p.in_h) || x < 0 || x >= i32(p.in_w)) {
        return 0.0;
    }
    return input[in_base + ci * p.in_h * p.in_w + u32(y) * p.in_w + u32(x)];
}

@compute @workgroup_size(TILED_SIDE / 4u, TILED_SIDE / 4u, 1)
fn tiled(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
         @builtin(local_invocation_index) li: u32) {
    let pixels = p.out_h * p.out_w;
    let k_len = p.in_c * p.kernel.x * p.kernel.y;
    let m_base = wg.x * TILED_SIDE;
    let n_base = wg.y * TILED_SIDE;
    let in_base = wg.z * p.batch_in + p.in_c_offset * p.in_h * p.in_w;
    let w_base = wg.z * p.batch_w;
    out_base = wg.z * p.batch_out;
    let padded_n = p.w_stride * 4u;
    for (var k0 = 0u; k0 < k_len; k0 += 16u) {
        // 256 invocations copy 1024 input values and 1024 weights, 4 each
        for (var r = 0u; r < 4u; r++) {
            let e = li + r * (TILED_SIDE / 4u) * (TILED_SIDE / 4u);
            let kk = e / TILED_SIDE;
            let j = e % TILED_SIDE;
            let k = k0 + kk;
            var x = 0.0;
            if (k < k_len && m_base + j < pixels) {
                x = im2col(k, m_base + j, in_base);
            }
            shared_x[kk][j] = x;
            var w = 0.0;
            if (k < k_len && n_base + j < padded_n) {
                let n = n_base + j;
                w = f32(weights[w_base + k * p.w_stride + n / 4u][n % 4u]);
            }
            shared_w[kk][j] = w;
        }
        workgroupBarrier();
        let mi = lid.x * 4u;
        let ni = lid.y * 4u;
        for (var kk = 0u; kk < 16u; kk++) {
            let v = vec4<f32>(shared_x[kk][mi], shared_x[kk][mi + 1u], shared_x[kk][mi + 2u], shared_x[kk][mi + 3u]);
            acc0 += v * shared_w[kk][ni];
            acc1 += v * shared_w[kk][ni + 1u];
            acc2 += v * shared_w[kk][ni + 2u];
            acc3 += v * shared_w[kk][ni + 3u];
        }
        workgroupBarrier();
    }
    let m0 = m_base + lid.x * 4u;
    let c0 = n_base + lid.y * 4u;
    var acc = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    for (var c = 0u; c < 4u; c++) {
        if (c0 + c < p.out_c) {
            for (var i = 0u; i < 4u; i++) {
                if (m0 + i < pixels) {
                    store(c0 + c, m0 + i, acc[c][i] + bias[(c0 + c) / 4u][(c0 + c) % 4u]);
                }
            }
        }
    }
}

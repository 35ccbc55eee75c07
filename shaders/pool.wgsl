// Max and average pooling over CHW f32 tensors, with PyTorch's semantics for padding and
// ceil-mode windows; global average pooling is the average mode with a window as large as
// the input. Two entry points: `rows` for windows at most 3 wide with a horizontal stride of
// 1 or 2 (every pool of these networks but the global one), `main` for any other.
//
// mode 0, max: window positions outside the input are ignored (not zeros).
// mode 1, average with the padding counted in the divisor (count_include_pad): the divisor
//         is the window clipped to the padded input, as in PyTorch and Caffe.

// WORKGROUP_SIZE is written before this file by the engine (the module's `SHADER` in
// src/ops/), which sizes the dispatches with the same value.

// `struct Params` (the uniform `p`) is written before this file by the engine, from the
// Rust struct in src/ops/pool.rs, so the two cannot differ.

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let m = gid.x;
    let c = gid.y;
    if (m >= p.out_h * p.out_w || c >= p.channels) {
        return;
    }
    let oy = m / p.out_w;
    let ox = m % p.out_w;
    // Window in padded coordinates, then clipped.
    let ys = i32(oy * p.stride.x) - i32(p.pad.x);
    let xs = i32(ox * p.stride.y) - i32(p.pad.y);
    let ye_padded = min(ys + i32(p.kernel.x), i32(p.in_h + p.pad.x));
    let xe_padded = min(xs + i32(p.kernel.y), i32(p.in_w + p.pad.y));
    let y_begin = u32(max(ys, 0));
    let x_begin = u32(max(xs, 0));
    let y_end = u32(min(ye_padded, i32(p.in_h)));
    let x_end = u32(min(xe_padded, i32(p.in_w)));
    let base = (p.in_c_offset + c) * p.in_h * p.in_w;
    var best = -3.40282346e38;
    var sum = 0.0;
    for (var y = y_begin; y < y_end; y++) {
        for (var x = x_begin; x < x_end; x++) {
            let v = input[base + y * p.in_w + x];
            best = max(best, v);
            sum += v;
        }
    }
    var result = best;
    if (p.mode == 1u) {
        result = sum / f32((ye_padded - ys) * (xe_padded - xs));
    }
    output[(p.out_c_offset + c) * p.out_h * p.out_w + m] = result;
}

// ---- `rows`: 4 neighbouring outputs of one row per invocation ----
// Their windows share columns, which are loaded once per row (6 loads for 4 outputs at
// stride 1 instead of 12, 9 at stride 2), and the index arithmetic is done once per 4
// outputs. x runs over (row, group of 4 columns), y over channels.

override STRIDE: u32 = 1u; // horizontal stride: 1 or 2
override WIDTH: u32 = 3u; // window width: 1 to 3

fn average() -> bool {
    return p.mode == 1u;
}

// What a position outside the input adds: nothing to a max, zero to a sum (padding).
fn empty() -> f32 {
    return select(-3.40282346e38, 0.0, average());
}

fn combine(a: f32, b: f32) -> f32 {
    return select(max(a, b), a + b, average());
}

fn column(row: u32, x: i32) -> f32 {
    let inside = x >= 0 && x < i32(p.in_w);
    return select(empty(), input[row + u32(max(x, 0))], inside);
}

// One row of a window whose first column is `a`.
fn window(a: f32, b: f32, c: f32) -> f32 {
    var r = a;
    if (WIDTH > 1u) {
        r = combine(r, b);
    }
    if (WIDTH > 2u) {
        r = combine(r, c);
    }
    return r;
}

@compute @workgroup_size(WORKGROUP_SIZE, 1, 1)
fn rows(@builtin(global_invocation_id) gid: vec3<u32>) {
    let groups = (p.out_w + 3u) / 4u; // per row
    let oy = gid.x / groups;
    let ox0 = (gid.x % groups) * 4u;
    let c = gid.y;
    if (oy >= p.out_h || c >= p.channels) {
        return;
    }
    let ys = i32(oy * p.stride.x) - i32(p.pad.x);
    let xs = i32(ox0 * STRIDE) - i32(p.pad.y); // first column of the first window
    let base = (p.in_c_offset + c) * p.in_h * p.in_w;
    var acc = vec4<f32>(empty());
    for (var y = max(ys, 0); y < min(ys + i32(p.kernel.x), i32(p.in_h)); y++) {
        let row = base + u32(y) * p.in_w;
        let c0 = column(row, xs);
        let c1 = column(row, xs + 1);
        let c2 = column(row, xs + 2);
        let c3 = column(row, xs + 3);
        let c4 = column(row, xs + 4);
        var w: vec4<f32>;
        if (STRIDE == 1u) {
            let c5 = column(row, xs + 5);
            w = vec4<f32>(window(c0, c1, c2), window(c1, c2, c3), window(c2, c3, c4), window(c3, c4, c5));
        } else {
            let c5 = column(row, xs + 5);
            let c6 = column(row, xs + 6);
            let c7 = column(row, xs + 7);
            let c8 = column(row, xs + 8);
            w = vec4<f32>(window(c0, c1, c2), window(c2, c3, c4), window(c4, c5, c6), window(c6, c7, c8));
        }
        acc = select(max(acc, w), acc + w, average());
    }
    if (average()) {
        // the divisor counts padding but not what lies beyond it (ceil mode)
        let rows = f32(min(ys + i32(p.kernel.x), i32(p.in_h + p.pad.x)) - ys);
        let x0 = vec4<i32>(xs) + vec4<i32>(0, 1, 2, 3) * i32(STRIDE);
        let cols = vec4<f32>(min(x0 + vec4<i32>(i32(WIDTH)), vec4<i32>(i32(p.in_w + p.pad.y))) - x0);
        acc = acc / (rows * cols);
    }
    let out = (p.out_c_offset + c) * p.out_h * p.out_w + oy * p.out_w + ox0;
    for (var j = 0u; j < 4u; j++) {
        if (ox0 + j < p.out_w) {
            output[out + j] = acc[j];
        }
    }
}

// Winograd convolution for 3x3 kernels with stride 1 and padding 1 or 0, in two sizes:
// F(2x2, 3x3) (4x4 input patches, 16 positions, 16 multiplies per output tile and channel
// pair instead of 36) and F(4x4, 3x3) (6x6 patches, 36 positions, 36 instead of 144).
// Three steps, the middle one being the convolution shader as batched 1x1 GEMMs, one per
// position p of the transformed tile:
//   input_transform(_4x4):  V[p][ci][t] = (B^T d B)[p] for the input patch d of tile t
//   (GEMM)                  M[p][co][t] = sum_ci U[p][ci][co] V[p][ci][t], U = G g G^T at load
//   output_transform(_4x4): y = A^T M A (+ bias, ReLU) into the output's channel slice
// One invocation per (tile, channel); x runs over tiles, y over channels.

// WORKGROUP_SIZE is written before this file by the engine (the module's `SHADER` in
// src/ops/), which sizes the dispatches with the same value.

// `struct Params` (the uniform `p`) is written before this file by the engine, from the
// Rust struct in src/ops/winograd.rs, so the two cannot differ.

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE, 1, 1)
fn input_transform(@builtin(global_invocation_id) gid: vec3<u32>) {
    let t = gid.x;
    let c = gid.y;
    if (t >= p.tiles || c >= p.channels) {
        return;
    }
    let y0 = i32(2u * (t / p.tiles_w)) - i32(p.pad);
    let x0 = i32(2u * (t % p.tiles_w)) - i32(p.pad);
    let base = (p.c_offset + c) * p.h * p.w;
    // d: the 4x4 patch, one vec4 per row, zero outside the image. Branch-free: indices out
    // of the image (negative ones wrap to huge) are loaded and masked away.
    let x = vec4<u32>(vec4<i32>(x0) + vec4<i32>(0, 1, 2, 3));
    let cols_inside = x < vec4<u32>(p.w);
    var d: array<vec4<f32>, 4>;
    for (var r = 0u; r < 4u; r++) {
        let y = u32(y0 + i32(r));
        let i = vec4<u32>(base + y * p.w) + x;
        let row = vec4<f32>(src[i.x], src[i.y], src[i.z], src[i.w]);
        d[r] = select(vec4<f32>(0.0), row, cols_inside & vec4<bool>(y < p.h));
    }
    // B^T d (rows), then (B^T d) B (columns)
    let rows = array<vec4<f32>, 4>(d[0] - d[2], d[1] + d[2], d[2] - d[1], d[1] - d[3]);
    let plane = p.channels * p.stride;
    for (var i = 0u; i < 4u; i++) {
        let q = rows[i];
        let v = vec4<f32>(q.x - q.z, q.y + q.z, q.z - q.y, q.y - q.w);
        for (var j = 0u; j < 4u; j++) {
            dst[(4u * i + j) * plane + c * p.stride + t] = v[j];
        }
    }
}

@group(0) @binding(3) var<storage, read> bias: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE, 1, 1)
fn output_transform(@builtin(global_invocation_id) gid: vec3<u32>) {
    let t = gid.x;
    let c = gid.y;
    if (t >= p.tiles || c >= p.channels) {
        return;
    }
    let plane = p.channels * p.stride;
    var m: array<vec4<f32>, 4>;
    for (var i = 0u; i < 4u; i++) {
        let at = (4u * i) * plane + c * p.stride + t;
        m[i] = vec4<f32>(src[at], src[at + plane], src[at + 2u * plane], src[at + 3u * plane]);
    }
    // A^T m (rows), then (A^T m) A (columns)
    let s0 = m[0] + m[1] + m[2];
    let s1 = m[1] - m[2] - m[3];
    let b = bias[c];
    var y = array<vec2<f32>, 2>(
        vec2<f32>(s0.x + s0.y + s0.z, s0.y - s0.z - s0.w) + b,
        vec2<f32>(s1.x + s1.y + s1.z, s1.y - s1.z - s1.w) + b,
    );
    let oy = 2u * (t / p.tiles_w);
    let ox = 2u * (t % p.tiles_w);
    let base = (p.c_offset + c) * p.h * p.w;
    for (var r = 0u; r < 2u; r++) {
        for (var k = 0u; k < 2u; k++) {
            if (oy + r < p.h && ox + k < p.w) {
                let v = y[r][k];
                dst[base + (oy + r) * p.w + ox + k] = select(v, max(v, 0.0), p.relu != 0u);
            }
        }
    }
}

// ---- F(4x4, 3x3): 6x6 input tiles, 36 GEMMs, 4x4 output tiles (2.25 multiplies per
// output instead of 4, for larger layers; the tiles waste more at odd edges).
// Rows of 6 are arrays indexed by constants only, so they stay in registers.

// B^T a for F(4, 3)
fn bt6(a: array<f32, 6>) -> array<f32, 6> {
    return array<f32, 6>(
        4.0 * a[0] - 5.0 * a[2] + a[4],
        -4.0 * a[1] - 4.0 * a[2] + a[3] + a[4],
        4.0 * a[1] - 4.0 * a[2] - a[3] + a[4],
        -2.0 * a[1] - a[2] + 2.0 * a[3] + a[4],
        2.0 * a[1] - a[2] - 2.0 * a[3] + a[4],
        4.0 * a[1] - 5.0 * a[3] + a[5],
    );
}

// A^T a for F(4, 3)
fn at6(a: array<f32, 6>) -> vec4<f32> {
    return vec4<f32>(
        a[0] + a[1] + a[2] + a[3] + a[4],
        a[1] - a[2] + 2.0 * a[3] - 2.0 * a[4],
        a[1] + a[2] + 4.0 * a[3] + 4.0 * a[4],
        a[1] - a[2] + 8.0 * a[3] - 8.0 * a[4] + a[5],
    );
}

// Six input values of row y from column x0 on, zero outside the image (branch-free).
fn load_row6(base: u32, y: i32, x0: i32) -> array<f32, 6> {
    let yu = u32(y);
    let row = base + yu * p.w;
    let row_inside = yu < p.h;
    var out: array<f32, 6>;
    let xa = vec4<u32>(vec4<i32>(x0) + vec4<i32>(0, 1, 2, 3));
    let xb = vec2<u32>(vec2<i32>(x0) + vec2<i32>(4, 5));
    let va = select(vec4<f32>(0.0), vec4<f32>(src[row + xa.x], src[row + xa.y], src[row + xa.z], src[row + xa.w]),
                    (xa < vec4<u32>(p.w)) & vec4<bool>(row_inside));
    let vb = select(vec2<f32>(0.0), vec2<f32>(src[row + xb.x], src[row + xb.y]), (xb < vec2<u32>(p.w)) & vec2<bool>(row_inside));
    return array<f32, 6>(va.x, va.y, va.z, va.w, vb.x, vb.y);
}

// Stores column j of the transformed tile: positions (i * 6 + j) for i = 0..5.
fn store_column6(j: u32, v: array<f32, 6>, at: u32, plane: u32) {
    dst[j * plane + at] = v[0];
    dst[(6u + j) * plane + at] = v[1];
    dst[(12u + j) * plane + at] = v[2];
    dst[(18u + j) * plane + at] = v[3];
    dst[(24u + j) * plane + at] = v[4];
    dst[(30u + j) * plane + at] = v[5];
}

@compute @workgroup_size(WORKGROUP_SIZE, 1, 1)
fn input_transform_4x4(@builtin(global_invocation_id) gid: vec3<u32>) {
    let t = gid.x;
    let c = gid.y;
    if (t >= p.tiles || c >= p.channels) {
        return;
    }
    let y0 = i32(4u * (t / p.tiles_w)) - i32(p.pad);
    let x0 = i32(4u * (t % p.tiles_w)) - i32(p.pad);
    let base = (p.c_offset + c) * p.h * p.w;
    // d B, row by row
    let e0 = bt6(load_row6(base, y0, x0));
    let e1 = bt6(load_row6(base, y0 + 1, x0));
    let e2 = bt6(load_row6(base, y0 + 2, x0));
    let e3 = bt6(load_row6(base, y0 + 3, x0));
    let e4 = bt6(load_row6(base, y0 + 4, x0));
    let e5 = bt6(load_row6(base, y0 + 5, x0));
    // B^T (d B), column by column
    let plane = p.channels * p.stride;
    let at = c * p.stride + t;
    store_column6(0u, bt6(array<f32, 6>(e0[0], e1[0], e2[0], e3[0], e4[0], e5[0])), at, plane);
    store_column6(1u, bt6(array<f32, 6>(e0[1], e1[1], e2[1], e3[1], e4[1], e5[1])), at, plane);
    store_column6(2u, bt6(array<f32, 6>(e0[2], e1[2], e2[2], e3[2], e4[2], e5[2])), at, plane);
    store_column6(3u, bt6(array<f32, 6>(e0[3], e1[3], e2[3], e3[3], e4[3], e5[3])), at, plane);
    store_column6(4u, bt6(array<f32, 6>(e0[4], e1[4], e2[4], e3[4], e4[4], e5[4])), at, plane);
    store_column6(5u, bt6(array<f32, 6>(e0[5], e1[5], e2[5], e3[5], e4[5], e5[5])), at, plane);
}

// Column j of the GEMM results: positions (i * 6 + j) for i = 0..5.
fn load_column6(j: u32, at: u32, plane: u32) -> array<f32, 6> {
    return array<f32, 6>(src[j * plane + at], src[(6u + j) * plane + at], src[(12u + j) * plane + at],
                         src[(18u + j) * plane + at], src[(24u + j) * plane + at], src[(30u + j) * plane + at]);
}

fn store_row4(base: u32, y: u32, x0: u32, v: vec4<f32>) {
    if (y >= p.h) {
        return;
    }
    for (var k = 0u; k < 4u; k++) {
        if (x0 + k < p.w) {
            dst[base + y * p.w + x0 + k] = select(v[k], max(v[k], 0.0), p.relu != 0u);
        }
    }
}

@compute @workgroup_size(WORKGROUP_SIZE, 1, 1)
fn output_transform_4x4(@builtin(global_invocation_id) gid: vec3<u32>) {
    let t = gid.x;
    let c = gid.y;
    if (t >= p.tiles || c >= p.channels) {
        return;
    }
    let plane = p.channels * p.stride;
    let at = c * p.stride + t;
    // A^T m, column by column: u_j[k]
    let u0 = at6(load_column6(0u, at, plane));
    let u1 = at6(load_column6(1u, at, plane));
    let u2 = at6(load_column6(2u, at, plane));
    let u3 = at6(load_column6(3u, at, plane));
    let u4 = at6(load_column6(4u, at, plane));
    let u5 = at6(load_column6(5u, at, plane));
    // (A^T m) A, row by row, plus bias
    let b = vec4<f32>(bias[c]);
    let oy = 4u * (t / p.tiles_w);
    let ox = 4u * (t % p.tiles_w);
    let base = (p.c_offset + c) * p.h * p.w;
    store_row4(base, oy, ox, at6(array<f32, 6>(u0.x, u1.x, u2.x, u3.x, u4.x, u5.x)) + b);
    store_row4(base, oy + 1u, ox, at6(array<f32, 6>(u0.y, u1.y, u2.y, u3.y, u4.y, u5.y)) + b);
    store_row4(base, oy + 2u, ox, at6(array<f32, 6>(u0.z, u1.z, u2.z, u3.z, u4.z, u5.z)) + b);
    store_row4(base, oy + 3u, ox, at6(array<f32, 6>(u0.w, u1.w, u2.w, u3.w, u4.w, u5.w)) + b);
}

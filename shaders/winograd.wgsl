// Winograd F(2x2, 3x3) for 3x3 convolutions with stride 1 and padding 1: each 2x2 output
// tile costs 16 multiplies per channel pair instead of 36. Three steps, the middle one
// being the convolution shader as 16 batched 1x1 GEMMs over the tiles:
//   input_transform:  V[p][ci][t] = (B^T d B)[p] for the 4x4 input patch d of tile t
//   (GEMM)            M[p][co][t] = sum_ci U[p][ci][co] V[p][ci][t], U = G g G^T at load
//   output_transform: y = A^T M A (+ bias, ReLU) into the output's channel slice
// One invocation per (tile, channel); x runs over tiles, y over channels.

struct Params {
    channels: u32, h: u32, w: u32, c_offset: u32,
    tiles_w: u32, tiles: u32, relu: u32, _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn input_transform(@builtin(global_invocation_id) gid: vec3<u32>) {
    let t = gid.x;
    let c = gid.y;
    if (t >= p.tiles || c >= p.channels) {
        return;
    }
    let y0 = i32(2u * (t / p.tiles_w)) - 1;
    let x0 = i32(2u * (t % p.tiles_w)) - 1;
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
    let plane = p.channels * p.tiles;
    for (var i = 0u; i < 4u; i++) {
        let q = rows[i];
        let v = vec4<f32>(q.x - q.z, q.y + q.z, q.z - q.y, q.y - q.w);
        for (var j = 0u; j < 4u; j++) {
            dst[(4u * i + j) * plane + c * p.tiles + t] = v[j];
        }
    }
}

@group(0) @binding(3) var<storage, read> bias: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn output_transform(@builtin(global_invocation_id) gid: vec3<u32>) {
    let t = gid.x;
    let c = gid.y;
    if (t >= p.tiles || c >= p.channels) {
        return;
    }
    let plane = p.channels * p.tiles;
    var m: array<vec4<f32>, 4>;
    for (var i = 0u; i < 4u; i++) {
        let at = (4u * i) * plane + c * p.tiles + t;
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

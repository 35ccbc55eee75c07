// Class activation maps (Zhou et al., CVPR 2016): for each class the top-k pass ranked,
// map[r][q] = sum_c weight[class_r][c] * features[c][q] over the last feature maps (before
// global average pooling), where weight is the classifier's (out, in) matrix. One
// invocation per (rank, pixel); the class of rank r is read from the top-k result on the
// GPU, so the maps need no round trip.

// `struct Params` (the uniform `p`) is written before this file by the engine, from the
// Rust struct in src/ops/cam.rs, so the two cannot differ. WORKGROUP_SIZE too.

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> features: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
// softmax_topk's result: (class index, probability bits) per rank
@group(0) @binding(3) var<storage, read> ranking: array<u32>;
@group(0) @binding(4) var<storage, read_write> maps: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= p.k * p.pixels) {
        return;
    }
    let rank = i / p.pixels;
    let pixel = i % p.pixels;
    let row = ranking[2u * rank] * p.channels;
    let base = p.c_offset * p.pixels + pixel;
    // Four partial sums shorten the dependency chain of the additions.
    var s = vec4<f32>(0.0);
    var c = 0u;
    for (; c + 4u <= p.channels; c += 4u) {
        let f = vec4<f32>(features[base + c * p.pixels], features[base + (c + 1u) * p.pixels],
                          features[base + (c + 2u) * p.pixels], features[base + (c + 3u) * p.pixels]);
        s += f * vec4<f32>(weights[row + c], weights[row + c + 1u], weights[row + c + 2u], weights[row + c + 3u]);
    }
    for (; c < p.channels; c++) {
        s.x += features[base + c * p.pixels] * weights[row + c];
    }
    maps[i] = (s.x + s.y) + (s.z + s.w);
}

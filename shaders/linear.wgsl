// Fully connected layer: out[j] = bias[j] + sum_i weight[j][i] * input[i], optional ReLU.
// One invocation per output; weights are row-major [out][in] as in PyTorch.

// WORKGROUP_SIZE is written before this file by the engine (the module's `SHADER` in
// src/ops/), which sizes the dispatches with the same value.

// `struct Params` (the uniform `p`) is written before this file by the engine, from the
// Rust struct in src/ops/linear.rs, so the two cannot differ.

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    if (j >= p.out_features) {
        return;
    }
    let row = j * p.in_features;
    // Four partial sums shorten the dependency chain of the additions.
    var s = vec4<f32>(0.0);
    var i = 0u;
    for (; i + 4u <= p.in_features; i += 4u) {
        s += vec4<f32>(input[i], input[i + 1u], input[i + 2u], input[i + 3u])
           * vec4<f32>(weights[row + i], weights[row + i + 1u], weights[row + i + 2u], weights[row + i + 3u]);
    }
    for (; i < p.in_features; i++) {
        s.x += input[i] * weights[row + i];
    }
    let v = bias[j] + (s.x + s.y) + (s.z + s.w);
    output[j] = select(v, max(v, 0.0), p.relu != 0u);
}

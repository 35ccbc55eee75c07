// Local response normalisation across channels (Caffe's ACROSS_CHANNELS, PyTorch's
// LocalResponseNorm): b = a / (k + alpha / size * sum of a^2 over `size` neighbouring
// channels centred on c, clipped at the ends) ^ beta.

// WORKGROUP_SIZE is written before this file by the engine (the module's `SHADER` in
// src/ops/), which sizes the dispatches with the same value.

// `struct Params` (the uniform `p`) is written before this file by the engine, from the
// Rust struct in src/ops/lrn.rs, so the two cannot differ.

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

// Each invocation walks all channels of 4 neighbouring pixels, keeping the sum of squares
// over the window as it slides (one load per channel instead of `size`); x runs over
// groups of 4 pixels (the last group repeats its last pixel).

fn load(c: u32, m: vec4<u32>) -> vec4<f32> {
    let base = c * p.pixels;
    return vec4<f32>(input[base + m.x], input[base + m.y], input[base + m.z], input[base + m.w]);
}

@compute @workgroup_size(WORKGROUP_SIZE, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let m0 = gid.x * 4u;
    if (m0 >= p.pixels) {
        return;
    }
    let m = min(vec4<u32>(m0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.pixels - 1u));
    let before = (p.size - 1u) / 2u; // channels below c in its window
    let after = p.size - 1u - before; // and above
    var sum = vec4<f32>(0.0);
    for (var j = 0u; j < min(after, p.channels); j++) {
        let a = load(j, m);
        sum += a * a;
    }
    let coefficient = p.alpha / f32(p.size);
    for (var c = 0u; c < p.channels; c++) {
        // the window of c: channels c - before ..= c + after, clipped
        if (c + after < p.channels) {
            let a = load(c + after, m);
            sum += a * a;
        }
        if (c > before) {
            let a = load(c - before - 1u, m);
            sum -= a * a;
        }
        let y = load(c, m) * pow(vec4<f32>(p.k) + coefficient * sum, vec4<f32>(-p.beta));
        let base = c * p.pixels;
        for (var i = 0u; i < 4u; i++) {
            if (m0 + i < p.pixels) {
                output[base + m0 + i] = y[i];
            }
        }
    }
}

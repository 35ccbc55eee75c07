// Local response normalisation across channels (Caffe's ACROSS_CHANNELS, PyTorch's
// LocalResponseNorm): b = a / (k + alpha / size * sum of a^2 over `size` neighbouring
// channels centred on c, clipped at the ends) ^ beta.

struct Params {
    channels: u32, pixels: u32, size: u32, _pad0: u32,
    alpha: f32, beta: f32, k: f32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let m = gid.x;
    let c = gid.y;
    if (m >= p.pixels || c >= p.channels) {
        return;
    }
    let half_lo = (p.size - 1u) / 2u;
    let first = u32(max(i32(c) - i32(half_lo), 0));
    let last = min(c + p.size - 1u - half_lo, p.channels - 1u);
    var sum = 0.0;
    for (var j = first; j <= last; j++) {
        let a = input[j * p.pixels + m];
        sum += a * a;
    }
    let scale = p.k + p.alpha / f32(p.size) * sum;
    output[c * p.pixels + m] = input[c * p.pixels + m] * pow(scale, -p.beta);
}

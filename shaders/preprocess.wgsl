// Turns an RGBA8 image texture into the network's input tensor (CHW f32): resize so the
// shorter side has the model's resize length, take the centre crop, scale each channel
// (value in 0..1 times `mul` plus `add`) and order the channels (RGB or BGR).
//
// The resize is PIL's antialiased bilinear ("triangle" filter whose support widens with
// the downscale factor), so a photo scaled down 10x is averaged, not aliased, and a 1:1
// input passes through unchanged. Out-of-image taps are not used (PIL clips the window).

// WORKGROUP_SIDE is written before this file by the engine (ops/preprocess.rs, `SHADER`).

// `struct Params` (the uniform `p`) is written before this file by the engine, from the
// Rust struct in src/ops/preprocess.rs, so the two cannot differ.

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var image: texture_2d<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

fn triangle(x: f32) -> f32 {
    return max(0.0, 1.0 - abs(x));
}

@compute @workgroup_size(WORKGROUP_SIDE, WORKGROUP_SIDE, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= p.out_w || gid.y >= p.out_h) {
        return;
    }
    // Centre of this output pixel in source pixel coordinates.
    let cx = (f32(gid.x + p.crop_x) + 0.5) * p.scale_x;
    let cy = (f32(gid.y + p.crop_y) + 0.5) * p.scale_y;
    let x_begin = u32(max(i32(cx - p.support_x + 0.5), 0));
    let x_end = u32(min(i32(cx + p.support_x + 0.5), i32(p.src_w)));
    let y_begin = u32(max(i32(cy - p.support_y + 0.5), 0));
    let y_end = u32(min(i32(cy + p.support_y + 0.5), i32(p.src_h)));
    let fx = max(p.scale_x, 1.0);
    let fy = max(p.scale_y, 1.0);
    var sum = vec4<f32>(0.0);
    var weight_sum = 0.0;
    for (var y = y_begin; y < y_end; y++) {
        let wy = triangle((f32(y) - cy + 0.5) / fy);
        for (var x = x_begin; x < x_end; x++) {
            let w = wy * triangle((f32(x) - cx + 0.5) / fx);
            sum += w * textureLoad(image, vec2<u32>(x, y), 0);
            weight_sum += w;
        }
    }
    var rgb = sum.rgb / max(weight_sum, 1e-20);
    if (p.bgr != 0u) {
        rgb = rgb.bgr;
    }
    let v = rgb * p.mul.rgb + p.add.rgb;
    let plane = p.out_w * p.out_h;
    let m = gid.y * p.out_w + gid.x;
    output[m] = v.x;
    output[plane + m] = v.y;
    output[2u * plane + m] = v.z;
}

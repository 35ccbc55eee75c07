// Max and average pooling over CHW f32 tensors, with PyTorch's semantics for padding and
// ceil-mode windows; global average pooling is the average mode with a window as large as
// the input. One invocation per output value; x runs over pixels, y over channels.
//
// mode 0, max: window positions outside the input are ignored (not zeros).
// mode 1, average with the padding counted in the divisor (count_include_pad): the divisor
//         is the window clipped to the padded input, as in PyTorch and Caffe.

struct Params {
    channels: u32, in_h: u32, in_w: u32, in_c_offset: u32,
    out_h: u32, out_w: u32, out_c_offset: u32, mode: u32,
    kernel_h: u32, kernel_w: u32, stride_h: u32, stride_w: u32,
    pad_h: u32, pad_w: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let m = gid.x;
    let c = gid.y;
    if (m >= p.out_h * p.out_w || c >= p.channels) {
        return;
    }
    let oy = m / p.out_w;
    let ox = m % p.out_w;
    // Window in padded coordinates, then clipped.
    let ys = i32(oy * p.stride_h) - i32(p.pad_h);
    let xs = i32(ox * p.stride_w) - i32(p.pad_w);
    let ye_padded = min(ys + i32(p.kernel_h), i32(p.in_h + p.pad_h));
    let xe_padded = min(xs + i32(p.kernel_w), i32(p.in_w + p.pad_w));
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

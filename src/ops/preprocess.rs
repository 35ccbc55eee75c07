//! From an RGBA8 image texture to the network's input tensor (`shaders/preprocess.wgsl`):
//! resize (shorter side to `InputSpec::resize`), centre crop, per-channel scale and offset,
//! channel order.

use super::{interface, Context, Dispatch, Variant, View};
use crate::gpu_objects;
use crate::graph::InputSpec;

interface! {
    "preprocess", include_str!("../../shaders/preprocess.wgsl"),
    // workgroups of WORKGROUP_SIDE x WORKGROUP_SIDE output pixels
    constants [WORKGROUP_SIDE = 8] entries [main(image, output)]
    struct Params {
        src_w: u32, src_h: u32, out_w: u32, out_h: u32, crop_x: u32, crop_y: u32, bgr: u32, _pad0: u32,
        scale_x: f32, scale_y: f32, support_x: f32, support_y: f32, mul: [f32; 4],
        add: [f32; 4],
    }
}

const WORKGROUP_SIDE: u32 = SHADER.constant(0);

/// The texture an image is uploaded into: RGBA8, usable by `copyExternalImageToTexture`
/// on the web (which needs RENDER_ATTACHMENT) and by `write_texture` natively.
pub fn create_texture(device: &wgpu::Device, width: u32, height: u32) -> gpu_objects::Texture {
    gpu_objects::texture(
        device,
        &wgpu::TextureDescriptor {
            label: Some("input image"),
            size: wgpu::Extent3d { width, height, depth_or_array_layers: 1 },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba8Unorm,
            usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST | wgpu::TextureUsages::RENDER_ATTACHMENT,
            view_formats: &[],
        },
    )
}

/// Writes tightly packed RGBA8 pixels into a texture made by [`create_texture`].
pub fn write_texture(queue: &wgpu::Queue, texture: &wgpu::Texture, rgba: &[u8]) {
    let size = texture.size();
    queue.write_texture(
        texture.as_image_copy(),
        rgba,
        wgpu::TexelCopyBufferLayout { offset: 0, bytes_per_row: Some(4 * size.width), rows_per_image: None },
        size,
    );
}

/// Records the resize, crop and normalisation of `image` into the input tensor `output`.
pub fn dispatch(ctx: &Context, spec: &InputSpec, image: &wgpu::Texture, output: View) -> Dispatch {
    let size = image.size();
    let g = spec.geometry(size.width, size.height);
    let params = Params {
        src_w: size.width,
        src_h: size.height,
        out_w: spec.crop,
        out_h: spec.crop,
        crop_x: g.crop_x,
        crop_y: g.crop_y,
        bgr: spec.bgr as u32,
        _pad0: 0,
        scale_x: g.scale_x,
        scale_y: g.scale_y,
        support_x: g.scale_x.max(1.0),
        support_y: g.scale_y.max(1.0),
        mul: [spec.mul[0], spec.mul[1], spec.mul[2], 0.0],
        add: [spec.add[0], spec.add[1], spec.add[2], 0.0],
    };
    assert_eq!(output.c_offset, 0);
    let view = image.create_view(&Default::default());
    let groups = spec.crop.div_ceil(WORKGROUP_SIDE);
    ctx.kernel(&SHADER, &Variant::entry("main")).dispatch(
        &ctx.device,
        "preprocess".into(),
        &params,
        &[("image", wgpu::BindingResource::TextureView(&view)), ("output", output.buffer.as_entire_binding())],
        [groups, groups, 1],
    )
}

/// CPU twin on tightly packed RGBA8 pixels; returns the CHW input tensor.
pub fn cpu(spec: &InputSpec, rgba: &[u8], width: u32, height: u32) -> Vec<f32> {
    let g = spec.geometry(width, height);
    let n = spec.crop as usize;
    let mut out = vec![0.0f32; 3 * n * n];
    let triangle = |x: f32| (1.0 - x.abs()).max(0.0);
    // PIL's window of source pixels for the output centre `c`, and the filter widths.
    let window = |c: f32, support: f32, len: u32| {
        let begin = ((c - support + 0.5) as i32).max(0) as u32;
        let end = ((c + support + 0.5) as i32).min(len as i32) as u32;
        begin..end
    };
    for oy in 0..n {
        for ox in 0..n {
            let cx = ((ox as u32 + g.crop_x) as f32 + 0.5) * g.scale_x;
            let cy = ((oy as u32 + g.crop_y) as f32 + 0.5) * g.scale_y;
            let (fx, fy) = (g.scale_x.max(1.0), g.scale_y.max(1.0));
            let mut sum = [0.0f64; 3];
            let mut weight_sum = 0.0f64;
            for y in window(cy, fy, height) {
                let wy = triangle((y as f32 - cy + 0.5) / fy);
                for x in window(cx, fx, width) {
                    let w = (wy * triangle((x as f32 - cx + 0.5) / fx)) as f64;
                    let px = &rgba[4 * (y * width + x) as usize..];
                    for ch in 0..3 {
                        sum[ch] += w * px[ch] as f64 / 255.0;
                    }
                    weight_sum += w;
                }
            }
            for (i, slot) in [0usize, 1, 2].into_iter().enumerate() {
                let src = if spec.bgr { 2 - slot } else { slot };
                let v = (sum[src] / weight_sum.max(1e-20)) as f32;
                out[i * n * n + oy * n + ox] = v * spec.mul[i] + spec.add[i];
            }
        }
    }
    out
}

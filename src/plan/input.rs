//! From RGBA8 pixels to the network's input tensor on the host (the CPU backend's every
//! frame, and photos larger than the GPU's textures): the same antialiased
//! resize, centre crop and scaling as `shaders/preprocess.wgsl` (and its twin
//! `ops::preprocess::cpu`), done separably (each kept source row filtered horizontally
//! once, then the columns vertically), rows spread over the threads, so a 12-megapixel
//! photo takes milliseconds.

use crate::graph::InputSpec;
use crate::parallel::{self, Disjoint};

/// The source taps of one output coordinate and their (unnormalised) weights.
struct Taps {
    first: usize,
    weights: Vec<f32>,
}

/// PIL's triangle filter along one axis: output `i` (of `n`, after `crop`) samples source
/// positions around `(i + crop + 0.5) * scale`, its support widened by the downscale.
fn taps(n: usize, crop: u32, scale: f32, len: u32) -> Vec<Taps> {
    let support = scale.max(1.0);
    (0..n)
        .map(|i| {
            let centre = ((i as u32 + crop) as f32 + 0.5) * scale;
            let begin = ((centre - support + 0.5) as i32).max(0) as usize;
            let end = ((centre + support + 0.5) as i32).min(len as i32).max(begin as i32) as usize;
            let weights = (begin..end).map(|x| (1.0 - ((x as f32 - centre + 0.5) / support).abs()).max(0.0)).collect();
            Taps { first: begin, weights }
        })
        .collect()
}

/// The CHW input tensor of `spec` for a `width` x `height` RGBA8 image, into `out`.
pub fn run(spec: &InputSpec, rgba: &[u8], width: u32, height: u32, out: &mut [f32]) {
    let g = spec.geometry(width, height);
    let n = spec.crop as usize;
    let columns = taps(n, g.crop_x, g.scale_x, width);
    let rows = taps(n, g.crop_y, g.scale_y, height);
    // Horizontal pass over the source rows the crop needs: (rows, n, 3) sums.
    let (top, bottom) = (rows[0].first, rows.iter().map(|t| t.first + t.weights.len()).max().unwrap_or(0));
    let mut horizontal = vec![0.0f32; (bottom - top) * n * 3];
    let filtered = Disjoint::new(&mut horizontal, n * 3);
    parallel::for_each(bottom - top, |r| {
        let y = top + r;
        let row = &rgba[4 * y * width as usize..4 * (y + 1) * width as usize];
        // SAFETY: each task writes its own source row's sums.
        let sums = unsafe { filtered.get(r) };
        for (x, t) in columns.iter().enumerate() {
            let mut sum = [0.0f32; 3];
            for (i, w) in t.weights.iter().enumerate() {
                let px = &row[4 * (t.first + i)..];
                for ch in 0..3 {
                    sum[ch] += w * px[ch] as f32;
                }
            }
            sums[x * 3..][..3].copy_from_slice(&sum);
        }
    });
    let column_weight: Vec<f32> = columns.iter().map(|t| t.weights.iter().sum()).collect();
    // rows of each output channel plane, one output row per task
    let plane = n * n;
    let (red, rest) = out[..3 * plane].split_at_mut(plane);
    let (green, blue) = rest.split_at_mut(plane);
    let planes = [Disjoint::new(red, n), Disjoint::new(green, n), Disjoint::new(blue, n)];
    parallel::for_each(n, |oy| {
        let t = &rows[oy];
        let row_weight: f32 = t.weights.iter().sum();
        // SAFETY: each task writes its own output row of each plane.
        let mut outs = planes.each_ref().map(|p| unsafe { p.get(oy) });
        for ox in 0..n {
            let mut sum = [0.0f32; 3];
            for (i, w) in t.weights.iter().enumerate() {
                let h = &horizontal[((t.first + i - top) * n + ox) * 3..];
                for ch in 0..3 {
                    sum[ch] += w * h[ch];
                }
            }
            let total = (row_weight * column_weight[ox]).max(1e-20) * 255.0;
            for (i, out) in outs.iter_mut().enumerate() {
                let src = if spec.bgr { 2 - i } else { i };
                out[ox] = sum[src] / total * spec.mul[i] + spec.add[i];
            }
        }
    });
}

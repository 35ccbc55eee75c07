//! Max and average pooling on the CPU, in f32; the same windows as `ops::pool::cpu`
//! (padding ignored by max, counted by average).
//!
//! Inception's branch pools (3x3, stride 1, same size out) run separably over blocks of
//! whole planes: a horizontal pass over the flattened rows, then a vertical one, each a
//! few long vectorisable loops over shifted slices, with the edge columns fixed after.
//! Per-row loops over 14-pixel rows cost 0.5 ms a layer here; the flat passes a tenth of
//! that. Strided max pools reduce rows, then columns, then take every stride-th; average
//! pools reduce each output row input row by input row; a channel per task.

use super::{CpuCall, CpuLayer};
use crate::graph::{PoolMode, PoolSpec, Window};
use crate::parallel::{self, Disjoint};

pub struct Pool(pub PoolSpec);

impl CpuLayer for Pool {
    fn run(&self, call: CpuCall) {
        let Window { kernel, stride, pad } = self.0.window;
        let same_size = |k: u32, p: u32| k == 2 * p + 1;
        if stride == (1, 1) && same_size(kernel.0, pad.0) && same_size(kernel.1, pad.1) {
            self.separable(call)
        } else {
            match self.0.mode {
                PoolMode::Max => self.strided_max(call),
                PoolMode::Average => self.strided_average(call),
            }
        }
    }
}

/// Planes per task of the separable pools.
const PLANES_PER_TASK: usize = 16;

impl Pool {
    /// Stride 1, output the size of the input (a window of 2 p + 1 with padding p).
    fn separable(&self, call: CpuCall) {
        let spec = &self.0;
        let (py, px) = (spec.window.pad.0 as usize, spec.window.pad.1 as usize);
        let shape = call.input_shape;
        let (w, plane) = (shape.w as usize, shape.pixels() as usize);
        let (input, output) = call.tensors(shape);
        let blocks = Disjoint::new(output, PLANES_PER_TASK * plane);
        let max = spec.mode == PoolMode::Max;
        let op = move |a: f32, b: f32| if max { super::max(a, b) } else { a + b };
        parallel::for_each((shape.c as usize).div_ceil(PLANES_PER_TASK), |block| {
            // SAFETY: each task writes its own planes.
            let out = unsafe { blocks.get(block) };
            let x = &input[block * PLANES_PER_TASK * plane..][..out.len()];
            // horizontal: row[i] = op of x[i - px..=i + px], fixed at the row ends after
            let mut rows = x.to_vec();
            for d in 1..=px {
                let n = x.len() - d;
                rows[d..].iter_mut().zip(&x[..n]).for_each(|(r, &v)| *r = op(*r, v));
                rows[..n].iter_mut().zip(&x[d..]).for_each(|(r, &v)| *r = op(*r, v));
            }
            for (row, src) in rows.chunks_exact_mut(w).zip(x.chunks_exact(w)) {
                for col in (0..px.min(w)).chain(w.saturating_sub(px).max(px)..w) {
                    let taps = &src[col.saturating_sub(px)..(col + px + 1).min(w)];
                    row[col] = taps[1..].iter().fold(taps[0], |a, &b| op(a, b));
                }
            }
            // vertical, within each plane (a plane's first and last rows have fewer taps)
            for (o, r) in out.chunks_exact_mut(plane).zip(rows.chunks_exact(plane)) {
                o.copy_from_slice(r);
                for d in 1..=py.min(shape.h as usize - 1) {
                    let n = plane - d * w;
                    o[d * w..].iter_mut().zip(&r[..n]).for_each(|(o, &v)| *o = op(*o, v));
                    o[..n].iter_mut().zip(&r[d * w..]).for_each(|(o, &v)| *o = op(*o, v));
                }
                if !max {
                    let divisor = spec.window.positions() as f32;
                    o.iter_mut().for_each(|v| *v /= divisor);
                }
            }
        });
    }

    /// Max pools of any stride, an output row at a time in three contiguous passes: the
    /// max over the window's input rows, then over its columns at every position, then
    /// every stride-th of those. Only the last is strided; tap by tap strided loops were
    /// scalar and took 12% of an int8 BVLC pass (`perf`, AVX2 host).
    fn strided_max(&self, call: CpuCall) {
        let Window { kernel, stride, pad } = self.0.window;
        let (shape, out) = (call.input_shape, self.0.output_shape(call.input_shape));
        let (ih, iw) = (shape.h as i64, shape.w as usize);
        let (ow, sx, kw, px) = (out.w as usize, stride.1 as usize, kernel.1 as usize, pad.1 as usize);
        let (plane, out_plane) = (shape.pixels() as usize, out.pixels() as usize);
        let (input, output) = call.tensors(out);
        // a row with the padding (and what ceil mode's last window reaches past it) at the
        // lowest value, which never wins a max
        let width = ((ow - 1) * sx + kw).max(px + iw);
        let positions = (ow - 1) * sx + 1;
        let max = super::max;
        let channels = Disjoint::new(output, out_plane);
        parallel::for_each(shape.c as usize, |c| {
            let x = &input[c * plane..(c + 1) * plane];
            // SAFETY: each task writes its own channel.
            let y = unsafe { channels.get(c) };
            let mut padded = vec![f32::MIN; width];
            let mut columns = vec![0.0f32; positions];
            for (oy, row_out) in y.chunks_exact_mut(ow).enumerate() {
                let top = oy as i64 * stride.0 as i64 - pad.0 as i64;
                let rows = top.max(0) as usize..(top + kernel.0 as i64).min(ih).max(top.max(0)) as usize;
                let within = &mut padded[px..px + iw];
                within.fill(f32::MIN);
                for r in rows {
                    within.iter_mut().zip(&x[r * iw..][..iw]).for_each(|(v, &t)| *v = max(*v, t));
                }
                columns.copy_from_slice(&padded[..positions]);
                for kx in 1..kw {
                    columns.iter_mut().zip(&padded[kx..]).for_each(|(v, &t)| *v = max(*v, t));
                }
                for (o, &v) in row_out.iter_mut().zip(columns.iter().step_by(sx)) {
                    *o = v;
                }
            }
        });
    }

    /// Average pools of any stride (padding counted in the divisor), each output row
    /// summed input row by input row, tap by tap.
    fn strided_average(&self, call: CpuCall) {
        let spec = &self.0;
        let Window { kernel, stride, pad } = spec.window;
        let (shape, out) = (call.input_shape, spec.output_shape(call.input_shape));
        let (ih, iw) = (shape.h as i64, shape.w as i64);
        let (plane, out_plane) = (shape.pixels() as usize, out.pixels() as usize);
        let (input, output) = call.tensors(out);
        // Per output column: its window's width, padding included (average's divisor).
        let span = |o: i64, n: i64, k: u32, s: u32, p: u32| {
            let start = o * s as i64 - p as i64;
            let end = (start + k as i64).min(n + p as i64);
            (start.max(0) as usize, end.min(n) as usize, end - start)
        };
        let columns: Vec<_> = (0..out.w as i64).map(|ox| span(ox, iw, kernel.1, stride.1, pad.1)).collect();
        let channels = Disjoint::new(output, out_plane);
        parallel::for_each(shape.c as usize, |c| {
            let x = &input[c * plane..(c + 1) * plane];
            // SAFETY: each task writes its own channel.
            let y = unsafe { channels.get(c) };
            for oy in 0..out.h as usize {
                let (top, bottom, height) = span(oy as i64, ih, kernel.0, stride.0, pad.0);
                let row_out = &mut y[oy * out.w as usize..(oy + 1) * out.w as usize];
                row_out.fill(0.0);
                for r in top..bottom {
                    let row = &x[r * iw as usize..(r + 1) * iw as usize];
                    for kx in 0..kernel.1 as i64 {
                        // the output columns whose tap kx lies inside the row
                        let first = (pad.1 as i64 - kx).max(0).div_euclid(stride.1 as i64)
                            + ((pad.1 as i64 - kx).max(0) % stride.1 as i64 != 0) as i64;
                        let last = (iw - 1 + pad.1 as i64 - kx).div_euclid(stride.1 as i64).min(out.w as i64 - 1);
                        if first > last {
                            continue;
                        }
                        let start = (first * stride.1 as i64 - pad.1 as i64 + kx) as usize;
                        let outputs = &mut row_out[first as usize..=last as usize];
                        let step = stride.1 as usize;
                        // indexed, bounds checked once (not a `step_by` iterator)
                        let taps = &row[start..start + (outputs.len() - 1) * step + 1];
                        for (i, o) in outputs.iter_mut().enumerate() {
                            *o += taps[i * step];
                        }
                    }
                }
                for (o, &(_, _, width)) in row_out.iter_mut().zip(&columns) {
                    *o /= (height * width) as f32;
                }
            }
        });
    }
}

//! Max and average pooling on the CPU, in f32, a channel per task; the same windows as
//! `ops::pool::cpu` (padding ignored by max, counted by average).

use super::{threads, CpuCall, CpuLayer};
use crate::ops::pool::{PoolMode, PoolSpec};
use crate::ops::Window;

pub struct Pool(pub PoolSpec);

impl CpuLayer for Pool {
    fn run(&self, call: CpuCall) {
        let spec = &self.0;
        let Window { kernel, stride, pad } = spec.window;
        let (shape, out) = (call.input_shape, spec.output_shape(call.input_shape));
        let (ih, iw) = (shape.h as i64, shape.w as i64);
        let (plane, out_plane) = (shape.pixels() as usize, out.pixels() as usize);
        let input = &call.input.data[call.input.c_offset as usize * plane..][..shape.elements()];
        let output = &mut call.output.data[call.output.c_offset as usize * out_plane..][..out.elements()];
        let channels = super::Disjoint::new(output, out_plane);
        threads::for_each(shape.c as usize, |c| {
            let x = &input[c * plane..(c + 1) * plane];
            // SAFETY: each task writes its own channel.
            let y = unsafe { channels.get(c) };
            for oy in 0..out.h as i64 {
                let ys = oy * stride.0 as i64 - pad.0 as i64;
                let ye = (ys + kernel.0 as i64).min(ih + pad.0 as i64);
                for ox in 0..out.w as i64 {
                    let xs = ox * stride.1 as i64 - pad.1 as i64;
                    let xe = (xs + kernel.1 as i64).min(iw + pad.1 as i64);
                    let rows = ys.max(0)..ye.min(ih);
                    let cols = xs.max(0) as usize..xe.min(iw) as usize;
                    let window = rows.map(|r| &x[(r * iw) as usize..][cols.clone()]);
                    y[(oy * out.w as i64 + ox) as usize] = match spec.mode {
                        PoolMode::Max => window.flatten().copied().fold(f32::MIN, f32::max),
                        PoolMode::Average => window.map(|r| r.iter().sum::<f32>()).sum::<f32>() / ((ye - ys) * (xe - xs)) as f32,
                    };
                }
            }
        });
    }
}

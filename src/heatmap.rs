//! What a class activation map becomes on screen or in a file, the same natively and in
//! the page: resized smoothly over the network's input crop, normalised to 0..1 and
//! coloured.

/// One class's activation over a grid, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct ActivationMap {
    pub width: u32,
    pub height: u32,
    pub values: Vec<f32>,
}

impl ActivationMap {
    /// Bilinear resize with pixel centres aligned and edges clamped (PyTorch's
    /// `interpolate(mode="bilinear", align_corners=False)`, OpenCV's `resize`).
    pub fn resized(&self, width: u32, height: u32) -> ActivationMap {
        let axis = |from: u32, to: u32| -> Vec<(usize, usize, f32)> {
            (0..to)
                .map(|o| {
                    let x = ((o as f32 + 0.5) * from as f32 / to as f32 - 0.5).clamp(0.0, (from - 1) as f32);
                    let i = x.floor() as usize;
                    (i, (i + 1).min(from as usize - 1), x - i as f32)
                })
                .collect()
        };
        let (xs, ys) = (axis(self.width, width), axis(self.height, height));
        let at = |x: usize, y: usize| self.values[y * self.width as usize + x];
        let mut values = Vec::with_capacity(width as usize * height as usize);
        for &(y0, y1, fy) in &ys {
            for &(x0, x1, fx) in &xs {
                let top = at(x0, y0) + (at(x1, y0) - at(x0, y0)) * fx;
                let bottom = at(x0, y1) + (at(x1, y1) - at(x0, y1)) * fx;
                values.push(top + (bottom - top) * fy);
            }
        }
        ActivationMap { width, height, values }
    }

    /// Min-max normalised to 0..1 (a flat map becomes zeros).
    pub fn normalized(&self) -> ActivationMap {
        let min = self.values.iter().copied().fold(f32::INFINITY, f32::min);
        let max = self.values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let range = max - min;
        let values = self.values.iter().map(|&v| if range > 0.0 { (v - min) / range } else { 0.0 }).collect();
        ActivationMap { values, ..*self }
    }

    /// The map over a `size` x `size` crop, normalised: what `classify --cam` prints and
    /// the page draws.
    pub fn over_crop(&self, size: u32) -> ActivationMap {
        self.resized(size, size).normalized()
    }

    /// (x, y) of the largest value.
    pub fn peak(&self) -> (u32, u32) {
        let i = (0..self.values.len()).max_by(|&a, &b| self.values[a].total_cmp(&self.values[b])).unwrap_or(0);
        (i as u32 % self.width, i as u32 / self.width)
    }

    /// RGBA pixels of a normalised map: the "jet" colours (blue, cyan, yellow, red) with
    /// an alpha that rises with the value, so the parts of a picture the class does not
    /// look at stay visible under the overlay.
    pub fn heat_rgba(&self) -> Vec<u8> {
        self.values.iter().flat_map(|&v| heat_color(v)).collect()
    }
}

/// The colour of a normalised activation `v` (0..1).
pub fn heat_color(v: f32) -> [u8; 4] {
    let v = v.clamp(0.0, 1.0);
    let channel = |centre: f32| (255.0 * (1.5 - (4.0 * v - centre).abs()).clamp(0.0, 1.0)).round() as u8;
    [channel(3.0), channel(2.0), channel(1.0), (255.0 * (0.3 + 0.7 * v)).round() as u8]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_matches_pytorch_bilinear_without_aligned_corners() {
        // torch.nn.functional.interpolate(torch.tensor([[[[0., 1.], [2., 3.]]]]), size=4,
        // mode="bilinear", align_corners=False)[0, 0, 0] = [0, 0.25, 0.75, 1]
        let map = ActivationMap { width: 2, height: 2, values: vec![0.0, 1.0, 2.0, 3.0] };
        let r = map.resized(4, 4);
        assert_eq!(&r.values[..4], &[0.0, 0.25, 0.75, 1.0]);
        assert_eq!(&r.values[12..], &[2.0, 2.25, 2.75, 3.0]);
    }

    #[test]
    fn normalised_spans_zero_to_one_and_a_flat_map_is_zero() {
        let map = ActivationMap { width: 3, height: 1, values: vec![-2.0, 0.0, 6.0] };
        assert_eq!(map.normalized().values, vec![0.0, 0.25, 1.0]);
        assert_eq!(map.peak(), (2, 0));
        let flat = ActivationMap { width: 2, height: 1, values: vec![5.0, 5.0] };
        assert_eq!(flat.normalized().values, vec![0.0, 0.0]);
    }

    #[test]
    fn colours_run_from_blue_to_red() {
        assert_eq!(heat_color(0.0), [0, 0, 128, 77]);
        assert_eq!(heat_color(1.0), [128, 0, 0, 255]);
        assert_eq!(heat_color(0.5)[1], 255);
    }
}

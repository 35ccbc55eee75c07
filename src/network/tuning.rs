//! Choosing how each convolution is computed: the kernels (`ConvKernel`), switching between
//! them, per-layer GPU timing, and the autotuner that measures them on the adapter.

use super::*;

impl Network {
    /// Sets the kernel of each convolution (in layer order), or of all when one is given.
    /// Winograd falls back to the direct kernel (same tile) where it does not apply; after
    /// `release_unused_kernels`, a layer whose other algorithm was released keeps its kernel.
    pub fn set_conv_kernels(&mut self, kernels: &[ConvKernel]) -> Result<(), Error> {
        if kernels.len() != 1 && kernels.len() != self.convs.len() {
            return Err(Error::Usage(format!("{} kernels for {} convolutions", kernels.len(), self.convs.len())));
        }
        for i in 0..self.convs.len() {
            let wanted = kernels[if kernels.len() == 1 { 0 } else { i }];
            let conv = &self.convs[i];
            let kernel = match wanted {
                ConvKernel::Winograd(size, tile) if conv.transformed(size).is_none() => match conv.weights {
                    Some(_) => ConvKernel::Direct(tile),
                    None => conv.kernel, // released: keep the algorithm
                },
                ConvKernel::Direct(_) if conv.weights.is_none() => conv.kernel,
                k => k,
            };
            if self.convs[i].kernel != kernel {
                self.convs[i].kernel = kernel;
                self.layers[self.convs[i].layer] = self.record(&self.convs[i]);
            }
        }
        self.count_dispatches();
        Ok(())
    }

    pub(super) fn count_dispatches(&mut self) {
        // preprocessing, the layers, top-k
        self.stats.dispatches = 2 + self.layers.iter().map(Vec::len).sum::<usize>();
    }

    /// Frees what the current choice of kernels does not use: the weights of the other
    /// algorithm of each layer, and Winograd's buffers if no layer uses it. Afterwards a
    /// layer keeps its algorithm.
    pub fn release_unused_kernels(&mut self) {
        for conv in &mut self.convs {
            let keep = match conv.kernel {
                ConvKernel::Direct(_) => None,
                ConvKernel::Winograd(size, _) => Some(size),
            };
            let mut unused: Vec<wgpu::Buffer> = Vec::new();
            if keep.is_some() {
                unused.extend(conv.weights.take());
            }
            for (size, buffer) in std::mem::take(&mut conv.winograd_weights) {
                if Some(size) == keep {
                    conv.winograd_weights.push((size, buffer));
                } else {
                    unused.push(buffer);
                }
            }
            self.stats.weight_bytes -= unused.iter().map(wgpu::Buffer::size).sum::<u64>();
        }
        if self.convs.iter().all(|c| matches!(c.kernel, ConvKernel::Direct(_))) {
            if let Some((v, m)) = self.scratch.take() {
                self.stats.activation_bytes -= v.size() + m.size();
            }
        }
    }

    /// Measures every kernel (each tile of [`TILES`], direct and Winograd) on every distinct
    /// convolution shape of this network on this adapter (one timed pass per kernel, each
    /// layer timed alone) and keeps the fastest for each. Returns the choice, which
    /// [`Network::set_conv_kernels`] restores on a later visit without measuring. Needs
    /// timestamp queries and an image set.
    pub async fn autotune(&mut self) -> Result<Vec<ConvKernel>, Error> {
        if self.convs.iter().any(|c| c.weights.is_none() || (c.winograd_weights.len() < 2 && winograd::applies(&c.spec))) {
            return Err(Error::Usage("autotune must come before release_unused_kernels".into()));
        }
        // Winograd's GEMMs are large: only the wider tiles are worth a timed pass. The
        // workgroup-memory kernel is for GPUs: on software adapters its barriers make it
        // about ten times slower (../shared/peers: SwiftShader's matmul probe), and one
        // timed pass of it would cost seconds.
        let wide = [TILES[0], TILES[2], WORKGROUP_TILE];
        let candidates: Vec<ConvKernel> = TILES
            .iter()
            .map(|&t| ConvKernel::Direct(t))
            .chain(winograd::Size::ALL.into_iter().flat_map(|s| wide.map(|t| ConvKernel::Winograd(s, t))))
            .filter(|k| !(self.software && k.tile() == WORKGROUP_TILE))
            .collect();
        // time[k][c]: milliseconds of convolution c with candidate k (None: not applicable)
        let mut time: Vec<Vec<Option<f64>>> = Vec::new();
        for &candidate in &candidates {
            self.set_conv_kernels(&[candidate])?;
            let layers = self.profile().await?;
            // profile() lists preprocessing first, then the layers in order
            time.push(self.convs.iter().map(|c| (c.kernel == candidate).then(|| layers[1 + c.layer].ms)).collect());
        }
        let mut best = Vec::with_capacity(self.convs.len());
        for conv in &self.convs {
            let same: Vec<usize> = (0..self.convs.len()).filter(|&j| self.convs[j].shape_key() == conv.shape_key()).collect();
            let total = |k: usize| same.iter().map(|&j| time[k][j]).sum::<Option<f64>>();
            let fastest = (0..candidates.len())
                .filter_map(|k| total(k).map(|t| (k, t)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(k, _)| candidates[k])
                .unwrap_or(ConvKernel::Direct(DEFAULT_TILE));
            best.push(fastest);
        }
        self.set_conv_kernels(&best)?;
        Ok(best)
    }

    /// Times every dispatch of one forward pass on the GPU, each in its own compute pass
    /// with timestamps (so the sum is a little above a normal pass). Needs an image set and
    /// the adapter's timestamp queries.
    pub async fn profile(&self) -> Result<Vec<LayerTime>, Error> {
        let (_, _, period) = self.timer.as_ref().ok_or_else(|| Error::Usage("this adapter has no timestamp queries".into()))?;
        let (_, preprocess) = self.image.as_ref().ok_or_else(|| Error::Usage("no image to classify yet".into()))?;
        let mut all: Vec<(&str, &[Dispatch], u64)> = vec![("preprocess", std::slice::from_ref(preprocess), 0)];
        for (i, layer) in self.layers.iter().enumerate() {
            all.push((&self.layer_names[i], layer, self.layer_work[i]));
        }
        all.push(("softmax_topk", std::slice::from_ref(&self.topk), 0));
        let count = 2 * all.len() as u32;
        let queries = self.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("per-layer timestamps"),
            ty: wgpu::QueryType::Timestamp,
            count,
        });
        let buffer = |usage| {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("per-layer timestamps"),
                size: 8 * count as u64,
                usage,
                mapped_at_creation: false,
            })
        };
        let resolve = buffer(wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC);
        let staging = buffer(wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ);
        let mut encoder = self.device.create_command_encoder(&Default::default());
        for (i, (name, dispatches, _)) in all.iter().enumerate() {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(name),
                timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                    query_set: &queries,
                    beginning_of_pass_write_index: Some(2 * i as u32),
                    end_of_pass_write_index: Some(2 * i as u32 + 1),
                }),
            });
            dispatches.iter().for_each(|d| d.encode(&mut pass));
        }
        encoder.resolve_query_set(&queries, 0..count, &resolve, 0);
        encoder.copy_buffer_to_buffer(&resolve, 0, &staging, 0, 8 * count as u64);
        self.queue.submit([encoder.finish()]);
        let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(&map_read(&self.device, &staging).await?);
        self.errors.check()?;
        Ok(all
            .iter()
            .enumerate()
            .map(|(i, (name, _, work))| LayerTime {
                label: name.to_string(),
                // entry i is layer i - 1 (preprocessing comes first)
                kernel: self.convs.iter().find(|c| c.layer + 1 == i).map(|c| c.kernel),
                ms: ticks[2 * i + 1].wrapping_sub(ticks[2 * i]) as f64 * *period as f64 / 1e6,
                multiply_adds: *work,
            })
            .collect())
    }
}

/// How a convolution is computed: the direct implicit GEMM, or Winograd F(2x2, 3x3) or
/// F(4x4, 3x3) whose GEMMs use the tile. Written "4x8", "winograd2 4x8", "winograd4 4x8".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConvKernel {
    Direct(Tile),
    Winograd(winograd::Size, Tile),
}

/// Winograd's default size.
pub(super) const DEFAULT_WINOGRAD: winograd::Size = winograd::Size::F2;

impl ConvKernel {
    pub fn tile(self) -> Tile {
        match self {
            ConvKernel::Direct(t) | ConvKernel::Winograd(_, t) => t,
        }
    }
}

impl std::fmt::Display for ConvKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConvKernel::Direct(t) => write!(f, "{t}"),
            ConvKernel::Winograd(size, t) => write!(f, "winograd{} {t}", size.m()),
        }
    }
}

impl std::str::FromStr for ConvKernel {
    type Err = Error;
    fn from_str(s: &str) -> Result<ConvKernel, Error> {
        let candidates = TILES
            .iter()
            .map(|&t| ConvKernel::Direct(t))
            .chain(winograd::Size::ALL.into_iter().flat_map(|size| TILES.map(|t| ConvKernel::Winograd(size, t))));
        candidates.into_iter().find(|k| k.to_string() == s).ok_or_else(|| {
            Error::Usage(format!("unknown convolution kernel `{s}` (for example 4x8, 4x16, winograd2 4x8, winograd4 4x16)"))
        })
    }
}

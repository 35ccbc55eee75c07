#!/usr/bin/env bash
# For a machine with a real GPU (Vulkan, Metal or DX12 through wgpu): builds the program,
# runs the GPU benchmark with autotuning and the per-layer table, then lets the program
# choose its backend by measuring and checks that it picks the GPU. Prints everything it
# measured; exits non-zero if the automatic choice is not the GPU.
#   tools/gpu_check.sh WEIGHTS_DIR      (a folder holding bvlc_googlenet.safetensors)
set -euo pipefail
cd "$(dirname "$0")/.."
weights="${1:?usage: tools/gpu_check.sh WEIGHTS_DIR}/bvlc_googlenet.safetensors"
cargo build --release --bin inception
bin=target/release/inception
$bin info | head -3
echo "== GPU, autotuned, per layer"
$bin bench --backend gpu --autotune --per-layer --runs 20 --weights "$weights"
echo "== CPU"
$bin bench --backend cpu --runs 20 --weights "$weights"
echo "== automatic choice"
choice=$($bin bench --runs 5 --weights "$weights" | tee /dev/stderr | awk '/^backend/ {print $2}')
[ "$choice" = gpu ] || { echo "the automatic choice is $choice, not the GPU" >&2; exit 1; }
echo "the automatic choice is the GPU"

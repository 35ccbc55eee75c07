// Softmax over the logits and the k most probable classes, in one workgroup, so only a
// few bytes go back to the CPU. Output: for rank r < k, result[2r] = class index and
// result[2r + 1] = bitcast<u32>(probability). Ties go to the lower class index.

// `struct Params` (the uniform `p`) is written before this file by the engine, from the
// Rust struct in src/ops/softmax_topk.rs, so the two cannot differ.

// THREADS (the workgroup) and MAX_K (the most classes ranked) are written before this
// file by the engine (ops/softmax_topk.rs, `SHADER`).

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> result: array<u32>;

var<workgroup> best_value: array<f32, THREADS>;
var<workgroup> best_index: array<u32, THREADS>;
var<workgroup> chosen: array<u32, MAX_K>;

fn is_chosen(i: u32, rounds: u32) -> bool {
    for (var r = 0u; r < rounds; r++) {
        if (chosen[r] == i) {
            return true;
        }
    }
    return false;
}

// Tree reduction of (best_value, best_index) to slot 0: the larger value wins, on equal
// values the lower index. Called from uniform control flow.
fn reduce_argmax(t: u32) {
    for (var stride = THREADS / 2u; stride > 0u; stride /= 2u) {
        if (t < stride) {
            let v = best_value[t + stride];
            let i = best_index[t + stride];
            if (v > best_value[t] || (v == best_value[t] && i < best_index[t])) {
                best_value[t] = v;
                best_index[t] = i;
            }
        }
        workgroupBarrier();
    }
}

@compute @workgroup_size(THREADS, 1, 1)
fn main(@builtin(local_invocation_index) t: u32) {
    let k = min(p.k, min(MAX_K, p.n));
    // 1. the largest logit, for a numerically safe exp
    var local_max = -3.40282346e38;
    for (var i = t; i < p.n; i += THREADS) {
        local_max = max(local_max, logits[i]);
    }
    best_value[t] = local_max;
    best_index[t] = 0u;
    workgroupBarrier();
    reduce_argmax(t);
    let max_logit = best_value[0];
    workgroupBarrier();
    // 2. the softmax denominator
    var local_sum = 0.0;
    for (var i = t; i < p.n; i += THREADS) {
        local_sum += exp(logits[i] - max_logit);
    }
    best_value[t] = local_sum;
    workgroupBarrier();
    for (var stride = THREADS / 2u; stride > 0u; stride /= 2u) {
        if (t < stride) {
            best_value[t] += best_value[t + stride];
        }
        workgroupBarrier();
    }
    let denominator = best_value[0];
    workgroupBarrier();
    // 3. k rounds of argmax over the classes not chosen yet
    for (var r = 0u; r < k; r++) {
        var v = -3.40282346e38;
        var index = 0xffffffffu;
        for (var i = t; i < p.n; i += THREADS) {
            let x = logits[i];
            if ((x > v || index == 0xffffffffu) && !is_chosen(i, r)) {
                v = x;
                index = i;
            }
        }
        best_value[t] = v;
        best_index[t] = index;
        workgroupBarrier();
        reduce_argmax(t);
        if (t == 0u) {
            chosen[r] = best_index[0];
            result[2u * r] = best_index[0];
            result[2u * r + 1u] = bitcast<u32>(exp(best_value[0] - max_logit) / denominator);
        }
        workgroupBarrier();
    }
}

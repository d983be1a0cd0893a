using DotnetMerge.Cuda.Backend;
using DotnetMerge.Cuda.Tests.Infrastructure;
using DotnetMerge.Kernels;
using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using static DotnetMerge.Cuda.Tests.Infrastructure.CpuFixtures;

namespace DotnetMerge.Cuda.Tests;

/// <summary>The GPU backend's kernels, compiled by g++ through the shim and run the way CudaBackend runs them, write
/// exactly the bytes of the CPU methods (called here through a TensorMergeContext, as the CPU backend calls them) for
/// llama-shaped bf16/f16/f32 tensors and several parameter sets, DARE's random stream and L1 rescale included.</summary>
public sealed class CpuEqualityShimTests
{
    internal sealed record Case(IMergeMethod Method, string Tensor, long[] Shape, Model[] Models, int BaseIndex, Dtype Output,
        Dictionary<string, object> Global, ulong Seed = 0, long Piece = 1 << 20);

    internal static readonly Dictionary<string, Case> Cases = new()
    {
        ["linear bf16 normalized"] = new(new LinearMerge(), "model.layers.0.self_attn.q_proj.weight", [96, 128],
            [new(Dtype.BF16, 0.3), new(Dtype.BF16, 0.5), new(Dtype.BF16, 0.2)], -1, Dtype.BF16, new() { ["normalize"] = true }),
        ["linear mixed to f16, not normalized"] = new(new LinearMerge(), "model.layers.1.mlp.down_proj.weight", [128, 200],
            [new(Dtype.F16, 0.7), new(Dtype.BF16, -0.2), new(Dtype.F32, 0.45)], 0, Dtype.F16, new() { ["normalize"] = false }, Piece: 7001),
        // 8-bit outputs whose results cross the formats' largest finite values: E4M3 turns them into NaN, E5M2 into ±Inf
        ["linear f8e4m3 and bf16 to f8e4m3, past 448"] = new(new LinearMerge(), "model.layers.0.mlp.up_proj.weight", [64, 96],
            [new(Dtype.F8_E4M3, 6000), new(Dtype.BF16, 3500)], -1, Dtype.F8_E4M3, new() { ["normalize"] = false }),
        ["linear f8e5m2 and f16 to f8e5m2, past 57344"] = new(new LinearMerge(), "model.layers.1.mlp.up_proj.weight", [64, 96],
            [new(Dtype.F8_E5M2, 8e5), new(Dtype.F16, 5e5)], 1, Dtype.F8_E5M2, new() { ["normalize"] = false }, Piece: 1001),
        ["linear f32"] = new(new LinearMerge(), "model.norm.weight", [4096],
            [new(Dtype.F32, 0.6), new(Dtype.F32, 0.4)], -1, Dtype.F32, new() { ["normalize"] = true }),
        ["task_arithmetic bf16"] = new(new TaskArithmeticMerge(), "model.layers.0.mlp.gate_proj.weight", [160, 96],
            [new(Dtype.BF16, 0), new(Dtype.BF16, 0.8), new(Dtype.BF16, 0.35)], 0, Dtype.BF16,
            new() { ["normalize"] = false, ["lambda"] = 0.9 }),
        ["task_arithmetic mixed normalized to f32"] = new(new TaskArithmeticMerge(), "lm_head.weight", [250, 64],
            [new(Dtype.F16, 0.6), new(Dtype.BF16, 0), new(Dtype.F32, 0.45)], 1, Dtype.F32,
            new() { ["normalize"] = true, ["lambda"] = 1.1 }, Piece: 4099),
        ["dare_linear l1 bf16"] = new(new DareLinearMerge(), "model.layers.3.self_attn.o_proj.weight", [384, 512],
            [new(Dtype.BF16, 0), new(Dtype.BF16, 0.5, 0.4), new(Dtype.BF16, 0.5, 0.7)], 0, Dtype.BF16,
            new() { ["normalize"] = false, ["lambda"] = 1.0, ["rescale"] = "true" }, Seed: 42, Piece: 65537),
        ["dare_linear inverse f16 normalized"] = new(new DareLinearMerge(), "model.layers.2.mlp.up_proj.weight", [96, 96],
            [new(Dtype.F16, 0.7, 0.3), new(Dtype.F16, 0), new(Dtype.F16, 0.4, 1.0)], 1, Dtype.F16,
            new() { ["normalize"] = true, ["lambda"] = 0.75, ["rescale"] = "inverse" }, Seed: 0xfedcba9876543210UL, Piece: 3001),
        ["dare_ties l1 bf16 normalized"] = new(new DareTiesMerge(), "model.layers.5.self_attn.k_proj.weight", [320, 256],
            [new(Dtype.BF16, 0.4, 0.5), new(Dtype.BF16, 0.3, 0.6), new(Dtype.BF16, 0), new(Dtype.BF16, 0.5, 0.3)], 2, Dtype.BF16,
            new() { ["normalize"] = true, ["lambda"] = 1.0, ["rescale"] = "l1" }, Seed: 7),
        ["dare_ties no rescale f32 to bf16"] = new(new DareTiesMerge(), "model.embed_tokens.weight", [200, 64],
            [new(Dtype.F32, 0), new(Dtype.F32, 1.0, 0.0), new(Dtype.F32, 0.6, 0.5)], 0, Dtype.BF16,
            new() { ["normalize"] = false, ["lambda"] = 1.3, ["rescale"] = "false" }, Seed: 3, Piece: 999),
        // magnitude trims: bf16 task vectors take few distinct values, so the k-th largest |δ| is duplicated and the tie
        // passes (copies per tile, then the index of the last kept copy) decide which copies are kept
        ["ties bf16 normalized"] = new(new TiesMerge(), "model.layers.4.mlp.down_proj.weight", [320, 256],
            [new(Dtype.BF16, 0.4, 0.3), new(Dtype.BF16, 0), new(Dtype.BF16, 0.3, 0.6), new(Dtype.BF16, 0.5, 0.25)], 1, Dtype.BF16,
            new() { ["normalize"] = true, ["lambda"] = 1.0, ["rescale"] = "false" }, Piece: 30001),
        ["ties mixed to f16, not normalized, density 0 and 1"] = new(new TiesMerge(), "model.layers.0.self_attn.v_proj.weight", [200, 96],
            [new(Dtype.F16, 0), new(Dtype.F32, 0.7, 0.45), new(Dtype.BF16, -0.3, 0.0), new(Dtype.F16, 0.5, 1.0)], 0, Dtype.F16,
            new() { ["normalize"] = false, ["lambda"] = 0.8, ["rescale"] = "false" }),
        ["ties inverse rescale f32"] = new(new TiesMerge(), "model.layers.1.mlp.up_proj.weight", [128, 160],
            [new(Dtype.F32, 0), new(Dtype.F32, 0.6, 0.2), new(Dtype.F32, 0.4, 0.7)], 0, Dtype.F32,
            new() { ["normalize"] = true, ["lambda"] = 1.2, ["rescale"] = "inverse" }, Piece: 5000),
        ["ties trim_scope model bf16"] = new(new TiesMerge(), "model.layers.2.self_attn.q_proj.weight", [96, 128],
            [new(Dtype.BF16, 0), new(Dtype.BF16, 0.5, 0.5, TrimThreshold: 0.00146484375), new(Dtype.BF16, 0.5, 0.5, TrimThreshold: 0.002)], 0, Dtype.BF16,
            new() { ["normalize"] = true, ["lambda"] = 1.0, ["rescale"] = "false" }),
        ["ties l1 rescale bf16 normalized"] = new(new TiesMerge(), "model.layers.3.mlp.down_proj.weight", [512, 384],
            [new(Dtype.BF16, 0), new(Dtype.BF16, 0.5, 0.3), new(Dtype.BF16, 0.5, 0.5)], 0, Dtype.BF16,
            new() { ["normalize"] = true, ["lambda"] = 1.0, ["rescale"] = "l1" }, Piece: 40000),
        ["breadcrumbs l1 rescale f16"] = new(new BreadcrumbsMerge(), "model.layers.8.self_attn.k_proj.weight", [300, 256],
            [new(Dtype.F16, 0.7, 0.5, 0.02), new(Dtype.F16, 0), new(Dtype.F16, 0.3, 1.0, 0.1)], 1, Dtype.F16,
            new() { ["normalize"] = false, ["lambda"] = 1.0, ["rescale"] = "true" }),
        // slerp and model_stock: a Gram reduction over spans of 65536 elements (two spans here) in LaneSum's order
        ["slerp bf16 nearly colinear (lerp)"] = new(new Slerp(), "model.layers.0.mlp.up_proj.weight", [320, 256],
            [new(Dtype.BF16, 1), new(Dtype.BF16, 1)], 0, Dtype.BF16, new() { ["t"] = 0.3 }),
        ["slerp f16 base second, apart"] = new(new Slerp(), "model.layers.1.self_attn.q_proj.weight", [300, 240],
            [new(Dtype.F16, 1, Spread: 0.06), new(Dtype.F16, 1)], 1, Dtype.F16, new() { ["t"] = 0.65 }, Piece: 10007),
        ["slerp mixed to f32, apart"] = new(new Slerp(), "model.norm.weight", [5000],
            [new(Dtype.BF16, 1), new(Dtype.F32, 1, Spread: 0.1)], 0, Dtype.F32, new() { ["t"] = 0.5 }),
        ["model_stock bf16"] = new(new ModelStock(), "model.layers.2.mlp.down_proj.weight", [256, 320],
            [new(Dtype.BF16, 1), new(Dtype.BF16, 1), new(Dtype.BF16, 1), new(Dtype.BF16, 1)], 0, Dtype.BF16,
            new() { ["filter_wise"] = false }, Piece: 50000),
        ["model_stock mixed, base last, to f16"] = new(new ModelStock(), "lm_head.weight", [200, 410],
            [new(Dtype.F32, 1), new(Dtype.BF16, 1, Spread: 0.01), new(Dtype.F16, 1)], 2, Dtype.F16, new() { ["filter_wise"] = false }),
        ["model_stock filter_wise 1-D (one row)"] = new(new ModelStock(), "model.layers.3.input_layernorm.weight", [70000],
            [new(Dtype.BF16, 1), new(Dtype.BF16, 1), new(Dtype.BF16, 1)], 0, Dtype.BF16, new() { ["filter_wise"] = true }),
        ["nearswap bf16"] = new(new Nearswap(), "model.layers.4.self_attn.v_proj.weight", [96, 160],
            [new(Dtype.BF16, 1), new(Dtype.BF16, 1)], 0, Dtype.BF16, new() { ["t"] = 0.001 }, Piece: 4000),
        ["nearswap mixed to f16, base second"] = new(new Nearswap(), "model.layers.5.mlp.gate_proj.weight", [128, 100],
            [new(Dtype.F32, 1, Spread: 0.01), new(Dtype.F16, 1)], 1, Dtype.F16, new() { ["t"] = 0.004 }),
        ["model_stock filter_wise rows bf16"] = new(new ModelStock(), "model.layers.4.mlp.up_proj.weight", [96, 700],
            [new(Dtype.BF16, 1), new(Dtype.BF16, 1), new(Dtype.BF16, 1, Spread: 0.003), new(Dtype.BF16, 1)], 0, Dtype.BF16,
            new() { ["filter_wise"] = true }, Piece: 10000),
        ["model_stock filter_wise rows mixed, base second"] = new(new ModelStock(), "model.layers.5.self_attn.o_proj.weight", [40, 1500],
            [new(Dtype.F16, 1), new(Dtype.F32, 1), new(Dtype.BF16, 1, Spread: 0.02)], 1, Dtype.F32, new() { ["filter_wise"] = true }),
        // multislerp, nuslerp, karcher: the same Gram kernel and combine map, the CPU methods' own coefficient code on the host
        ["multislerp bf16 task vectors, normalized weights"] = new(new Multislerp(), "model.layers.6.mlp.up_proj.weight", [320, 256],
            [new(Dtype.BF16, 1), new(Dtype.BF16, 0.6, Spread: 0.01), new(Dtype.BF16, 0.3, Spread: 0.02)], 0, Dtype.BF16,
            new() { ["normalize_weights"] = true, ["eps"] = 1e-8 }, Piece: 30001),
        ["multislerp no base, three models mixed to f16"] = new(new Multislerp(), "model.layers.7.self_attn.k_proj.weight", [200, 410],
            [new(Dtype.F16, 0.5), new(Dtype.BF16, 0.3, Spread: 0.05), new(Dtype.F32, 0.4, Spread: 0.08)], -1, Dtype.F16,
            new() { ["normalize_weights"] = false, ["eps"] = 1e-8 }),
        ["multislerp f32, base last"] = new(new Multislerp(), "model.norm.weight", [5000],
            [new(Dtype.F32, 0.7, Spread: 0.1), new(Dtype.F32, 0.2), new(Dtype.F32, 1), new(Dtype.F32, 0)], 3, Dtype.F32,
            new() { ["normalize_weights"] = true, ["eps"] = 1e-6 }),
        ["nuslerp flatten bf16 task vectors"] = new(new Nuslerp(), "model.layers.8.mlp.gate_proj.weight", [256, 320],
            [new(Dtype.BF16, 1), new(Dtype.BF16, 0.7, Spread: 0.01), new(Dtype.BF16, 0.3, Spread: 0.03)], 0, Dtype.BF16,
            new() { ["nuslerp_flatten"] = true }, Piece: 50000),
        ["nuslerp flatten f16 no base, apart"] = new(new Nuslerp(), "model.layers.8.self_attn.q_proj.weight", [300, 240],
            [new(Dtype.F16, 0.4, Spread: 0.06), new(Dtype.F16, 0.6)], -1, Dtype.F16, new() { ["nuslerp_flatten"] = true }),
        ["nuslerp rows bf16 no base"] = new(new Nuslerp(), "model.layers.9.mlp.up_proj.weight", [96, 700],
            [new(Dtype.BF16, 0.5, Spread: 0.04), new(Dtype.BF16, 0.5, Spread: 0.01)], -1, Dtype.BF16,
            new() { ["nuslerp_flatten"] = false, ["nuslerp_row_wise"] = false }, Piece: 10000),
        ["nuslerp rows mixed, base second, to f32"] = new(new Nuslerp(), "model.layers.9.self_attn.o_proj.weight", [40, 1500],
            [new(Dtype.F16, 0.2), new(Dtype.F32, 1), new(Dtype.BF16, 0.9, Spread: 0.02)], 1, Dtype.F32,
            new() { ["nuslerp_flatten"] = false, ["nuslerp_row_wise"] = false }),
        ["nuslerp row_wise 1-D (one vector), weights summing to zero"] = new(new Nuslerp(), "model.layers.9.input_layernorm.weight", [70000],
            [new(Dtype.BF16, 1), new(Dtype.BF16, 0.5), new(Dtype.BF16, -0.5, Spread: 0.01)], 0, Dtype.BF16,
            new() { ["nuslerp_flatten"] = false, ["nuslerp_row_wise"] = true }),
        ["karcher bf16, base among the inputs"] = new(new Karcher(), "model.layers.10.mlp.down_proj.weight", [320, 256],
            [new(Dtype.BF16, 1), new(Dtype.BF16, 1, Spread: 0.02), new(Dtype.BF16, 1, Spread: 0.05)], 0, Dtype.BF16,
            new() { ["max_iter"] = 10.0, ["tol"] = 1e-5 }, Piece: 65537),
        ["karcher four mixed to f16, no base, one iteration"] = new(new Karcher(), "lm_head.weight", [200, 410],
            [new(Dtype.F32, 1, Spread: 0.1), new(Dtype.BF16, 1), new(Dtype.F16, 1, Spread: 0.03), new(Dtype.F32, 1, Spread: 0.07)], -1, Dtype.F16,
            new() { ["max_iter"] = 1.0, ["tol"] = 1e-7 }),
        // DELLA: every row's |δ| sorted on the device (bitonic, shared memory), ranks as the CPU's
        ["della bf16 l1 normalized"] = new(new DellaMerge(), "model.layers.9.self_attn.q_proj.weight", [160, 512],
            [new(Dtype.BF16, 0), new(Dtype.BF16, 0.5, 0.5, Epsilon: 0.1), new(Dtype.BF16, 0.4, 0.7, Epsilon: 0.2)], 0, Dtype.BF16,
            new() { ["normalize"] = true, ["lambda"] = 1.0, ["rescale"] = "true" }, Seed: 17, Piece: 30000),
        ["della_linear f16 inverse, densities 0 and 1, rows of 1000"] = new(new DellaLinearMerge(), "model.layers.9.mlp.up_proj.weight", [48, 1000],
            [new(Dtype.F16, 0.2, 1.0), new(Dtype.F16, 0), new(Dtype.F16, 0.6, 0.6, Epsilon: 0.15), new(Dtype.F16, 0.3, 0.0, Epsilon: 0.1)], 1, Dtype.F16,
            new() { ["normalize"] = false, ["lambda"] = 1.1, ["rescale"] = "inverse" }, Seed: 5),
        // a density 0 model before a MagPrune one: the CPU's chunks follow the MagPrune rows whatever the order; rows of 3000
        // elements make the L1 spans 21 rows (63000 elements), not 65536
        ["della l1 to f32, density 0 before a pruned model, rows of 3000"] = new(new DellaMerge(), "model.layers.9.mlp.down_proj.weight", [40, 3000],
            [new(Dtype.BF16, 0), new(Dtype.BF16, 0.5, 0.0, Epsilon: 0.1), new(Dtype.BF16, 0.4, 0.6, Epsilon: 0.2), new(Dtype.F32, 0.3, 0.5, Epsilon: 0.1)], 0,
            Dtype.F32, new() { ["normalize"] = true, ["lambda"] = 1.0, ["rescale"] = "l1" }, Seed: 11, Piece: 20000),
        ["della_linear 1-D l1 f32 to bf16"] = new(new DellaLinearMerge(), "model.norm.weight", [3000],
            [new(Dtype.F32, 0), new(Dtype.F32, 0.7, 0.4, Epsilon: 0.3)], 0, Dtype.BF16,
            new() { ["normalize"] = true, ["lambda"] = 1.0, ["rescale"] = "l1" }, Seed: 9),
        ["breadcrumbs bf16"] = new(new BreadcrumbsMerge(), "model.layers.6.mlp.gate_proj.weight", [256, 320],
            [new(Dtype.BF16, 0), new(Dtype.BF16, 0.5, 0.6, 0.05), new(Dtype.BF16, 0.5, 0.4, 0.01)], 0, Dtype.BF16,
            new() { ["normalize"] = false, ["lambda"] = 1.0, ["rescale"] = "false" }, Piece: 65536),
        ["breadcrumbs gamma 0, density + gamma over 1, f16 inverse"] = new(new BreadcrumbsMerge(), "model.layers.7.self_attn.o_proj.weight", [96, 96],
            [new(Dtype.F16, 0.6, 0.9, 0.3), new(Dtype.F16, 0), new(Dtype.F16, 0.4, 0.5, 0.0)], 1, Dtype.F16,
            new() { ["normalize"] = true, ["lambda"] = 0.9, ["rescale"] = "inverse" }),
        ["breadcrumbs_ties f32 to bf16 normalized"] = new(new BreadcrumbsTiesMerge(), "model.embed_tokens.weight", [250, 128],
            [new(Dtype.F32, 0), new(Dtype.F32, 0.5, 0.6, 0.05), new(Dtype.BF16, 0.3, 0.3, 0.1), new(Dtype.F32, 0.2, 0.8, 0.02)], 0, Dtype.BF16,
            new() { ["normalize"] = true, ["lambda"] = 1.0, ["rescale"] = "false" }, Piece: 7777),
        // sce: sums of squares (LaneSum order, two chunks of 65536 here) -> weights on the host (SceMerge.Weights) -> map; with
        // select_topk < 1 the variance select kernel counts the zero variances, then selects (bf16 deltas tie often)
        ["sce bf16 no selection"] = new(new SceMerge(), "model.layers.0.mlp.down_proj.weight", [320, 256],
            [new(Dtype.BF16, 1), new(Dtype.BF16, 1), new(Dtype.BF16, 1, Spread: 0.01)], 0, Dtype.BF16,
            new() { ["select_topk"] = 1.0 }, Piece: 30001),
        ["sce bf16 select_topk 0.3, ties in the variance"] = new(new SceMerge(), "model.layers.1.mlp.up_proj.weight", [320, 256],
            [new(Dtype.BF16, 1), new(Dtype.BF16, 1), new(Dtype.BF16, 1), new(Dtype.BF16, 1)], 1, Dtype.BF16,
            new() { ["select_topk"] = 0.3 }, Piece: 65537),
        ["sce mixed to f16, base last, select_topk 0.75"] = new(new SceMerge(), "model.layers.2.self_attn.q_proj.weight", [200, 96],
            [new(Dtype.F16, 1), new(Dtype.F32, 1, Spread: 0.02), new(Dtype.BF16, 1), new(Dtype.F16, 1)], 3, Dtype.F16,
            new() { ["select_topk"] = 0.75 }),
        ["sce f32 one model (variance 0 everywhere: nothing selected), select_topk 0.1"] = new(new SceMerge(), "model.norm.weight", [5000],
            [new(Dtype.F32, 1), new(Dtype.F32, 1)], 0, Dtype.F32, new() { ["select_topk"] = 0.1 }, Piece: 999),
        ["sce select_topk 0 (nothing selected) f32 to bf16"] = new(new SceMerge(), "model.layers.3.self_attn.k_proj.weight", [96, 128],
            [new(Dtype.F32, 1), new(Dtype.F32, 1), new(Dtype.F32, 1)], 0, Dtype.BF16, new() { ["select_topk"] = 0.0 }),
        ["sce zero task vectors (uniform weights), select_topk 0.5"] = new(new SceMerge(), "model.layers.3.mlp.gate_proj.weight", [64, 100],
            [new(Dtype.BF16, 1), new(Dtype.BF16, 1, Spread: 1e-30), new(Dtype.BF16, 1, Spread: 1e-30)], 0, Dtype.BF16, new() { ["select_topk"] = 0.5 }),
        ["sce zero task vectors, no selection"] = new(new SceMerge(), "model.layers.3.mlp.up_proj.weight", [64, 100],
            [new(Dtype.F16, 1, Spread: 1e-30), new(Dtype.F16, 1), new(Dtype.F16, 1, Spread: 1e-30)], 1, Dtype.F16, new() { ["select_topk"] = 1.0 }),
        // ram: one map; ramplus_tl: change counts per chunk first, RamPlusTlMerge.UniqueScale on the host
        ["ram bf16"] = new(new RamMerge(), "model.layers.4.mlp.down_proj.weight", [320, 256],
            [new(Dtype.BF16, 1), new(Dtype.BF16, 1), new(Dtype.BF16, 1)], 0, Dtype.BF16, new() { ["epsilon"] = 1e-5 }, Piece: 40000),
        ["ram mixed to f16, base second, epsilon between the deltas"] = new(new RamMerge(), "model.layers.4.self_attn.v_proj.weight", [200, 96],
            [new(Dtype.F16, 1), new(Dtype.BF16, 1), new(Dtype.F32, 1, Spread: 0.004), new(Dtype.F16, 1, Spread: 0.003)], 1, Dtype.F16,
            new() { ["epsilon"] = 0.002 }),
        ["ram f32, one model zero"] = new(new RamMerge(), "model.norm.weight", [5000],
            [new(Dtype.F32, 1), new(Dtype.F32, 1, Spread: 1e-30), new(Dtype.F32, 1)], 0, Dtype.F32, new() { ["epsilon"] = 0.0 }, Piece: 1234),
        ["ramplus_tl bf16"] = new(new RamPlusTlMerge(), "model.layers.5.mlp.up_proj.weight", [320, 256],
            [new(Dtype.BF16, 1), new(Dtype.BF16, 1), new(Dtype.BF16, 1, Spread: 0.006), new(Dtype.BF16, 1)], 2, Dtype.BF16,
            new() { ["epsilon"] = 0.001, ["r"] = 0.5, ["alpha"] = 3.0 }, Piece: 50000),
        ["ramplus_tl mixed to f32, a model with no change"] = new(new RamPlusTlMerge(), "model.layers.5.self_attn.o_proj.weight", [128, 100],
            [new(Dtype.F32, 1), new(Dtype.F16, 1, Spread: 1e-30), new(Dtype.BF16, 1)], 0, Dtype.F32,
            new() { ["epsilon"] = 1e-5, ["r"] = 0.1, ["alpha"] = 0.2 }),
        ["ramplus_tl f16 to bf16, alpha clip"] = new(new RamPlusTlMerge(), "model.layers.6.mlp.gate_proj.weight", [96, 160],
            [new(Dtype.F16, 1), new(Dtype.F16, 1), new(Dtype.F16, 1)], 0, Dtype.BF16,
            new() { ["epsilon"] = 0.002, ["r"] = 1.5, ["alpha"] = 0.05 }, Piece: 4000),
        // arcee_fusion: the rows' KL on the host (ArceeFusion.RowKl), three order statistics of the importances selected on
        // the device (bf16 differences tie often within a row), the threshold on the host, then the map
        ["arcee_fusion bf16"] = new(new ArceeFusion(), "model.layers.7.mlp.down_proj.weight", [96, 160],
            [new(Dtype.BF16, 1), new(Dtype.BF16, 1, Spread: 0.02)], 0, Dtype.BF16, new(), Piece: 5000),
        ["arcee_fusion mixed, base second, to f16"] = new(new ArceeFusion(), "model.layers.7.self_attn.q_proj.weight", [64, 300],
            [new(Dtype.F16, 1, Spread: 0.05), new(Dtype.F32, 1)], 1, Dtype.F16, new()),
        ["arcee_fusion 1-D f32, two spans"] = new(new ArceeFusion(), "model.norm.weight", [70000],
            [new(Dtype.F32, 1), new(Dtype.F32, 1, Spread: 0.3)], 0, Dtype.F32, new(), Piece: 30001),
        ["arcee_fusion five elements"] = new(new ArceeFusion(), "model.layers.7.input_layernorm.weight", [5],
            [new(Dtype.BF16, 1), new(Dtype.BF16, 1, Spread: 0.5)], 0, Dtype.BF16, new()),
        ["arcee_fusion identical models (KL 0 everywhere)"] = new(new ArceeFusion(), "model.layers.7.mlp.up_proj.weight", [32, 64],
            [new(Dtype.BF16, 1), new(Dtype.BF16, 1, Spread: 1e-30)], 0, Dtype.F32, new()),
    };

    public static TheoryData<string> CaseNames => new(Cases.Keys);

    [SkippableTheory]
    [MemberData(nameof(CaseNames))]
    public void Kernels_write_the_cpu_methods_bytes(string name)
    {
        HostCompiler.SkipIfUnavailable();
        Case c = Cases[name];
        TensorMergeContext cpu = Context(c.Tensor, c.Shape, c.Models, c.BaseIndex, c.Output, c.Global, c.Seed, name.Length);
        c.Method.Merge(cpu);
        MergeKernelPlan plan = MergeKernelPlan.TryCreate(c.Method, cpu, out string reason) ?? throw new InvalidOperationException(reason);
        Assert.Equal(c.Global.GetValueOrDefault("rescale") is "true" or "l1" || c.Method is SceMerge or RamPlusTlMerge, plan.Norms is not null);
        Assert.Equal(c.Method is SceMerge && (double)c.Global["select_topk"] < 1 || c.Method is ArceeFusion, plan.Select is not null && !plan.IsMagnitude);
        Assert.Equal(c.Method is Slerp or ModelStock or Multislerp or Nuslerp or Karcher, plan.Gram is not null);
        Assert.Equal(c.Method is ModelStock or Nuslerp && c.Shape.Length > 1 && c.Global.GetValueOrDefault("filter_wise") is not false
            && c.Global.GetValueOrDefault("nuslerp_flatten") is not true || c.Method is ArceeFusion, plan.HasRowCoefficients);
        byte[] kernel = RunOnShim(plan, WithNewOutput(cpu), c.Piece);
        Assert.True(cpu.Output.Span.SequenceEqual(kernel), name + ": " + FirstDifference(cpu.Output.ToArray(), kernel, c.Output));
    }

    /// <summary>A float64 result just above a bf16 rounding midpoint: rounded to the nearest float32 first it would land on
    /// the midpoint and round down (to even); the CPU's round-to-odd keeps it above, so it rounds up. The kernel must too.</summary>
    [SkippableFact]
    public void Narrowing_rounds_once_like_the_cpu()
    {
        HostCompiler.SkipIfUnavailable();
        const int count = 64;
        var half = new float[count];
        var tiny = new float[count];
        for (int i = 0; i < count; i++)
        {
            half[i] = 1f + MathF.ScaleB(1, -8) * (2 * (i % 8) + 1); // odd multiples of 2^-8: bf16 midpoints in [1, 1.125)
            half[i] = i % 2 == 0 ? half[i] : -half[i];
            tiny[i] = i % 3 == 0 ? 0 : MathF.ScaleB(1, -10);
        }
        var inputs = new[] { half, tiny }.Select((values, m) =>
        {
            var bytes = new byte[count * 4];
            DtypeConversion.Encode(Dtype.F32, values, bytes, 0);
            return new MergeInput("m" + m, "t", Dtype.F32, [count], bytes, false, new ParameterBag(new Dictionary<string, object> { ["weight"] = m == 0 ? 1.0 : 1e-5 }));
        }).ToList();
        var context = new TensorMergeContext("t", inputs, -1, new ParameterBag(new Dictionary<string, object> { ["normalize"] = false }),
            [count], Dtype.BF16, new byte[count * 2], 0, false, new ExecutionSettings(1));
        new LinearMerge().Merge(context);
        MergeKernelPlan plan = MergeKernelPlan.TryCreate(new LinearMerge(), context, out _)!;
        byte[] kernel = RunOnShim(plan, WithNewOutput(context), count);
        Assert.Equal(context.Output.ToArray(), kernel);
        // independent checks: element 0 is exactly the midpoint 1 + 2^-8 (ties to even: 1.0 = 0x3f80); element 2 is
        // 1 + 5·2^-8 + 1e-5·2^-10, just above the midpoint of 1 + 2·2^-7 and 1 + 3·2^-7, so it rounds up (0x3f83)
        Assert.Equal((ushort)0x3f80, BitConverter.ToUInt16(kernel, 0));
        Assert.Equal((ushort)0x3f83, BitConverter.ToUInt16(kernel, 2 * 2));
    }

    /// <summary>multislerp's error on unit inputs whose weighted sum is zero comes from the host coefficient code, after the
    /// Gram kernel: the plan is made (the CPU cannot tell before reading the tensors), and running it raises the CPU's
    /// error with the CPU's words. Inputs x, −x and x with weights 1, 1, 0: Σ wᵢuᵢ = 0 exactly.</summary>
    [SkippableFact]
    public void Multislerp_cancelling_inputs_raise_the_cpus_error()
    {
        HostCompiler.SkipIfUnavailable();
        const int count = 96;
        var x = new float[count];
        for (int i = 0; i < count; i++) x[i] = (i % 7 - 3) * 0.01f;
        var inputs = new[] { (x, 1.0), (x.Select(v => -v).ToArray(), 1.0), (x, 0.0) }.Select((m, index) =>
        {
            var bytes = new byte[count * 4];
            DtypeConversion.Encode(Dtype.F32, m.Item1, bytes, 0);
            return new MergeInput("m" + index, "t", Dtype.F32, [count], bytes, false,
                new ParameterBag(new Dictionary<string, object> { ["weight"] = m.Item2 }));
        }).ToList();
        var context = new TensorMergeContext("t", inputs, -1, new ParameterBag(new Dictionary<string, object> { ["normalize_weights"] = false, ["eps"] = 1e-8 }),
            [count], Dtype.F32, new byte[count * 4], 0, false, new ExecutionSettings(1));
        var cpu = Assert.Throws<InvalidOperationException>(() => new Multislerp().Merge(context));
        MergeKernelPlan plan = MergeKernelPlan.TryCreate(new Multislerp(), context, out string reason) ?? throw new InvalidOperationException(reason);
        var shim = Assert.Throws<InvalidOperationException>(() => RunOnShim(plan, WithNewOutput(context), count));
        Assert.Equal(cpu.Message, shim.Message);
        Assert.Contains("antipodal", shim.Message);
    }

    /// <summary>arcee_fusion with a NaN or an infinity in an input: the CPU's quickselect over NaN importances has no
    /// order-statistic meaning the device could reproduce, so the plan hands the job to the CPU method after reading the
    /// inputs; the bytes are the CPU's.</summary>
    [SkippableTheory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void Arcee_fusion_with_a_non_finite_input_runs_on_the_cpu(float special)
    {
        HostCompiler.SkipIfUnavailable();
        const int count = 64;
        float[] a = Enumerable.Range(0, count).Select(i => (i % 9 - 4) * 0.01f).ToArray();
        float[] b = a.Select((v, i) => i == 37 ? special : v + (i % 5) * 0.003f).ToArray();
        var inputs = new[] { a, b }.Select((values, m) =>
        {
            var bytes = new byte[count * 4];
            DtypeConversion.Encode(Dtype.F32, values, bytes, 0);
            return new MergeInput("m" + m, "t", Dtype.F32, [4, 16], bytes, m == 0, ParameterBag.Empty);
        }).ToList();
        var context = new TensorMergeContext("t", inputs, 0, ParameterBag.Empty, [4, 16], Dtype.F32, new byte[count * 4], 0, false, new ExecutionSettings(1));
        new ArceeFusion().Merge(context);
        MergeKernelPlan plan = MergeKernelPlan.TryCreate(new ArceeFusion(), context, out string reason) ?? throw new InvalidOperationException(reason);
        Assert.Null(plan.HostRowValues(context));
        Assert.Equal(context.Output.ToArray(), RunOnShim(plan, WithNewOutput(context), count));
    }

    [Fact]
    public void Jobs_the_kernels_do_not_reproduce_are_left_to_the_cpu()
    {
        var global = new Dictionary<string, object> { ["normalize"] = true, ["lambda"] = 1.0, ["rescale"] = "true" };
        Model[] models = [new(Dtype.BF16, 0), new(Dtype.BF16, 1, 0.5)];
        TensorMergeContext Make(Dtype output = Dtype.BF16, int baseIndex = 0, Model[]? m = null)
            => Context("t", [8, 8], m ?? models, baseIndex, output, global, 0, 1);
        Assert.Null(MergeKernelPlan.TryCreate(new PassthroughMerge(), Make(), out string reason));
        Assert.Contains("passthrough", reason);
        // arcee_fusion: three models (the CPU's error), no base, fewer than five elements
        Model[] pair = [new(Dtype.BF16, 1), new(Dtype.BF16, 1)];
        Assert.Null(MergeKernelPlan.TryCreate(new ArceeFusion(), Context("t", [8], [.. pair, new(Dtype.BF16, 1)], 0, Dtype.BF16, new Dictionary<string, object>(), 0, 1), out _));
        Assert.Null(MergeKernelPlan.TryCreate(new ArceeFusion(), Context("t", [8], pair, -1, Dtype.BF16, new Dictionary<string, object>(), 0, 1), out _));
        Assert.Null(MergeKernelPlan.TryCreate(new ArceeFusion(), Context("t", [4], pair, 0, Dtype.BF16, new Dictionary<string, object>(), 0, 1), out reason));
        Assert.Contains("fewer than 5", reason);
        Assert.NotNull(MergeKernelPlan.TryCreate(new ArceeFusion(), Context("t", [5], pair, 0, Dtype.BF16, new Dictionary<string, object>(), 0, 1), out _));
        // sce and the RAM family without a base (the CPU's error), or with only the base (a copy); a missing parameter
        foreach (IMergeMethod vote in new IMergeMethod[] { new SceMerge(), new RamMerge(), new RamPlusTlMerge() })
        {
            var parameters = new Dictionary<string, object> { ["select_topk"] = 0.5, ["epsilon"] = 1e-5, ["r"] = 0.1, ["alpha"] = 0.2 };
            Assert.Null(MergeKernelPlan.TryCreate(vote, Context("t", [8], [new(Dtype.BF16, 1), new(Dtype.BF16, 1)], -1, Dtype.BF16, parameters, 0, 1), out reason));
            Assert.Contains("base", reason);
            Assert.Null(MergeKernelPlan.TryCreate(vote, Context("t", [8], [new(Dtype.BF16, 1)], 0, Dtype.BF16, parameters, 0, 1), out _));
            Assert.NotNull(MergeKernelPlan.TryCreate(vote, Context("t", [8], [new(Dtype.BF16, 1), new(Dtype.BF16, 1)], 0, Dtype.BF16, parameters, 0, 1), out _));
        }
        Assert.Null(MergeKernelPlan.TryCreate(new RamPlusTlMerge(), Context("t", [8], [new(Dtype.BF16, 1), new(Dtype.BF16, 1)], 0, Dtype.BF16,
            new Dictionary<string, object> { ["epsilon"] = 1e-5, ["alpha"] = 0.2 }, 0, 1), out reason));
        Assert.Contains("'r'", reason);
        // DELLA rows longer than the device sort takes; density ± epsilon outside (0, 1) (the CPU's error)
        var della = new Dictionary<string, object> { ["normalize"] = true, ["lambda"] = 1.0, ["rescale"] = "true" };
        Assert.Null(MergeKernelPlan.TryCreate(new DellaMerge(), Context("t", [2, 5000], [new(Dtype.BF16, 0), new(Dtype.BF16, 1, 0.5, Epsilon: 0.1)], 0,
            Dtype.BF16, della, 0, 1), out reason));
        Assert.Contains("4096", reason);
        Assert.Null(MergeKernelPlan.TryCreate(new DellaMerge(), Context("t", [2, 50], [new(Dtype.BF16, 0), new(Dtype.BF16, 1, 0.5, Epsilon: 0.5)], 0,
            Dtype.BF16, della, 0, 1), out _));
        Assert.NotNull(MergeKernelPlan.TryCreate(new DellaMerge(), Context("t", [2, 50], [new(Dtype.BF16, 0), new(Dtype.BF16, 1, 0.5, Epsilon: 0.1)], 0,
            Dtype.BF16, della, 0, 1), out _));
        // a density 0 model first: the L1 spans still hold whole MagPrune rows (21 rows of 3000 = 63000 elements)
        MergeKernelPlan? zeroFirst = MergeKernelPlan.TryCreate(new DellaMerge(), Context("t", [40, 3000],
            [new(Dtype.BF16, 0), new(Dtype.BF16, 1, 0.0, Epsilon: 0.1), new(Dtype.BF16, 1, 0.5, Epsilon: 0.1)], 0, Dtype.BF16, della, 0, 1), out _);
        Assert.Equal(63000, Assert.IsType<MergeKernelPlan>(zeroFirst).NormChunkElements);
        // slerp of three models (the CPU's error), model_stock with one other model
        Assert.Null(MergeKernelPlan.TryCreate(new Slerp(), Context("t", [8], [new(Dtype.BF16, 1), new(Dtype.BF16, 1), new(Dtype.BF16, 1)], 0,
            Dtype.BF16, new Dictionary<string, object> { ["t"] = 0.5 }, 0, 1), out _));
        Assert.Null(MergeKernelPlan.TryCreate(new ModelStock(), Context("t", [8], [new(Dtype.BF16, 1), new(Dtype.BF16, 1)], 0,
            Dtype.BF16, new Dictionary<string, object> { ["filter_wise"] = false }, 0, 1), out _));
        // multislerp with one model besides the base (the CPU's copy) or only the base (its error); karcher of one model
        var multislerp = new Dictionary<string, object> { ["normalize_weights"] = true, ["eps"] = 1e-8 };
        Assert.Null(MergeKernelPlan.TryCreate(new Multislerp(), Context("t", [8], [new(Dtype.BF16, 1), new(Dtype.BF16, 1)], 0,
            Dtype.BF16, multislerp, 0, 1), out _));
        Assert.Null(MergeKernelPlan.TryCreate(new Multislerp(), Context("t", [8], [new(Dtype.BF16, 1)], 0, Dtype.BF16, multislerp, 0, 1), out _));
        Assert.NotNull(MergeKernelPlan.TryCreate(new Multislerp(), Context("t", [8], [new(Dtype.BF16, 1), new(Dtype.BF16, 1)], -1,
            Dtype.BF16, multislerp, 0, 1), out _));
        var karcher = new Dictionary<string, object> { ["max_iter"] = 10.0, ["tol"] = 1e-5 };
        Assert.Null(MergeKernelPlan.TryCreate(new Karcher(), Context("t", [8], [new(Dtype.BF16, 1)], -1, Dtype.BF16, karcher, 0, 1), out _));
        Assert.Null(MergeKernelPlan.TryCreate(new Karcher(), Context("t", [8], [new(Dtype.BF16, 1), new(Dtype.BF16, 1)], -1, Dtype.BF16,
            new Dictionary<string, object> { ["tol"] = 1e-5 }, 0, 1), out reason));
        Assert.Contains("max_iter", reason);
        // nuslerp: vectors along dimension 0 (no kernel), a base that is one of two models, three models without a base
        Model[] three = [new(Dtype.BF16, 1), new(Dtype.BF16, 1), new(Dtype.BF16, 1)];
        var columns = new Dictionary<string, object> { ["nuslerp_flatten"] = false, ["nuslerp_row_wise"] = true };
        Assert.Null(MergeKernelPlan.TryCreate(new Nuslerp(), Context("t", [4, 8], three, 0, Dtype.BF16, columns, 0, 1), out reason));
        Assert.Contains("nuslerp_row_wise", reason);
        Assert.NotNull(MergeKernelPlan.TryCreate(new Nuslerp(), Context("t", [32], three, 0, Dtype.BF16, columns, 0, 1), out _));
        var flat = new Dictionary<string, object> { ["nuslerp_flatten"] = true };
        Assert.Null(MergeKernelPlan.TryCreate(new Nuslerp(), Context("t", [8], [new(Dtype.BF16, 1), new(Dtype.BF16, 1)], 0, Dtype.BF16, flat, 0, 1), out _));
        Assert.Null(MergeKernelPlan.TryCreate(new Nuslerp(), Context("t", [8], three, -1, Dtype.BF16, flat, 0, 1), out _));
        Assert.Null(MergeKernelPlan.TryCreate(new Nuslerp(), Context("t", [8], [new(Dtype.BF16, 1)], -1, Dtype.BF16, flat, 0, 1), out _));
        // breadcrumbs without gamma: the CPU's error
        Assert.Null(MergeKernelPlan.TryCreate(new BreadcrumbsMerge(), Context("t", [4], [new(Dtype.F32, 0), new(Dtype.F32, 1, 0.5)], 0, Dtype.F32,
            new Dictionary<string, object> { ["normalize"] = false, ["lambda"] = 1.0, ["rescale"] = "false" }, 0, 1), out reason));
        Assert.Contains("gamma", reason);
        Assert.Null(MergeKernelPlan.TryCreate(new TaskArithmeticMerge(), Make(baseIndex: -1), out _));
        Assert.Null(MergeKernelPlan.TryCreate(new TaskArithmeticMerge(), Make(m: [new(Dtype.BF16, 0)]), out _));
        Assert.Null(MergeKernelPlan.TryCreate(new TaskArithmeticMerge(), Make(output: Dtype.F64), out _));
        // weights summing to zero with normalize: the CPU's error
        Assert.Null(MergeKernelPlan.TryCreate(new LinearMerge(), Context("t", [4], [new(Dtype.F32, 1), new(Dtype.F32, -1)], -1, Dtype.F32,
            new Dictionary<string, object> { ["normalize"] = true }, 0, 1), out _));
        // missing parameter: the CPU's error
        Assert.Null(MergeKernelPlan.TryCreate(new DareLinearMerge(), Context("t", [4], [new(Dtype.F32, 0), new(Dtype.F32, 1)], 0, Dtype.F32,
            global, 0, 1), out reason));
        Assert.Contains("density", reason);
        Assert.NotNull(MergeKernelPlan.TryCreate(new DareTiesMerge(), Make(), out _));
    }
}

/// <summary>The engine with the kernel plans on the shim as its backend: same files as the CPU.</summary>
public sealed class EngineShimTests
{
    [SkippableTheory]
    [MemberData(nameof(EngineComparison.Methods), MemberType = typeof(EngineComparison))]
    public async Task A_merge_through_the_engine_on_the_shim_writes_the_cpu_merges_files(string method, string extra, string global)
    {
        HostCompiler.SkipIfUnavailable();
        using var backend = new ShimBackend();
        await EngineComparison.AssertSameFilesAsync(method, extra, backend, () => backend.JobsRun, hidden: 32, globalParameters: global,
            secondModel: method != "arcee_fusion");
    }
}

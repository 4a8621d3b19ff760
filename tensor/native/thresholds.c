/* thresholds.c — the size thresholds of the matmul dispatch, from the
 * machine.
 *
 * Two choices depend on how much work a call has against a fixed cost:
 *   AUTO (matmul.c): OpenBLAS's call overhead is lower than the native
 *     driver's, so it wins products too small for the native kernel's
 *     speed to pay that difference back;
 *   threads (gemm_native.c): a slice of C handed to the pool must be worth
 *     waking a worker for.
 * Both costs are fixed in cycles, and the work a kernel does in a cycle is
 * its FMA width × the FMA units the core has at that width. So each
 * threshold is a cost in cycles × the kernel's FMAs per cycle:
 *   auto_small_fmas   = 16384 cycles × FMAs/cycle
 *   min_fmas_per_part =  8192 cycles × FMAs/cycle
 * A vector product (M up to the kernel's dot_max_m rows: generation's
 * matrix-vector products) is not bound by the FMA units but by reading B
 * once: each float of B feeds M FMAs, and one core streams about
 * STREAM_BYTES_PER_CYCLE bytes of it per cycle from beyond its L2 (the
 * weights of a model pass through once per token). Its slice pays for the
 * same wake at
 *   min_vector_fmas_per_row · M = 8192 cycles × STREAM/4 floats × M,
 * 2^14 FMAs per row of A: a Linear of 288×288 (83K FMAs, one token through
 * a small Llama) is worth 5 slices, where the FMA rule (2^18 on two
 * 512-bit units) kept it on one thread. Measured with bench_llama
 * (stories15M's shape, 2 threads, Emerald Rapids): 412-577 tokens/s under
 * the FMA rule, 706-740 at 2^14 per row, 633-658 at 2^16, 676-736 at 2^12;
 * one thread 418-436. The cost: a small model whose weights stay in L2
 * from call to call reads them faster than that, and at batch 1 on two
 * threads pays for slices it does not need (bench_fashion batch 1:
 * 25.4-26.8K -> 24.0-25.2K images/s; bench_mnist: 1.36-1.44 -> 1.44-1.48
 * µs per image). Which weights are still in cache a call cannot know.
 * The cycle counts come from Zen 4 (AVX-512 8×32, one 512-bit FMA unit:
 * 16 FMAs per cycle): the crossover bench_matmul measured, OpenBLAS ahead
 * up to 64³ (45/95/113 vs 22/80/99 GFLOP/s at n = 16/32/64, native ahead
 * from 128³ and on every MNIST shape), and the 2^17 FMAs per slice the
 * thread split has used there since it was written (not re-measured: the
 * machine is shared). Expressed in cycles they carry over to other clocks
 * and widths: an Intel core with two 512-bit units (32 FMAs per cycle)
 * crosses over at twice the FMAs, an AVX2 core with two 256-bit units
 * (16) at the same (measured: 64³ to 128³ with AVX2 forced on Zen 4).
 * FMA units: for 512 bits the CPU's (mt_native_avx512_fma_units: Zen 4
 * one, Xeon Gold two); two for narrower vectors, as every x86-64 core with FMA
 * since Haswell and Zen 2 has (wasm32 has no OpenBLAS and one thread).
 */
#include <string.h>

#include "native.h"

enum {
    AUTO_CALL_CYCLES = 16384, /* 64³ FMAs / 16 per cycle */
    PART_WAKE_CYCLES = 8192,  /* 2^17 FMAs / 16 per cycle */
    NARROW_FMA_UNITS = 2,
    /* one core reading a stream from L3 or memory: 25 GB/s at ~3 GHz
     * (bench_llama's 61 MB per token at 414 tokens/s on one Emerald Rapids
     * core). Not read from the CPU: a core that streams faster would take
     * slices somewhat smaller than they need be, which costs only wakes */
    STREAM_BYTES_PER_CYCLE = 8,
};

mt_native_thresholds mt_native_thresholds_for(int lanes, int fma_units)
{
    const int64_t per_cycle = (int64_t)(lanes > 0 ? lanes : 1) * (fma_units > 0 ? fma_units : 1);
    return (mt_native_thresholds){
        .fmas_per_cycle = per_cycle,
        .auto_small_fmas = AUTO_CALL_CYCLES * per_cycle,
        .min_fmas_per_part = PART_WAKE_CYCLES * per_cycle,
        .min_vector_fmas_per_row =
            PART_WAKE_CYCLES * STREAM_BYTES_PER_CYCLE / (int64_t)sizeof(float),
    };
}

bool mt_native_small_for_blas(mt_native_thresholds t, int64_t m, int64_t n, int64_t k)
{
    return t.blas_always || (m > 1 && m * n * k <= t.auto_small_fmas);
}

/* The models whose every part has the same count (Intel's and AMD's
 * optimization manuals; ark lists "AVX-512 FMA units" per part):
 *   two: the Xeon server cores since Ice Lake-SP (Ice Lake-SP 0x6A,
 *        Sapphire Rapids 0x8F, Emerald Rapids 0xCF, Granite Rapids
 *        0xAD/0xAE);
 *   one: Intel's client cores with AVX-512 (Cannon Lake 0x66, Ice Lake
 *        0x7D/0x7E, Tiger Lake 0x8C/0x8D, Rocket Lake 0xA7: ports 0 and 1
 *        fused), and AMD Zen 4 (family 0x19: each zmm FMA is two 256-bit
 *        halves).
 * Elsewhere (Skylake-SP/Cascade Lake 0x55, where the Xeon tier decides;
 * Zen 5, whose laptop parts split zmm like Zen 4; models newer than this
 * table) the count is measured. A model answer is the same in every run,
 * so is the kernel it picks, and so are the results. */
int mt_native_avx512_fma_units_of(const char *vendor, unsigned family, unsigned model)
{
    static const unsigned intel_two[] = {0x6A, 0x8F, 0xCF, 0xAD, 0xAE};
    static const unsigned intel_one[] = {0x66, 0x7D, 0x7E, 0x8C, 0x8D, 0xA7};
    if (vendor && !strncmp(vendor, "GenuineIntel", 12) && family == 6) {
        for (size_t i = 0; i < sizeof intel_two / sizeof *intel_two; i++)
            if (model == intel_two[i])
                return 2;
        for (size_t i = 0; i < sizeof intel_one / sizeof *intel_one; i++)
            if (model == intel_one[i])
                return 1;
    }
    if (vendor && !strncmp(vendor, "AuthenticAMD", 12) && family == 0x19)
        return 1;
    return 0;
}

int mt_native_fma_units(int lanes)
{
#ifdef MT_NATIVE_AVX512
    if (lanes >= 16)
        return mt_native_avx512_fma_units();
#endif
    (void)lanes;
    return NARROW_FMA_UNITS;
}

/* The crossover assumes the native kernel is, per FMA, at least as fast as
 * OpenBLAS's and loses only on the call. The portable kernel is not (no FMA
 * instructions, 4 lanes; on Zen 4, CPU time: 33 vs 112 GFLOP/s at 64³, 35
 * vs 100 at 128³, 6.2 vs 3.8 us for 1×784×128; OpenBLAS has a kernel for
 * the CPU wherever it is built): with it, AUTO sends OpenBLAS everything. */
mt_native_thresholds mt_gemm_native_thresholds(void)
{
    const mt_native_kernel *kr = mt_gemm_native_kernel();
    mt_native_thresholds t = mt_native_thresholds_for(kr->lanes, mt_native_fma_units(kr->lanes));
    t.blas_always = kr == &mt_native_kernel_generic;
    return t;
}

/* Single-thread AVX-512 FP32 FMA peak.
 *
 * Build and run:
 *   gcc -O2 -mavx512f -mfma -o fma_peak tools/fma_peak.c && ./fma_peak
 *
 * The timed loop runs 12 independent accumulator chains acc_k = acc_k * a + b
 * (_mm512_fmadd_ps), each in its own zmm register: 12 chains cover the FMA latency
 * (4 cycles) times the FMA ports (2 on server cores) with room to spare, so the loop
 * is throughput bound. 12 accumulators + 2 constants use 14 of the 32 zmm registers,
 * so nothing spills. Each iteration does 12 FMAs x 16 lanes x 2 flops = 384 flops.
 * Prints GFLOP/s, the best of several runs of about 0.5 s each.
 *
 * a = 1 - 2^-20 and b = 2^-20 keep every accumulator in [0.5, 1]: no overflow, no
 * denormals. The final sum is printed so the loop cannot be optimised away.
 */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define CHAINS 12
#define FLOPS_PER_ITER (CHAINS * 16 * 2)
/* Unrolls a loop of at most 16 iterations completely (a pragma cannot name CHAINS). */
#define UNROLL_FULLY _Pragma("GCC unroll 16")
_Static_assert(CHAINS == 12, "run() sets and sums 12 accumulators by name");

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Runs n iterations; returns a value depending on every accumulator. */
__attribute__((noinline)) static float run(int64_t n)
{
    const __m512 a = _mm512_set1_ps(1.0f - 0x1p-20f);
    const __m512 b = _mm512_set1_ps(0x1p-20f);
    /* Each chain starts at its own value: 0.50, 0.52, ..., 0.72. */
    static const float start[CHAINS] = {0.50f, 0.52f, 0.54f, 0.56f, 0.58f, 0.60f, 0.62f, 0.64f, 0.66f, 0.68f, 0.70f, 0.72f};
    __m512 c[CHAINS];
    /* Fully unrolled with constant indices, so GCC keeps every c[k] in its own register (no loads or stores in the
     * timed loop; check with gcc -S). */
    UNROLL_FULLY
    for (int k = 0; k < CHAINS; k++)
        c[k] = _mm512_set1_ps(start[k]);
    for (int64_t i = 0; i < n; i++) {
        UNROLL_FULLY
        for (int k = 0; k < CHAINS; k++)
            c[k] = _mm512_fmadd_ps(c[k], a, b);
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c[0], c[1]), _mm512_add_ps(c[2], c[3])),
                             _mm512_add_ps(_mm512_add_ps(c[4], c[5]), _mm512_add_ps(c[6], c[7])));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(c[8], c[9]), _mm512_add_ps(c[10], c[11])));
    return _mm512_reduce_add_ps(s);
}

int main(void)
{
    /* Calibrate: grow n until one run takes >= 0.05 s, then scale to ~0.5 s. */
    int64_t n = 1 << 20;
    double t;
    float sink = 0.0f;
    for (;;) {
        double t0 = now_s();
        sink += run(n);
        t = now_s() - t0;
        if (t >= 0.05)
            break;
        n *= 2;
    }
    n = (int64_t)((double)n * 0.5 / t);

    double best = 0.0;
    const int runs = 7;
    for (int r = 0; r < runs; r++) {
        double t0 = now_s();
        sink += run(n);
        double dt = now_s() - t0;
        double gflops = (double)n * FLOPS_PER_ITER / dt * 1e-9;
        printf("run %d: %.3f s  %.1f GFLOP/s\n", r, dt, gflops);
        if (gflops > best)
            best = gflops;
    }
    printf("AVX-512 FP32 FMA peak, 1 thread, %d chains: %.1f GFLOP/s (best of %d runs of %lld iterations; checksum %g)\n",
           CHAINS, best, runs, (long long)n, (double)sink);
    return 0;
}

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
    __m512 c0 = _mm512_set1_ps(0.50f), c1 = _mm512_set1_ps(0.52f), c2 = _mm512_set1_ps(0.54f);
    __m512 c3 = _mm512_set1_ps(0.56f), c4 = _mm512_set1_ps(0.58f), c5 = _mm512_set1_ps(0.60f);
    __m512 c6 = _mm512_set1_ps(0.62f), c7 = _mm512_set1_ps(0.64f), c8 = _mm512_set1_ps(0.66f);
    __m512 c9 = _mm512_set1_ps(0.68f), c10 = _mm512_set1_ps(0.70f), c11 = _mm512_set1_ps(0.72f);
    for (int64_t i = 0; i < n; i++) {
        c0 = _mm512_fmadd_ps(c0, a, b);
        c1 = _mm512_fmadd_ps(c1, a, b);
        c2 = _mm512_fmadd_ps(c2, a, b);
        c3 = _mm512_fmadd_ps(c3, a, b);
        c4 = _mm512_fmadd_ps(c4, a, b);
        c5 = _mm512_fmadd_ps(c5, a, b);
        c6 = _mm512_fmadd_ps(c6, a, b);
        c7 = _mm512_fmadd_ps(c7, a, b);
        c8 = _mm512_fmadd_ps(c8, a, b);
        c9 = _mm512_fmadd_ps(c9, a, b);
        c10 = _mm512_fmadd_ps(c10, a, b);
        c11 = _mm512_fmadd_ps(c11, a, b);
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                             _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)));
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

/* Read bandwidth of a 256 MB buffer on 4 KB pages against transparent huge pages (MADV_HUGEPAGE).
 *
 * Build and run:
 *   gcc -O2 -mavx512f -pthread -o thp_stream tools/thp_stream.c && ./thp_stream HUGE THREADS
 *   (HUGE: 1 asks for huge pages, 0 forbids them; THREADS: 1 or 2)
 *
 * The deployment-size ConditionalUnet1D streams 249 MB of packed weights per call; 4 KB pages mean a TLB miss every 64
 * cache lines. This probe reads a 2 MB-aligned buffer with 8 independent AVX-512 accumulators per thread (each thread
 * its half), best of 10 passes, and prints the AnonHugePages the process got, so a run that asked for huge pages but
 * got none (THP "never") is visible. README, "Bringing your diffusion policy", quotes its numbers.
 */
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

typedef struct
{
    const float *p;
    size_t n;
    float sum;
} part;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *read_part(void *arg)
{
    part *a = arg;
    __m512 s[8];
    for (int j = 0; j < 8; j++)
        s[j] = _mm512_setzero_ps();
    for (size_t i = 0; i < a->n; i += 128)
        for (int j = 0; j < 8; j++)
            s[j] = _mm512_add_ps(s[j], _mm512_load_ps(a->p + i + 16 * j));
    for (int j = 1; j < 8; j++)
        s[0] = _mm512_add_ps(s[0], s[j]);
    a->sum = _mm512_reduce_add_ps(s[0]);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3)
    {
        fprintf(stderr, "usage: %s HUGE(0|1) THREADS(1|2)\n", argv[0]);
        return 2;
    }

    const size_t bytes = (size_t)256 << 20, align = (size_t)2 << 20;
    int huge = atoi(argv[1]), threads = atoi(argv[2]);
    if (threads < 1 || threads > 2)
    {
        fprintf(stderr, "THREADS must be 1 or 2\n");
        return 2;
    }

    char *raw = mmap(NULL, bytes + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
    {
        perror("mmap");
        return 1;
    }

    float *p = (float *)(((size_t)raw + align - 1) & ~(align - 1));
    madvise(p, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    for (size_t i = 0; i < bytes / 4; i++)
        p[i] = (float)(i & 7);

    double best = 0;
    float check = 0;
    for (int rep = 0; rep < 10; rep++)
    {
        pthread_t t[2];
        part a[2];
        double t0 = now();
        for (int k = 0; k < threads; k++)
        {
            a[k].p = p + k * (bytes / 4 / threads);
            a[k].n = bytes / 4 / threads;
            pthread_create(&t[k], NULL, read_part, &a[k]);
        }

        for (int k = 0; k < threads; k++)
        {
            pthread_join(t[k], NULL);
            check += a[k].sum;
        }

        double dt = now() - t0;
        if (bytes / dt > best)
            best = bytes / dt;
    }

    printf("huge pages %s, %d thread(s): %.1f GB/s (checksum %.0f)\n", huge ? "asked" : "forbidden", threads, best / 1e9, check);
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, "AnonHugePages"))
            fputs(line, stdout);
    if (f)
        fclose(f);
    return 0;
}

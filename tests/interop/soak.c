/*
 * soak: 8 threads share one model for about a minute (issue 13). Each thread loops over a fixed set of jobs (seeds,
 * chain counts, speculation lengths, DDPM), creating and freeing samplers as it goes, and every output must be
 * byte-identical to the same job run by one thread before the soak. The process's resident memory is read from
 * /proc/self/statm after a warm-up and at the end; its growth must stay under a bound (a leak per run would exceed it
 * within the tens of thousands of runs a soak makes).
 *
 *   soak [--seconds S] [--threads T] [--max-growth-mb M]     (defaults 60, 8, 64)
 *
 * Prints the figures and, last, "SOAK <passed> <failed>" (checks: every run succeeded, every output matched, the
 * RSS growth is bounded, runs happened). Run from the repository root.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "asd.h"

enum { JOBS = 12, MAX_THREADS = 64 };

typedef struct {
    int32_t sampler, spec_len, n;
    uint64_t seed, offset;
} job;

static job jobs[JOBS];
static float* reference[JOBS];
static asd_model* g_model;
static int64_t g_d, g_c;
static float g_cond[64];
static double g_stop;
static atomic_long g_runs, g_mismatch, g_errors;
static char g_first_error[512];

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double rss_mb(void) {
    long pages = 0, resident = 0;
    FILE* f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

static asd_sampler* make_sampler(const job* j) {
    asd_sampler_params p;
    asd_sampler_default_params(&p, sizeof p);
    p.sampler = j->sampler;
    p.steps = 50;
    p.spec_len = j->spec_len;
    p.max_batch_rows = 64;
    asd_sampler* s = NULL;
    return asd_sampler_create(g_model, &p, &s) == ASD_OK ? s : NULL;
}

static asd_status run(asd_sampler* s, const job* j, float* out) {
    asd_sample_params r;
    asd_sample_default_params(&r, sizeof r);
    r.seed = j->seed;
    r.chain_offset = j->offset;
    r.cond = g_cond;
    r.cond_len = (size_t)g_c;
    return asd_sampler_sample(s, j->n, &r, out, (size_t)(j->n * g_d));
}

static void error(const char* what) {
    if (atomic_fetch_add(&g_errors, 1) == 0) snprintf(g_first_error, sizeof g_first_error, "%s: %s", what, asd_last_error());
}

static void* worker(void* arg) {
    unsigned t = (unsigned)(uintptr_t)arg, k = t;
    float* out = malloc(sizeof(float) * 16 * (size_t)g_d);
    asd_sampler* s = NULL;
    int current = -1;
    while (now() < g_stop) {
        int j = (int)(k++ % JOBS);
        /* A sampler per job kind, recreated when the kind changes and every few runs (create/free churn). */
        if (s == NULL || current != j || k % 7 == 0) {
            asd_sampler_free(s);
            s = make_sampler(&jobs[j]);
            current = j;
            if (!s) { error("asd_sampler_create"); continue; }
        }
        if (run(s, &jobs[j], out) != ASD_OK) { error("asd_sampler_sample"); continue; }
        if (memcmp(out, reference[j], sizeof(float) * (size_t)(jobs[j].n * g_d)) != 0) atomic_fetch_add(&g_mismatch, 1);
        atomic_fetch_add(&g_runs, 1);
    }
    asd_sampler_free(s);
    free(out);
    return NULL;
}

int main(int argc, char** argv) {
    double seconds = 60, max_growth = 64;
    int threads = 8, passed = 0, failed = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--max-growth-mb")) max_growth = atof(argv[i + 1]);
    }
    if (threads < 1 || threads > MAX_THREADS) threads = 8;
    asd_model_params mp;
    asd_model_default_params(&mp, sizeof mp);
    mp.threads = 1;
    if (asd_model_open("tests/fixtures/mlp_small/mlp_small.json", &mp, &g_model) != ASD_OK) {
        printf("FAIL  cannot open the model: %s\nSOAK 0 1\n", asd_last_error());
        return 1;
    }
    asd_model_sample_size(g_model, &g_d);
    asd_model_cond_size(g_model, &g_c);
    for (int i = 0; i < g_c && i < 64; i++) g_cond[i] = 0.25f * (float)(i + 1) - 0.5f;
    const int32_t lens[JOBS] = {1, 2, 3, 4, 6, 8, 12, 16, ASD_SPEC_LEN_UNBOUNDED, 5, 7, 1};
    for (int j = 0; j < JOBS; j++) {
        jobs[j].sampler = j == JOBS - 1 ? ASD_SAMPLER_DDPM : ASD_SAMPLER_ASD;
        jobs[j].spec_len = lens[j];
        jobs[j].n = 1 + (j * 5) % 16;
        jobs[j].seed = 1000u + (uint64_t)j;
        jobs[j].offset = (uint64_t)j * 97u;
    }
    /* The single-thread reference, one sampler per job. */
    double rss_start = rss_mb();
    for (int j = 0; j < JOBS; j++) {
        reference[j] = malloc(sizeof(float) * (size_t)(jobs[j].n * g_d));
        asd_sampler* s = make_sampler(&jobs[j]);
        if (!s || run(s, &jobs[j], reference[j]) != ASD_OK) {
            printf("FAIL  reference job %d: %s\nSOAK 0 1\n", j, asd_last_error());
            return 1;
        }
        asd_sampler_free(s);
    }
    /* Warm-up: a tenth of the soak (at least 3 s) with all threads, then the RSS baseline. */
    double warm = seconds / 10 < 3 ? 3 : seconds / 10;
    pthread_t tid[MAX_THREADS];
    double t0 = now();
    g_stop = t0 + warm;
    for (int t = 0; t < threads; t++) pthread_create(&tid[t], NULL, worker, (void*)(uintptr_t)t);
    for (int t = 0; t < threads; t++) pthread_join(tid[t], NULL);
    long warm_runs = atomic_load(&g_runs);
    double rss_warm = rss_mb(), rss_peak = rss_warm;
    g_stop = now() + seconds - warm;
    for (int t = 0; t < threads; t++) pthread_create(&tid[t], NULL, worker, (void*)(uintptr_t)(t + 1000));
    while (now() < g_stop) {
        struct timespec pause = {1, 0};
        nanosleep(&pause, NULL);
        double r = rss_mb();
        if (r > rss_peak) rss_peak = r;
    }
    for (int t = 0; t < threads; t++) pthread_join(tid[t], NULL);
    double elapsed = now() - t0, rss_end = rss_mb();
    long runs = atomic_load(&g_runs), mismatch = atomic_load(&g_mismatch), errors = atomic_load(&g_errors);
    printf("SOAK_FIGURES threads=%d seconds=%.1f runs=%ld (after warm-up %ld) mismatches=%ld errors=%ld "
           "rss_mb start=%.1f warm=%.1f end=%.1f peak=%.1f growth=%.1f bound=%.0f\n",
           threads, elapsed, runs, runs - warm_runs, mismatch, errors, rss_start, rss_warm, rss_end, rss_peak, rss_end - rss_warm, max_growth);
#define CHECK(cond, what)                                   \
    do {                                                    \
        if (cond) { passed++; printf("ok    %s\n", what); } \
        else { failed++; printf("FAIL  %s\n", what); }      \
    } while (0)
    CHECK(errors == 0, errors ? g_first_error : "every run succeeded");
    CHECK(mismatch == 0, "every output is byte-identical to the single-thread reference");
    CHECK(runs - warm_runs >= 100, "the soak ran (>= 100 runs after the warm-up)");
    CHECK(rss_end - rss_warm <= max_growth && rss_peak - rss_warm <= 2 * max_growth, "RSS growth after the warm-up is bounded");
    for (int j = 0; j < JOBS; j++) free(reference[j]);
    asd_model_free(g_model);
    printf("SOAK %d %d\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

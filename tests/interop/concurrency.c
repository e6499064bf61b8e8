/*
 * Concurrency: 8 threads share one model (each with its own sampler) and must produce the same bytes as the same
 * jobs run serially. Two models are exercised: the built-in mixture and the native MLP (whose weights are packed
 * lazily on first use, so the threaded phase opens a FRESH model and the packing itself races). The threaded
 * phase also uses a different thread count per sampler (model threads = 2 vs 1 in the serial phase): the engine
 * promises the same bytes for any thread count.
 *
 *   concurrency            serial reference + 8-thread run, compared byte for byte
 *   concurrency --serial   serial reference only; prints its hash (used to compare builds across CPUs)
 *   concurrency --small    like --serial with 4 chains, 1 run per job and K / 10 (for slow emulators)
 *
 * Every job uses a fixed integer spec_len (or DDPM): automatic L may depend on timings.
 * Prints "HASH <fnv1a-64 of all serial outputs>" and "CONCURRENCY <passed> <failed>". Run from the repository root.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asd.h"

enum { THREADS = 8, ITERS = 3 };
static int N = 24, iters = ITERS, step_div = 1;

typedef struct {
    int model;      /* 0 = mixture, 1 = MLP */
    int32_t kind;   /* ASD_SAMPLER_* */
    int32_t spec_len;
    int32_t steps;
} job_kind;

/* Thread t runs kinds[t]: both models, fixed L, unbounded L, and DDPM. */
static const job_kind kinds[THREADS] = {
    {0, ASD_SAMPLER_ASD, 8, 200}, {1, ASD_SAMPLER_ASD, 8, 100},  {0, ASD_SAMPLER_ASD, 0, 200}, {1, ASD_SAMPLER_ASD, 0, 100},
    {0, ASD_SAMPLER_DDPM, 1, 200}, {1, ASD_SAMPLER_DDPM, 1, 100}, {0, ASD_SAMPLER_ASD, 3, 200}, {1, ASD_SAMPLER_ASD, 2, 100},
};

static const char* specs[2] = {"builtin:mixture?dim=32", "tests/fixtures/mlp_small/mlp_small.json"};
static const int64_t dims[2] = {32, 6};

typedef struct {
    asd_model* models[2];
    int t;
    float* out[ITERS];
    asd_status status;
    char error[512];
    pthread_barrier_t* barrier;
} worker;

static void fail(worker* w, asd_status st, const char* what) {
    if (w->status == ASD_OK) {
        w->status = st;
        snprintf(w->error, sizeof w->error, "%s: %s: %s", what, asd_status_name(st), asd_last_error());
    }
}

/* The jobs of thread t: one sampler, ITERS runs with different seeds and chain offsets. */
static void run_jobs(worker* w) {
    const job_kind* k = &kinds[w->t];
    asd_sampler_params sp;
    asd_sampler_default_params(&sp, sizeof sp);
    sp.sampler = k->kind;
    sp.spec_len = k->spec_len;
    sp.steps = k->steps / step_div;
    sp.max_batch_rows = 64 + 37 * w->t; /* the bytes must not depend on the row cap either */
    asd_sampler* s = NULL;
    asd_status st = asd_sampler_create(w->models[k->model], &sp, &s);
    if (st != ASD_OK) {
        fail(w, st, "asd_sampler_create");
        return;
    }
    if (w->barrier) pthread_barrier_wait(w->barrier);
    float cond[24 * 3];
    for (int i = 0; i < N * 3; i++) cond[i] = (float)((i * 37 + w->t * 11) % 23) / 11.0f - 1.0f;
    for (int it = 0; it < iters; it++) {
        asd_sample_params rp;
        asd_sample_default_params(&rp, sizeof rp);
        rp.seed = 1000 + (uint64_t)w->t * 10 + (uint64_t)it;
        rp.chain_offset = (uint64_t)w->t * 1000 + (uint64_t)it * 100;
        if (k->model == 1) {
            rp.cond = cond;
            rp.cond_len = N * 3;
        }
        size_t len = (size_t)N * (size_t)dims[k->model];
        st = asd_sampler_sample(s, N, &rp, w->out[it], len);
        if (st != ASD_OK) {
            fail(w, st, "asd_sampler_sample");
            break;
        }
    }
    asd_sampler_free(s);
}

static void* thread_main(void* arg) {
    run_jobs((worker*)arg);
    return NULL;
}

static int open_models(asd_model* models[2], int32_t threads) {
    asd_model_params mp;
    asd_model_default_params(&mp, sizeof mp);
    mp.threads = threads;
    for (int i = 0; i < 2; i++) {
        asd_status st = asd_model_open(specs[i], &mp, &models[i]);
        if (st != ASD_OK) {
            fprintf(stderr, "asd_model_open(%s): %s: %s\n", specs[i], asd_status_name(st), asd_last_error());
            return 0;
        }
    }
    return 1;
}

static void alloc_outputs(worker* w) {
    for (int it = 0; it < ITERS; it++) {
        size_t len = (size_t)N * (size_t)dims[kinds[w->t].model];
        w->out[it] = malloc(len * sizeof(float));
        memset(w->out[it], 0xff, len * sizeof(float));
    }
}

int main(int argc, char** argv) {
    int small = argc > 1 && strcmp(argv[1], "--small") == 0;
    int serial_only = small || (argc > 1 && strcmp(argv[1], "--serial") == 0);
    if (small) {
        N = 4;
        iters = 1;
        step_div = 10;
    }
    int passed = 0, failed = 0;
    static worker serial[THREADS], threaded[THREADS];

    /* Serial reference: one thread, models with 1 thread each. */
    asd_model* ref_models[2];
    if (!open_models(ref_models, 1)) return 2;
    uint64_t hash = 1469598103934665603ULL;
    int serial_ok = 1;
    for (int t = 0; t < THREADS; t++) {
        serial[t].t = t;
        serial[t].models[0] = ref_models[0];
        serial[t].models[1] = ref_models[1];
        alloc_outputs(&serial[t]);
        run_jobs(&serial[t]);
        if (serial[t].status != ASD_OK) {
            printf("FAIL  serial job %d: %s\n", t, serial[t].error);
            serial_ok = 0;
        }
        for (int it = 0; it < iters; it++) {
            const unsigned char* b = (const unsigned char*)serial[t].out[it];
            size_t bytes = (size_t)N * (size_t)dims[kinds[t].model] * sizeof(float);
            for (size_t i = 0; i < bytes; i++) hash = (hash ^ b[i]) * 1099511628211ULL;
        }
    }
    asd_model_free(ref_models[0]);
    asd_model_free(ref_models[1]);
    if (serial_ok) passed++; else failed++;
    printf("%s  serial reference: %d jobs x %d runs of %d chains\n", serial_ok ? "ok  " : "FAIL", THREADS, iters, N);
    printf("HASH %016llx\n", (unsigned long long)hash);

    if (!serial_only) {
        /* Threaded: fresh models (lazy weight packing races), 2 threads per sampler pool, 8 samplers at once. */
        asd_model* models[2];
        if (!open_models(models, 2)) return 2;
        pthread_t threads[THREADS];
        pthread_barrier_t barrier;
        pthread_barrier_init(&barrier, NULL, THREADS);
        for (int t = 0; t < THREADS; t++) {
            threaded[t].t = t;
            threaded[t].models[0] = models[0];
            threaded[t].models[1] = models[1];
            threaded[t].barrier = &barrier;
            alloc_outputs(&threaded[t]);
            pthread_create(&threads[t], NULL, thread_main, &threaded[t]);
        }
        for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
        pthread_barrier_destroy(&barrier);
        asd_model_free(models[0]);
        asd_model_free(models[1]);

        for (int t = 0; t < THREADS; t++) {
            int ok = threaded[t].status == ASD_OK;
            for (int it = 0; ok && it < ITERS; it++) {
                size_t bytes = (size_t)N * (size_t)dims[kinds[t].model] * sizeof(float);
                ok = memcmp(serial[t].out[it], threaded[t].out[it], bytes) == 0;
            }
            if (ok) passed++; else failed++;
            printf("%s  thread %d (%s, %s, spec_len %d, K=%d): %d runs equal the serial bytes%s%s\n", ok ? "ok  " : "FAIL", t,
                   kinds[t].model ? "mlp_small" : "mixture dim 32", kinds[t].kind == ASD_SAMPLER_ASD ? "asd" : "ddpm",
                   kinds[t].spec_len, kinds[t].steps, ITERS, threaded[t].status ? ": " : "", threaded[t].error);
        }
    }
    for (int t = 0; t < THREADS; t++)
        for (int it = 0; it < ITERS; it++) {
            free(serial[t].out[it]);
            free(threaded[t].out[it]);
        }
    printf("CONCURRENCY %d %d\n", passed, failed);
    return failed != 0;
}

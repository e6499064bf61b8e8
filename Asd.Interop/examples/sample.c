/*
 * Samples the built-in Gaussian mixture with ASD and prints the samples' mean radius and the run statistics.
 *
 *   gcc -std=c99 -Wall -Wextra -Werror -I<libasd>/include sample.c -o sample -L<libasd> -lasd -Wl,-rpath,<libasd>
 *   ./sample ["builtin:mixture?dim=32"] [n] [spec_len]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "asd.h"

/* Prints the failed call, the status name and the library's message, and exits. */
#define CHECK(call)                                                                                   \
    do {                                                                                              \
        asd_status st_ = (call);                                                                      \
        if (st_ != ASD_OK) {                                                                          \
            fprintf(stderr, "%s failed: %s: %s\n", #call, asd_status_name(st_), asd_last_error());   \
            exit(1);                                                                                  \
        }                                                                                             \
    } while (0)

static int32_t on_progress(void* user, int64_t done, int64_t total, int64_t calls) {
    int64_t* last_calls = (int64_t*)user;
    (void)done;
    (void)total;
    *last_calls = calls;
    return 0; /* non-zero would cancel */
}

int main(int argc, char** argv) {
    const char* spec = argc > 1 ? argv[1] : "builtin:mixture";
    int32_t n = argc > 2 ? atoi(argv[2]) : 16;
    int32_t spec_len = argc > 3 ? atoi(argv[3]) : 8;

    if (asd_abi_version() != ASD_ABI_VERSION) {
        fprintf(stderr, "libasd ABI %u, header ABI %d\n", asd_abi_version(), ASD_ABI_VERSION);
        return 1;
    }
    const char* features = asd_cpu_features(); /* NULL only if ASD_FORCE_ISA names a path this build lacks */
    if (!features) {
        fprintf(stderr, "%s\n", asd_last_error());
        return 1;
    }
    printf("libasd %s (%s)\n", asd_version(), features);

    asd_model_params mp;
    CHECK(asd_model_default_params(&mp, sizeof mp));
    mp.threads = 1;
    asd_model* model = NULL;
    CHECK(asd_model_open(spec, &mp, &model));

    int64_t d = 0;
    int32_t train_steps = 0;
    CHECK(asd_model_sample_size(model, &d));
    CHECK(asd_model_train_steps(model, &train_steps));
    printf("model %s: %lld floats per sample, %d training steps\n", spec, (long long)d, train_steps);

    asd_sampler_params sp;
    CHECK(asd_sampler_default_params(&sp, sizeof sp));
    sp.sampler = ASD_SAMPLER_ASD;
    sp.steps = 100;
    sp.spec_len = spec_len;
    asd_sampler* sampler = NULL;
    CHECK(asd_sampler_create(model, &sp, &sampler));

    float* out = malloc((size_t)n * (size_t)d * sizeof(float));
    if (!out) return 1;
    int64_t calls = 0;
    asd_sample_params run;
    CHECK(asd_sample_default_params(&run, sizeof run));
    run.seed = 7;
    run.progress = on_progress;
    run.progress_user = &calls;
    CHECK(asd_sampler_sample(sampler, n, &run, out, (size_t)n * (size_t)d));

    double radius = 0;
    for (int32_t i = 0; i < n; i++) {
        double r2 = 0;
        for (int64_t j = 0; j < d; j++) r2 += (double)out[i * d + j] * out[i * d + j];
        radius += sqrt(r2) / n;
    }
    printf("first sample: %.4f %.4f   mean radius %.3f (the mixture's means have radius 4)\n", out[0], out[1], radius);

    asd_stats stats;
    CHECK(asd_sampler_stats(sampler, &stats, sizeof stats));
    printf("K=%d n=%d: %.2f sequential model calls per chain (DDPM: %d), algorithmic speedup %.2fx, %lld model calls "
           "(progress saw %lld)\n",
           stats.steps, stats.samples, stats.sequential_model_calls, stats.steps, stats.algorithmic_speedup,
           (long long)stats.denoiser_invocations, (long long)calls);

    size_t need = 0;
    CHECK(asd_sampler_stats_json(sampler, NULL, 0, &need));
    char* json = malloc(need);
    if (!json) return 1;
    CHECK(asd_sampler_stats_json(sampler, json, need, &need));
    printf("stats %s\n", json);

    free(json);
    free(out);
    asd_sampler_free(sampler);
    asd_model_free(model);
    return 0;
}

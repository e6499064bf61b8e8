/*
 * Robustness of the C ABI: every export is called with NULL handles, NULL buffers, wrong lengths, NaN
 * conditioning, unknown specs, freed and wrong-kind handles, and invalid parameter fields. Each check expects a
 * specific non-zero status and a message that names the problem; no call may crash. The invalid-field checks also
 * pin the struct layout: each field is set alone and the message must name that field.
 *
 * Prints one line per check and a final "ROBUSTNESS <passed> <failed>"; exits non-zero on any failure.
 * Run from the repository root (it opens tests/fixtures/...).
 */
#define _DEFAULT_SOURCE /* mmap, MAP_ANONYMOUS, mkdtemp */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "asd.h"

static int passed, failed;

static void report(int ok, const char* what, const char* detail) {
    if (ok) {
        passed++;
        printf("ok    %s\n", what);
    } else {
        failed++;
        printf("FAIL  %s: %s\n", what, detail);
    }
}

/* The call must return `want` and leave a message containing `needle`. */
static void expect(asd_status got, asd_status want, const char* needle, const char* what) {
    const char* msg = asd_last_error();
    char detail[1024];
    int ok = got == want && msg != NULL && msg[0] != '\0' && (needle == NULL || strstr(msg, needle) != NULL);
    snprintf(detail, sizeof detail, "status %s (want %s), message \"%s\" (want it to contain \"%s\")",
             asd_status_name(got), asd_status_name(want), msg ? msg : "(null)", needle ? needle : "");
    report(ok, what, detail);
    if (ok) printf("        -> %s: %s\n", asd_status_name(got), msg);
}

static void expect_ok(asd_status got, const char* what) {
    char detail[1024];
    snprintf(detail, sizeof detail, "status %s: %s", asd_status_name(got), asd_last_error());
    report(got == ASD_OK, what, detail);
}

#define EXPECT(call, want, needle) expect((call), (want), (needle), #call)
#define EXPECT_OK(call) expect_ok((call), #call)
#define CHECK_TRUE(cond, what) report((cond), (what), "condition false")

/* Specs that name no model asd_model_open can load: the status it returns and a part of the message that names the problem. */
static const struct {
    const char* spec;
    asd_status want;
    const char* needle;
} bad_specs[] = {
    {"builtin:nonsense", ASD_ERR_MODEL, "Unknown built-in model"},
    {"builtin:mixture?dim=3", ASD_ERR_MODEL, "3"},
    {"builtin:mixture?depth=3", ASD_ERR_MODEL, "depth"},
    {"no-such-model", ASD_ERR_MODEL, "no-such-model"},
    {"no/such/model.onnx", ASD_ERR_IO, "does not exist"},
    {"no/such/model.json", ASD_ERR_IO, "does not exist"},
    {"tests/fixtures/mlp_small", ASD_ERR_IO, "no model.onnx"},
    {"tests/fixtures/onnx/bad/not_onnx.onnx", ASD_ERR_MODEL, "not a model"},
    {"tests/fixtures/mlp_bad/mismatch.json", ASD_ERR_MODEL, "mismatch"},
    {"tests/fixtures/mlp_bad/truncated.json", ASD_ERR_MODEL, "truncated"},
    {"tests/fixtures/mlp_small/reference.json", ASD_ERR_MODEL, "not an asd-mlp model"},
};

/* --- sampler-parameter layout: one invalid field at a time ----------------------------------------- */

static asd_model* g_model;

static void bad_field(void (*set)(asd_sampler_params*), asd_status want, const char* needle, const char* what) {
    asd_sampler_params p;
    asd_sampler_default_params(&p, sizeof p);
    p.spec_len = 8;
    set(&p);
    asd_sampler* s = (asd_sampler*)0x1;
    asd_status st = asd_sampler_create(g_model, &p, &s);
    expect(st, want, needle, what);
    report(s == NULL, "  ... and *out_sampler is NULL after the failure", "out_sampler was not cleared");
}

static void f_sampler(asd_sampler_params* p) { p->sampler = 7; }
static void f_steps0(asd_sampler_params* p) { p->steps = 0; }
static void f_steps_big(asd_sampler_params* p) { p->steps = 5000; }
static void f_spec_len(asd_sampler_params* p) { p->spec_len = -2; }
static void f_rows(asd_sampler_params* p) { p->max_batch_rows = 0; }
static void f_guidance_nan(asd_sampler_params* p) { p->guidance_scale = NAN; }
static void f_guidance(asd_sampler_params* p) { p->guidance_scale = 2.0f; }
static void f_cost_fixed(asd_sampler_params* p) { p->cost_curve_path = "README.md"; }
static void f_cost_missing(asd_sampler_params* p) { p->spec_len = ASD_SPEC_LEN_AUTO; p->cost_curve_path = "no/such/curve.json"; }
static void f_train(asd_sampler_params* p) { p->train_steps = -1; }
static void f_offset(asd_sampler_params* p) { p->steps_offset = -5; }
static void f_clip(asd_sampler_params* p) { p->clip_sample = 3; }
static void f_beta_start(asd_sampler_params* p) { p->beta_start = 2.0; }
static void f_beta_end(asd_sampler_params* p) { p->beta_end = NAN; }
static void f_clip_range(asd_sampler_params* p) { p->clip_sample_range = -1.0; }
static void f_schedule(asd_sampler_params* p) { p->beta_schedule = "cubic"; }
static void f_prediction(asd_sampler_params* p) { p->prediction_type = "x0"; }
static void f_variance(asd_sampler_params* p) { p->variance_type = "learned"; }
static void f_spacing(asd_sampler_params* p) { p->timestep_spacing = "weird"; }

/* --- progress callbacks ------------------------------------------------------------------------------ */

static int32_t cancel_at_two(void* user, int64_t done, int64_t total, int64_t calls) {
    (void)user;
    (void)done;
    (void)total;
    return calls >= 2;
}

struct reentry {
    asd_sampler* self;
    asd_status sample_status, stats_status;
    int free_self;
    int calls;
};

static int32_t reenter(void* user, int64_t done, int64_t total, int64_t calls) {
    struct reentry* r = (struct reentry*)user;
    float buf[4]; /* one sample of builtin:mixture?dim=4 */
    asd_stats st;
    (void)done;
    (void)total;
    (void)calls;
    if (r->calls++ == 0) {
        r->sample_status = asd_sampler_sample(r->self, 1, NULL, buf, 4);
        r->stats_status = asd_sampler_stats(r->self, &st, sizeof st);
        if (r->free_self) asd_sampler_free(r->self);
    }
    return 0;
}

static int untouched(const float* buf, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (buf[i] != -12345.0f) return 0;
    return 1;
}

static void fill(float* buf, size_t n) {
    for (size_t i = 0; i < n; i++) buf[i] = -12345.0f;
}

/* --- issue 13: hostile sizes, limits, calibration ------------------------------------------------------ */

/* A struct of `size` bytes ending where an inaccessible page begins: a write past it is a crash, not corruption. */
static void* guarded(size_t size) {
    long page = sysconf(_SC_PAGESIZE);
    size_t span = (size + (size_t)page - 1) / (size_t)page * (size_t)page;
    unsigned char* base = mmap(NULL, span + (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return NULL;
    mprotect(base + span, (size_t)page, PROT_NONE);
    return base + span - size;
}

/* Wall-clock bounds below are hang guards, not benchmarks; under valgrind (about 20-50x slower) the runner scales
   them with ASD_TIME_FACTOR. */
static double time_factor(void) {
    const char* f = getenv("ASD_TIME_FACTOR");
    double v = f ? atof(f) : 1;
    return v >= 1 ? v : 1;
}

static double seconds_since(const struct timespec* t0) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) * 1e-9;
}

static int32_t cancel_calibration(void* user, int64_t done, int64_t planned, int64_t calls) {
    (void)planned;
    (void)calls;
    *(int*)user += 1;
    return done >= 4;
}

static void issue13_reproducers(void) {
    static const size_t hostile[] = {SIZE_MAX, (size_t)1 << 20, 0xffffffffu, (size_t)1 << 40};
    asd_model_params* mp = guarded(sizeof *mp);
    asd_sampler_params* sp = guarded(sizeof *sp);
    asd_sample_params* rp = guarded(sizeof *rp);
    asd_stats* st = guarded(sizeof *st);
    char what[160];
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        /* Each would write (or zero) up to `size` bytes before the fix: a segfault at the guard page. */
        asd_status a = asd_model_default_params(mp, hostile[i]);
        asd_status b = asd_sampler_default_params(sp, hostile[i]);
        asd_status c = asd_sample_default_params(rp, hostile[i]);
        snprintf(what, sizeof what, "asd_*_default_params(p, %zu) write only the library's struct (guard page after it)", hostile[i]);
        CHECK_TRUE(a == ASD_OK && b == ASD_OK && c == ASD_OK && mp->struct_size == sizeof *mp && sp->struct_size == sizeof *sp &&
                       rp->struct_size == sizeof *rp,
                   what);
    }

    asd_model* m = NULL;
    asd_sampler* s = NULL;
    EXPECT_OK(asd_model_open("builtin:mixture?dim=4", NULL, &m));
    sp->spec_len = 4;
    sp->steps = 10;
    EXPECT_OK(asd_sampler_create(m, sp, &s));
    float out[8];
    EXPECT_OK(asd_sampler_sample(s, 2, NULL, out, 8));
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        snprintf(what, sizeof what, "asd_sampler_stats(s, st, %zu) fills only the library's struct", hostile[i]);
        CHECK_TRUE(asd_sampler_stats(s, st, hostile[i]) == ASD_OK && st->struct_size == sizeof *st && st->samples == 2, what);
    }
    asd_sampler_free(s);

    /* Threads have an upper limit (1024 threads took 8.6 s, 65536 ran a machine out of memory). */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    asd_model_default_params(mp, sizeof *mp);
    mp->threads = 65536;
    asd_model* none = NULL;
    EXPECT(asd_model_open("builtin:mixture", mp, &none), ASD_ERR_INVALID_ARGUMENT, "threads = 65536 is out of range: use 0 (one per core) to 256");
    mp->threads = 1024;
    EXPECT(asd_model_open("builtin:mixture", mp, &none), ASD_ERR_INVALID_ARGUMENT, "to 256");
    CHECK_TRUE(seconds_since(&t0) < 5 * time_factor(), "hostile thread counts are refused at once");

    /* An unavailable device is "valid but not available", not a bug (it was ASD_ERR_INTERNAL; found by fuzz_abi.c). */
    mp->threads = 1;
    mp->device = "cuda";
    EXPECT(asd_model_open("tests/fixtures/onnx/unet16", mp, &none), ASD_ERR_UNSUPPORTED, "--device cuda");
    mp->device = NULL;

    /* Overflow never shows through; loose specs are refused. */
    EXPECT(asd_model_open("builtin:mixture?dim=2147483646", NULL, &none), ASD_ERR_MODEL, "too large: the limit is 1048576");
    EXPECT(asd_model_open("builtin:mixture?dim=4&dim=6", NULL, &none), ASD_ERR_MODEL, "appears twice");
    EXPECT(asd_model_open("builtin:mixture?dim= 4", NULL, &none), ASD_ERR_MODEL, "space");
    EXPECT(asd_model_open("builtin:mixture?", NULL, &none), ASD_ERR_MODEL, "ends in '?'");

    /* A model file naming /dev/urandom as its weights: refused at once, never read. */
    char dir[] = "/tmp/asd-robust-XXXXXX", path[256];
    if (mkdtemp(dir)) {
        snprintf(path, sizeof path, "%s/m.json", dir);
        FILE* f = fopen(path, "w");
        fputs("{\"format\": \"asd-mlp\", \"version\": 1, \"weights\": \"/dev/urandom\"}", f);
        fclose(f);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        EXPECT(asd_model_open(path, NULL, &none), ASD_ERR_MODEL, "\"weights\" '/dev/urandom' is an absolute path");
        f = fopen(path, "w");
        fputs("{\"format\": \"asd-mlp\", \"version\": 9223372036854775807}", f);
        fclose(f);
        EXPECT(asd_model_open(path, NULL, &none), ASD_ERR_MODEL, "\"version\" is 9223372036854775807");
        CHECK_TRUE(seconds_since(&t0) < 5 * time_factor(), "hostile model files are refused at once");
        remove(path);
        rmdir(dir);
    }

    /* Calibration inside asd_sampler_create: bounded by calibration_seconds, cancellable, skippable. */
    asd_model* big = NULL;
    EXPECT_OK(asd_model_open("builtin:mixture?dim=65536", NULL, &big));
    asd_sampler_default_params(sp, sizeof *sp);
    sp->steps = 10;
    sp->spec_len = ASD_SPEC_LEN_AUTO;
    sp->calibration_seconds = NAN;
    EXPECT(asd_sampler_create(big, sp, &s), ASD_ERR_INVALID_ARGUMENT, "calibration_seconds");
    int calls = 0;
    sp->calibration_seconds = 60;
    sp->calibration_progress = cancel_calibration;
    sp->calibration_user = &calls;
    EXPECT(asd_sampler_create(big, sp, &s), ASD_CANCELLED, "calibration was cancelled");
    CHECK_TRUE(s == NULL && calls == 4, "the calibration callback cancelled after its 4th call");
    sp->calibration_progress = NULL;
    sp->calibration_seconds = -1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    EXPECT_OK(asd_sampler_create(big, sp, &s));
    CHECK_TRUE(seconds_since(&t0) < 5 * time_factor(), "calibration_seconds < 0 skips the calibration");
    asd_sampler_free(s);
    sp->calibration_seconds = 1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    EXPECT_OK(asd_sampler_create(big, sp, &s));
    double took = seconds_since(&t0);
    snprintf(what, sizeof what, "a 1 s calibration of builtin:mixture?dim=65536 ends in time (took %.1f s; 71 s before)", took);
    CHECK_TRUE(took < 20 * time_factor(), what);
    asd_sampler_free(s);
    asd_model_free(big);
    asd_model_free(m);
}

int main(void) {
    /* ---- library-level exports */
    CHECK_TRUE(asd_abi_version() == ASD_ABI_VERSION, "asd_abi_version() == ASD_ABI_VERSION");
    CHECK_TRUE(asd_version() != NULL && asd_version()[0] != '\0', "asd_version() is a non-empty string");
    CHECK_TRUE(asd_cpu_features() != NULL && strstr(asd_cpu_features(), "active=") != NULL,
               "asd_cpu_features() names the active path");
    CHECK_TRUE(asd_last_error() != NULL, "asd_last_error() is never NULL");
    CHECK_TRUE(strcmp(asd_status_name(ASD_OK), "ASD_OK") == 0, "asd_status_name(ASD_OK)");
    CHECK_TRUE(strcmp(asd_status_name(ASD_ERR_BUFFER_SIZE), "ASD_ERR_BUFFER_SIZE") == 0, "asd_status_name(ASD_ERR_BUFFER_SIZE)");
    CHECK_TRUE(strcmp(asd_status_name(12345), "ASD_ERR_UNKNOWN") == 0, "asd_status_name(12345) is ASD_ERR_UNKNOWN");

    /* ---- default params */
    asd_model_params mp;
    asd_sampler_params sp;
    asd_sample_params rp;
    EXPECT(asd_model_default_params(NULL, sizeof mp), ASD_ERR_NULL_POINTER, "NULL");
    EXPECT(asd_model_default_params(&mp, 3), ASD_ERR_BUFFER_SIZE, "smaller");
    EXPECT(asd_model_default_params(&mp, offsetof(asd_model_params, threads)), ASD_ERR_BUFFER_SIZE, "smaller");
    /* A caller compiled against asd.h before onnx_native was appended: its struct (threads and its padding) is filled
       up to its size, and onnx_native is left as it was. */
    mp.onnx_native = "untouched";
    EXPECT_OK(asd_model_default_params(&mp, offsetof(asd_model_params, onnx_native)));
    CHECK_TRUE(mp.struct_size == offsetof(asd_model_params, onnx_native) && strcmp(mp.onnx_native, "untouched") == 0,
               "an older, smaller asd_model_params is filled up to its size");
    /* ... and asd_model_open reads no further: a wild pointer beyond that size is never followed. */
    mp.onnx_native = (const char*)(uintptr_t)0x10;
    asd_model* older = NULL;
    EXPECT_OK(asd_model_open("builtin:mixture", &mp, &older));
    asd_model_free(older);
    EXPECT(asd_sampler_default_params(NULL, sizeof sp), ASD_ERR_NULL_POINTER, "NULL");
    EXPECT(asd_sampler_default_params(&sp, offsetof(asd_sampler_params, calibration_seconds) - 8), ASD_ERR_BUFFER_SIZE, "smaller");
    /* A caller compiled against asd.h before calibration_seconds was appended: its struct is filled up to its size. */
    EXPECT_OK(asd_sampler_default_params(&sp, offsetof(asd_sampler_params, calibration_seconds)));
    CHECK_TRUE(sp.struct_size == offsetof(asd_sampler_params, calibration_seconds), "an older, smaller asd_sampler_params is filled up to its size");
    EXPECT(asd_sample_default_params(NULL, sizeof rp), ASD_ERR_NULL_POINTER, "NULL");
    EXPECT(asd_sample_default_params(&rp, 0), ASD_ERR_BUFFER_SIZE, "smaller");
    EXPECT_OK(asd_model_default_params(&mp, sizeof mp));
    CHECK_TRUE(mp.struct_size == sizeof mp && mp.threads == 0 && mp.device == NULL && mp.onnx_native == NULL,
               "model defaults: size, threads 0, device NULL (cpu), onnx_native NULL (auto)");
    EXPECT_OK(asd_sampler_default_params(&sp, sizeof sp));
    CHECK_TRUE(sp.struct_size == sizeof sp && sp.sampler == ASD_SAMPLER_ASD && sp.steps == 100 && sp.spec_len == ASD_SPEC_LEN_AUTO &&
                   sp.max_batch_rows == 1024 && sp.steps_offset == -1 && sp.clip_sample == -1 && sp.beta_schedule == NULL &&
                   sp.timestep_spacing == NULL && sp.cost_curve_path == NULL,
               "sampler defaults match asd.h");
    EXPECT_OK(asd_sample_default_params(&rp, sizeof rp));
    CHECK_TRUE(rp.struct_size == sizeof rp && rp.seed == 0 && rp.cond == NULL && rp.progress == NULL, "sample defaults match asd.h");

    /* ---- asd_model_open */
    asd_model* m = (asd_model*)0x1;
    EXPECT(asd_model_open(NULL, NULL, &m), ASD_ERR_NULL_POINTER, "spec");
    CHECK_TRUE(m == NULL, "asd_model_open clears *out_model on failure");
    EXPECT(asd_model_open("builtin:mixture", NULL, NULL), ASD_ERR_NULL_POINTER, "out_model");
    EXPECT(asd_model_open("", NULL, &m), ASD_ERR_INVALID_ARGUMENT, "empty");
    for (size_t i = 0; i < sizeof bad_specs / sizeof bad_specs[0]; i++) {
        char what[256];
        snprintf(what, sizeof what, "asd_model_open(\"%s\", NULL, &m)", bad_specs[i].spec);
        expect(asd_model_open(bad_specs[i].spec, NULL, &m), bad_specs[i].want, bad_specs[i].needle, what);
    }
    mp.device = "tpu";
    EXPECT(asd_model_open("builtin:mixture", &mp, &m), ASD_ERR_INVALID_ARGUMENT, "tpu");
    mp.device = "cuda";
    EXPECT(asd_model_open("builtin:mixture", &mp, &m), ASD_ERR_UNSUPPORTED, "cuda");
    mp.device = NULL;
    mp.threads = -1;
    EXPECT(asd_model_open("builtin:mixture", &mp, &m), ASD_ERR_INVALID_ARGUMENT, "threads");
    mp.threads = 1;
    mp.struct_size = 0;
    EXPECT(asd_model_open("builtin:mixture", &mp, &m), ASD_ERR_INVALID_ARGUMENT, "struct_size");
    mp.struct_size = sizeof mp;
    mp.onnx_native = "sideways";
    EXPECT(asd_model_open("builtin:mixture", &mp, &m), ASD_ERR_INVALID_ARGUMENT, "onnx_native");
    mp.onnx_native = "ON";
    EXPECT(asd_model_open("builtin:mixture", &mp, &m), ASD_ERR_INVALID_ARGUMENT, "onnx_native");
    /* "on" needs a ConditionalUnet1D export: another ONNX model is refused with the reason, not run another way. */
    mp.onnx_native = "on";
    EXPECT(asd_model_open("tests/fixtures/mlp_small/mlp_small.onnx", &mp, &m), ASD_ERR_MODEL, "native engine");
    mp.onnx_native = NULL;

    /* ---- asd_*_free: NULL, foreign and double frees are no-ops */
    asd_model_free(NULL);
    asd_sampler_free(NULL);
    asd_model_free((asd_model*)(uintptr_t)0xdeadbee0);
    asd_sampler_free((asd_sampler*)(uintptr_t)0xdeadbee0);
    /* Reaching this line is the check: a crash above ends the program without its summary line, which the runner
       counts as a failure. */
    CHECK_TRUE(1, "asd_model_free / asd_sampler_free with NULL and foreign pointers return");

    asd_model* freed = NULL;
    EXPECT_OK(asd_model_open("builtin:mixture", &mp, &freed));
    asd_model_free(freed);
    asd_model_free(freed); /* double free: no-op */

    /* ---- model getters */
    EXPECT_OK(asd_model_open("builtin:mixture?dim=4", &mp, &g_model));
    int64_t v64 = 0;
    int32_t v32 = 0;
    size_t nd = 0, need = 0;
    int64_t dims[4];
    char name[64];
    EXPECT(asd_model_sample_size(NULL, &v64), ASD_ERR_NULL_POINTER, "model");
    EXPECT(asd_model_sample_size(freed, &v64), ASD_ERR_INVALID_HANDLE, "not a live handle");
    EXPECT(asd_model_sample_size(g_model, NULL), ASD_ERR_NULL_POINTER, "size");
    EXPECT(asd_model_cond_size(NULL, &v64), ASD_ERR_NULL_POINTER, "model");
    EXPECT(asd_model_cond_size(g_model, NULL), ASD_ERR_NULL_POINTER, "size");
    EXPECT(asd_model_train_steps(NULL, &v32), ASD_ERR_NULL_POINTER, "model");
    EXPECT(asd_model_train_steps(freed, &v32), ASD_ERR_INVALID_HANDLE, "not a live handle");
    EXPECT(asd_model_train_steps(g_model, NULL), ASD_ERR_NULL_POINTER, "steps");
    EXPECT(asd_model_has_guidance(NULL, &v32), ASD_ERR_NULL_POINTER, "model");
    EXPECT(asd_model_has_guidance(g_model, NULL), ASD_ERR_NULL_POINTER, "has_guidance");
    EXPECT(asd_model_sample_shape(NULL, dims, 4, &nd), ASD_ERR_NULL_POINTER, "model");
    EXPECT(asd_model_sample_shape(g_model, dims, 4, NULL), ASD_ERR_NULL_POINTER, "ndim");
    EXPECT(asd_model_sample_shape(g_model, NULL, 4, &nd), ASD_ERR_NULL_POINTER, "dims");
    EXPECT(asd_model_sample_shape(g_model, dims, 0, &nd), ASD_ERR_BUFFER_SIZE, "dims holds 0");
    EXPECT(asd_model_cond_shape(NULL, dims, 4, &nd), ASD_ERR_NULL_POINTER, "model");
    EXPECT(asd_model_cond_shape(g_model, dims, 4, NULL), ASD_ERR_NULL_POINTER, "ndim");
    EXPECT(asd_model_name(NULL, name, sizeof name, &need), ASD_ERR_NULL_POINTER, "model");
    EXPECT(asd_model_name(g_model, name, 5, &need), ASD_ERR_BUFFER_SIZE, "5 bytes");
    CHECK_TRUE(need == strlen("builtin:mixture?dim=4") + 1, "asd_model_name reports the size needed on BUFFER_SIZE");
    EXPECT(asd_model_name(g_model, NULL, 8, &need), ASD_ERR_NULL_POINTER, "buf");
    EXPECT(asd_model_name(g_model, NULL, 0, NULL), ASD_ERR_NULL_POINTER, "needed");
    EXPECT_OK(asd_model_name(g_model, name, sizeof name, &need));
    CHECK_TRUE(strcmp(name, "builtin:mixture?dim=4") == 0, "asd_model_name copies the name");
    EXPECT(asd_model_runtime(NULL, name, sizeof name, &need), ASD_ERR_NULL_POINTER, "model");
    EXPECT(asd_model_runtime(freed, name, sizeof name, &need), ASD_ERR_INVALID_HANDLE, "not a live handle");
    EXPECT(asd_model_runtime(g_model, name, 5, &need), ASD_ERR_BUFFER_SIZE, "5 bytes");
    CHECK_TRUE(need == strlen("cpu (asd's kernels)") + 1, "asd_model_runtime reports the size needed on BUFFER_SIZE");
    EXPECT_OK(asd_model_runtime(g_model, name, sizeof name, &need));
    CHECK_TRUE(strcmp(name, "cpu (asd's kernels)") == 0, "asd_model_runtime of a built-in model: the engine's kernels");
    EXPECT_OK(asd_model_sample_shape(g_model, NULL, 0, &nd));
    CHECK_TRUE(nd == 1, "asd_model_sample_shape size query gives ndim 1");
    EXPECT_OK(asd_model_cond_shape(g_model, dims, 4, &nd));
    CHECK_TRUE(nd == 1 && dims[0] == 0, "unconditional model: cond shape [0]");
    EXPECT_OK(asd_model_has_guidance(g_model, &v32));
    CHECK_TRUE(v32 == 0, "builtin mixture has no guidance");

    /* ---- sampler creation: handles, out-pointers, and each invalid field (layout check) */
    asd_sampler* s = (asd_sampler*)0x1;
    EXPECT(asd_sampler_create(NULL, NULL, &s), ASD_ERR_NULL_POINTER, "model");
    CHECK_TRUE(s == NULL, "asd_sampler_create clears *out_sampler on failure");
    EXPECT(asd_sampler_create(freed, NULL, &s), ASD_ERR_INVALID_HANDLE, "not a live handle");
    EXPECT(asd_sampler_create(g_model, NULL, NULL), ASD_ERR_NULL_POINTER, "out_sampler");
    sp.struct_size = 16;
    EXPECT(asd_sampler_create(g_model, &sp, &s), ASD_ERR_INVALID_ARGUMENT, "struct_size");
    sp.struct_size = sizeof sp;
    bad_field(f_sampler, ASD_ERR_INVALID_ARGUMENT, "sampler = 7", "sampler = 7");
    bad_field(f_steps0, ASD_ERR_INVALID_ARGUMENT, "inference steps", "steps = 0");
    bad_field(f_steps_big, ASD_ERR_INVALID_ARGUMENT, "cannot exceed", "steps = 5000 > train steps");
    bad_field(f_spec_len, ASD_ERR_INVALID_ARGUMENT, "spec_len -2", "spec_len = -2");
    bad_field(f_rows, ASD_ERR_INVALID_ARGUMENT, "max_batch_rows", "max_batch_rows = 0");
    bad_field(f_guidance_nan, ASD_ERR_INVALID_ARGUMENT, "guidance_scale", "guidance_scale = NaN");
    bad_field(f_guidance, ASD_ERR_UNSUPPORTED, "guidance", "guidance_scale = 2 on a model without guidance");
    bad_field(f_cost_fixed, ASD_ERR_INVALID_ARGUMENT, "cost_curve_path", "cost_curve_path with a fixed spec_len");
    bad_field(f_cost_missing, ASD_ERR_IO, "no/such/curve.json", "cost_curve_path that does not exist");
    bad_field(f_train, ASD_ERR_INVALID_ARGUMENT, "train_steps", "train_steps = -1");
    bad_field(f_offset, ASD_ERR_INVALID_ARGUMENT, "steps_offset", "steps_offset = -5");
    bad_field(f_clip, ASD_ERR_INVALID_ARGUMENT, "clip_sample = 3", "clip_sample = 3");
    bad_field(f_beta_start, ASD_ERR_INVALID_ARGUMENT, "beta_start", "beta_start = 2");
    bad_field(f_beta_end, ASD_ERR_INVALID_ARGUMENT, "beta_end", "beta_end = NaN");
    bad_field(f_clip_range, ASD_ERR_INVALID_ARGUMENT, "clip_sample_range", "clip_sample_range = -1");
    bad_field(f_schedule, ASD_ERR_INVALID_ARGUMENT, "cubic", "beta_schedule = cubic");
    bad_field(f_prediction, ASD_ERR_INVALID_ARGUMENT, "x0", "prediction_type = x0");
    bad_field(f_variance, ASD_ERR_INVALID_ARGUMENT, "learned", "variance_type = learned");
    bad_field(f_spacing, ASD_ERR_INVALID_ARGUMENT, "weird", "timestep_spacing = weird");

    sp.spec_len = 8;
    sp.steps = 20;
    EXPECT_OK(asd_sampler_create(g_model, &sp, &s));

    /* ---- wrong-kind handles */
    EXPECT(asd_model_sample_size((asd_model*)s, &v64), ASD_ERR_INVALID_HANDLE, "another kind");
    EXPECT(asd_sampler_sample((asd_sampler*)g_model, 1, NULL, (float*)dims, 4), ASD_ERR_INVALID_HANDLE, "another kind");
    EXPECT(asd_sampler_create((asd_model*)s, NULL, &s), ASD_ERR_INVALID_HANDLE, "another kind");
    CHECK_TRUE(s == NULL, "asd_sampler_create with a wrong-kind model clears *out_sampler");
    EXPECT_OK(asd_sampler_create(g_model, &sp, &s));

    /* ---- stats before any run */
    asd_stats stats;
    char json[8];
    EXPECT(asd_sampler_stats(s, &stats, sizeof stats), ASD_ERR_STATE, "has not completed a run");
    EXPECT(asd_sampler_stats_json(s, NULL, 0, &need), ASD_ERR_STATE, "has not completed a run");
    EXPECT(asd_sampler_stats(NULL, &stats, sizeof stats), ASD_ERR_NULL_POINTER, "sampler");
    EXPECT(asd_sampler_stats_json(NULL, json, sizeof json, &need), ASD_ERR_NULL_POINTER, "sampler");

    /* ---- asd_sampler_sample: buffers and lengths; the output must stay untouched on every failure */
    enum { N = 3, D = 4 };
    float out[N * D], noise[N * D], cond[2] = {0, 0};
    for (int i = 0; i < N * D; i++) noise[i] = 0.1f * (float)i;
    fill(out, N * D);
    EXPECT(asd_sampler_sample(NULL, N, NULL, out, N * D), ASD_ERR_NULL_POINTER, "sampler");
    EXPECT(asd_sampler_sample(s, 0, NULL, out, N * D), ASD_ERR_INVALID_ARGUMENT, "n = 0");
    EXPECT(asd_sampler_sample(s, -5, NULL, out, N * D), ASD_ERR_INVALID_ARGUMENT, "n = -5");
    EXPECT(asd_sampler_sample(s, N, NULL, NULL, N * D), ASD_ERR_NULL_POINTER, "out");
    EXPECT(asd_sampler_sample(s, N, NULL, out, N * D - 1), ASD_ERR_BUFFER_SIZE, "need 12");
    EXPECT(asd_sampler_sample(s, N, NULL, out, N * D + 1), ASD_ERR_BUFFER_SIZE, "need 12");
    EXPECT(asd_sampler_sample(s, N, NULL, out, 0), ASD_ERR_BUFFER_SIZE, "out_len is 0");
    EXPECT(asd_sampler_sample(s, 1 << 30, NULL, out, N * D), ASD_ERR_BUFFER_SIZE, "out_len");
    EXPECT_OK(asd_sample_default_params(&rp, sizeof rp));
    rp.cond = cond;
    rp.cond_len = 2;
    EXPECT(asd_sampler_sample(s, N, &rp, out, N * D), ASD_ERR_INVALID_ARGUMENT, "unconditional");
    rp.cond = NULL;
    EXPECT(asd_sampler_sample(s, N, &rp, out, N * D), ASD_ERR_NULL_POINTER, "cond");
    rp.cond_len = 0;
    rp.init_noise = noise;
    rp.init_noise_len = N * D - 1;
    EXPECT(asd_sampler_sample(s, N, &rp, out, N * D), ASD_ERR_BUFFER_SIZE, "init_noise_len");
    rp.init_noise = NULL;
    rp.init_noise_len = N * D;
    EXPECT(asd_sampler_sample(s, N, &rp, out, N * D), ASD_ERR_NULL_POINTER, "init_noise");
    rp.init_noise = noise;
    noise[5] = NAN;
    EXPECT(asd_sampler_sample(s, N, &rp, out, N * D), ASD_ERR_INVALID_ARGUMENT, "NaN");
    noise[5] = INFINITY;
    EXPECT(asd_sampler_sample(s, N, &rp, out, N * D), ASD_ERR_INVALID_ARGUMENT, "Infinity");
    noise[5] = 0.5f;
    rp.struct_size = 4;
    EXPECT(asd_sampler_sample(s, N, &rp, out, N * D), ASD_ERR_INVALID_ARGUMENT, "struct_size");
    rp.struct_size = sizeof rp;
    CHECK_TRUE(untouched(out, N * D), "the output buffer is untouched after every failed call");

    /* ---- cancellation: ASD_CANCELLED, no partial output, no stats */
    rp.progress = cancel_at_two;
    EXPECT(asd_sampler_sample(s, N, &rp, out, N * D), ASD_CANCELLED, "cancelled");
    CHECK_TRUE(untouched(out, N * D), "the output buffer is untouched after a cancellation");
    EXPECT(asd_sampler_stats(s, &stats, sizeof stats), ASD_ERR_STATE, "cancelled");
    rp.progress = NULL;

    /* ---- a good run, then stats buffers */
    EXPECT_OK(asd_sampler_sample(s, N, &rp, out, N * D));
    CHECK_TRUE(!untouched(out, N * D), "a successful run writes the output");
    EXPECT(asd_sampler_stats(s, NULL, sizeof stats), ASD_ERR_NULL_POINTER, "stats");
    EXPECT(asd_sampler_stats(s, &stats, 8), ASD_ERR_BUFFER_SIZE, "smaller");
    EXPECT_OK(asd_sampler_stats(s, &stats, sizeof stats));
    CHECK_TRUE(stats.struct_size == sizeof stats && stats.steps == 20 && stats.samples == N && stats.sampler == ASD_SAMPLER_ASD,
               "asd_stats fields: size, steps, samples, sampler");
    EXPECT(asd_sampler_stats_json(s, json, sizeof json, &need), ASD_ERR_BUFFER_SIZE, "8 bytes");
    CHECK_TRUE(need > sizeof json, "asd_sampler_stats_json reports the size needed");
    EXPECT(asd_sampler_stats_json(s, NULL, 4, &need), ASD_ERR_NULL_POINTER, "buf");
    EXPECT(asd_sampler_stats_json(s, NULL, 0, NULL), ASD_ERR_NULL_POINTER, "needed");

    /* ---- a sampler serves one call at a time: re-entry from the progress callback is refused (BUSY) */
    struct reentry r = {s, ASD_OK, ASD_OK, 0, 0};
    rp.progress = reenter;
    rp.progress_user = &r;
    EXPECT_OK(asd_sampler_sample(s, N, &rp, out, N * D));
    expect(r.sample_status, ASD_ERR_BUSY, "in use", "asd_sampler_sample from the sampler's own callback is ASD_ERR_BUSY");
    expect(r.stats_status, ASD_ERR_BUSY, "in use", "asd_sampler_stats from the sampler's own callback is ASD_ERR_BUSY");

    /* ---- conditional model: NaN conditioning, wrong lengths */
    asd_model* cm = NULL;
    EXPECT_OK(asd_model_open("tests/fixtures/mlp_small/mlp_small.json", &mp, &cm));
    asd_sampler* cs = NULL;
    EXPECT_OK(asd_sampler_create(cm, &sp, &cs));
    float cvals[3 * N] = {0.5f, -0.25f, 1.0f, 0.5f, -0.25f, 1.0f, 0.5f, -0.25f, 1.0f};
    float cout[N * 6];
    asd_sample_params cp;
    asd_sample_default_params(&cp, sizeof cp);
    fill(cout, N * 6);
    EXPECT(asd_sampler_sample(cs, N, &cp, cout, N * 6), ASD_ERR_INVALID_ARGUMENT, "conditional");
    cp.cond = cvals;
    cp.cond_len = 2;
    EXPECT(asd_sampler_sample(cs, N, &cp, cout, N * 6), ASD_ERR_BUFFER_SIZE, "cond_len is 2");
    cp.cond_len = 3 * N + 1;
    EXPECT(asd_sampler_sample(cs, N, &cp, cout, N * 6), ASD_ERR_BUFFER_SIZE, "cond_len is 10");
    cp.cond_len = 3;
    cvals[1] = NAN;
    EXPECT(asd_sampler_sample(cs, N, &cp, cout, N * 6), ASD_ERR_INVALID_ARGUMENT, "NaN");
    cp.cond_len = 3 * N;
    cvals[1] = -0.25f;
    cvals[7] = NAN;
    EXPECT(asd_sampler_sample(cs, N, &cp, cout, N * 6), ASD_ERR_INVALID_ARGUMENT, "Conditioning value 7 is NaN");
    cvals[7] = -INFINITY;
    EXPECT(asd_sampler_sample(cs, N, &cp, cout, N * 6), ASD_ERR_INVALID_ARGUMENT, "Infinity");
    CHECK_TRUE(untouched(cout, N * 6), "conditional: output untouched after every failure");
    cvals[7] = -0.25f;
    EXPECT_OK(asd_sampler_sample(cs, N, &cp, cout, N * 6));
    EXPECT_OK(asd_model_cond_shape(cm, dims, 4, &nd));
    CHECK_TRUE(nd == 1 && dims[0] == 3, "mlp_small: cond shape [3]");
    EXPECT_OK(asd_model_sample_shape(cm, dims, 4, &nd));
    CHECK_TRUE(nd == 2 && dims[0] == 3 && dims[1] == 2, "mlp_small: sample shape [3, 2]");

    /* ---- freeing the model first keeps its samplers working; freed sampler handles are refused */
    asd_model_free(cm);
    EXPECT_OK(asd_sampler_sample(cs, N, &cp, cout, N * 6));
    EXPECT(asd_model_sample_size(cm, &v64), ASD_ERR_INVALID_HANDLE, "not a live handle");
    asd_sampler_free(cs);
    EXPECT(asd_sampler_sample(cs, N, &cp, cout, N * 6), ASD_ERR_INVALID_HANDLE, "not a live handle");
    EXPECT(asd_sampler_stats(cs, &stats, sizeof stats), ASD_ERR_INVALID_HANDLE, "not a live handle");
    EXPECT(asd_sampler_stats_json(cs, json, sizeof json, &need), ASD_ERR_INVALID_HANDLE, "not a live handle");
    asd_sampler_free(cs); /* double free: no-op */

    /* ---- freeing a sampler from its own progress callback takes effect when the run returns */
    asd_sampler* self = NULL;
    EXPECT_OK(asd_sampler_create(g_model, &sp, &self));
    struct reentry r2 = {self, ASD_OK, ASD_OK, 1, 0};
    rp.progress_user = &r2;
    EXPECT_OK(asd_sampler_sample(self, N, &rp, out, N * D));
    EXPECT(asd_sampler_stats(self, &stats, sizeof stats), ASD_ERR_INVALID_HANDLE, "not a live handle");

    /* ---- the message is thread-local and survives successful calls */
    asd_model_open("builtin:nonsense", NULL, &m);
    EXPECT_OK(asd_model_sample_size(g_model, &v64));
    CHECK_TRUE(strstr(asd_last_error(), "nonsense") != NULL, "a successful call leaves the last error unchanged");

    asd_sampler_free(s);
    issue13_reproducers();
    asd_model_free(g_model);
    printf("ROBUSTNESS %d %d\n", passed, failed);
    return failed != 0;
}

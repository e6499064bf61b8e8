/*
 * fuzz_abi: a seeded randomized driver over every export of libasd (issue 13). Each call gets arguments drawn from
 * pools of valid and hostile values: NULL and garbage pointers, live, freed and wrong-kind handles, hostile sizes
 * (0, sizeof - 1, 2^32 - 1, 2^40, SIZE_MAX), NaN and infinity in every float field and buffer, hostile specs and
 * model folders (weights naming /dev/urandom, /dev/zero, ../, a FIFO; huge versions and shapes; broken JSON),
 * hostile thread counts and struct sizes, callbacks that cancel, re-enter or free their sampler, and threads that
 * call one sampler at once. Every params or stats struct the library fills sits at the end of a page followed by
 * an inaccessible one, so a write past the library's own struct size is a crash, not silent corruption.
 *
 *   fuzz_abi [--calls N] [--batches B] [--seed S] [--jobs J]   the parent: runs B batches of N/B calls, each in its
 *                                                    own process, J at a time (default 2; a crash or a hang counts
 *                                                    instead of ending the run)
 *   fuzz_abi --batch I --calls N --seed S --dir D    one batch (run by the parent; reproduce a failure with it)
 *
 * A batch fails on a crash (a signal), a hang (no exit within 120 s) or any ASD_ERR_INTERNAL status: bad input must
 * get a specific status. The parent prints per-status totals and, last, "FUZZ_ABI <passed> <failed>" with one
 * check per batch. Run from the repository root (it opens tests/fixtures/...).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "asd.h"

extern char** environ;

/* ------------------------------------------------------------------------------------------------ random */

static uint64_t g_state;
static uint64_t next_u64(void) { /* splitmix64 */
    uint64_t z = (g_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static uint32_t pick(uint32_t n) { return (uint32_t)(next_u64() % n); }
#define PICK(array) (array)[pick((uint32_t)(sizeof(array) / sizeof((array)[0])))]

/* ------------------------------------------------------------------------------------------------ counting */

static long g_calls, g_by_status[100], g_internal;

static void count(asd_status st, const char* call) {
    g_calls++;
    if (st >= 0 && st < 100) g_by_status[st]++;
    if (st == ASD_ERR_INTERNAL) {
        g_internal++;
        printf("INTERNAL %s: %s\n", call, asd_last_error());
        fflush(stdout);
    }
}
#define CALL(expr) count((expr), #expr)

/* ------------------------------------------------------------------------------------------------ guarded memory */

/* A region whose last byte is followed by a PROT_NONE page: writing past `size` bytes faults. */
static void* guarded(size_t size) {
    long page = sysconf(_SC_PAGESIZE);
    size_t span = (size + (size_t)page - 1) / (size_t)page * (size_t)page;
    unsigned char* base = mmap(NULL, span + (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        perror("mmap");
        exit(3);
    }
    mprotect(base + span, (size_t)page, PROT_NONE);
    return base + span - size;
}

static asd_model_params* g_mp;
static asd_sampler_params* g_sp;
static asd_sample_params* g_rp;
static asd_stats* g_stats;

/* ------------------------------------------------------------------------------------------------ pools */

static const size_t hostile_sizes[] = {0, 1, 3, 4, 7, 8, 15, 16, 24, 63, 64, 100, 128, 4096, 1u << 20, 0xffffffffu,
                                       (size_t)1 << 40, SIZE_MAX, SIZE_MAX - 7};
static const int32_t threads_pool[] = {0, 1, 2, 3, -1, 257, 1024, 65536, INT32_MIN, INT32_MAX};
static const int32_t int_pool[] = {0, 1, 2, 3, 5, 8, 10, 20, -1, -2, 64, 1000, 1001, 100001, INT32_MAX, INT32_MIN};
static const double double_pool[] = {0, 0.0001, 0.02, 0.5, 1, 2, -1, 1e300, -1e-300, NAN, INFINITY, -INFINITY};
static const float float_pool[] = {0, 1, 2, 7.5f, -1, NAN, INFINITY, -INFINITY, 3.4e38f};
static const char* const device_pool[] = {NULL, "cpu", "cuda", "auto", "gpu", "", "CPU", "cpu\xff"};
static const char* const onnx_native_pool[] = {NULL, "auto", "on", "off", "", "ON", "sideways", "off\xff"};
static const char* const name_pool[] = {NULL, "linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid", "epsilon", "v_prediction",
                                        "sample", "fixed_small", "fixed_large", "learned", "leading", "trailing", "linspace",
                                        "", "\xff\xfe", "cosine"};

static char g_dir[512];        /* the batch's scratch folder of hostile models */
static char g_specs[64][600];  /* model specs: valid, hostile, and paths into g_dir */
static int g_nspecs;
static char g_curves[8][600];
static int g_ncurves;

static void add_spec(const char* s) { snprintf(g_specs[g_nspecs++], sizeof g_specs[0], "%s", s); }

static void write_file(const char* path, const char* text) {
    FILE* f = fopen(path, "wb");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static char* read_file(const char* path, size_t* len) {
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char* buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    buf[*len] = 0;
    fclose(f);
    return buf;
}

/* A copy of tests/fixtures/mlp_small in g_dir/NAME/m.json with the first `from` replaced by `to`. */
static void mlp_variant(const char* name, const char* from, const char* to) {
    char dir[600], path[700], cmd[1600];
    size_t len;
    snprintf(dir, sizeof dir, "%s/%s", g_dir, name);
    mkdir(dir, 0755);
    snprintf(cmd, sizeof cmd, "cp tests/fixtures/mlp_small/mlp_small.safetensors '%s/m.safetensors'", dir);
    if (system(cmd) != 0) return;
    char* json = read_file("tests/fixtures/mlp_small/mlp_small.json", &len);
    if (!json) return;
    char* at = from ? strstr(json, from) : NULL;
    snprintf(path, sizeof path, "%s/m.json", dir);
    FILE* f = fopen(path, "wb");
    if (at) {
        fwrite(json, 1, (size_t)(at - json), f);
        fputs(to, f);
        fputs(at + strlen(from), f);
    } else {
        fputs(json, f);
    }
    fclose(f);
    free(json);
    add_spec(path);
}

static void make_models(void) {
    char path[700];
    add_spec("builtin:mixture");
    add_spec("builtin:mixture?dim=4");
    add_spec("tests/fixtures/mlp_small/mlp_small.json");
    add_spec("builtin:mixture?dim=2147483646");
    add_spec("builtin:mixture?dim=4&dim=6");
    add_spec("builtin:mixture?dim= 4");
    add_spec("builtin:mixture?");
    add_spec("builtin:mixture?dim=3");
    add_spec("builtin:mixture?dim=-4");
    add_spec("builtin:nothing");
    add_spec("");
    add_spec("   ");
    add_spec("/dev/zero");
    add_spec("/dev/urandom.json");
    add_spec("/etc");
    add_spec("no/such/model.json");
    add_spec("tests/fixtures/mlp_bad/truncated.json");
    add_spec("tests/fixtures/mlp_bad/badheader.json");
    add_spec("tests/fixtures/onnx/bad/not_onnx.onnx");
    add_spec("tests/fixtures/unet1d/small.onnx"); /* a ConditionalUnet1D export: native or ONNX Runtime by onnx_native */
    add_spec("\xff\xfe\x80");
    mlp_variant("urandom", "\"cond_dim\"", "\"weights\": \"/dev/urandom\", \"cond_dim\"");
    mlp_variant("zero", "\"cond_dim\"", "\"weights\": \"/dev/zero\", \"cond_dim\"");
    mlp_variant("parent", "\"cond_dim\"", "\"weights\": \"../urandom/m.safetensors\", \"cond_dim\"");
    mlp_variant("fifo", "\"cond_dim\"", "\"weights\": \"f.safetensors\", \"cond_dim\"");
    snprintf(path, sizeof path, "%s/fifo/f.safetensors", g_dir);
    mkfifo(path, 0644);
    mlp_variant("link", "\"cond_dim\"", "\"weights\": \"l.safetensors\", \"cond_dim\"");
    snprintf(path, sizeof path, "%s/link/l.safetensors", g_dir);
    if (symlink("/dev/zero", path) != 0) perror("symlink");
    mlp_variant("version", "\"version\": 1", "\"version\": 9223372036854775807");
    mlp_variant("shape", "\"sample_shape\": [\n    3,\n    2\n  ]", "\"sample_shape\": [100000, 100000]");
    mlp_variant("shape2", "\"sample_shape\": [\n    3,\n    2\n  ]", "\"sample_shape\": [4294967299, 2]");
    mlp_variant("conddim", "\"cond_dim\": 3", "\"cond_dim\": 2147483647");
    mlp_variant("train", "\"cond_dim\"", "\"scheduler\": {\"num_train_timesteps\": 2147483647}, \"cond_dim\"");
    mlp_variant("broken", "\"layers\"", "\"layers\" ,,");
    mlp_variant("utf8", "\"v_prediction\"", "\"v_pre\xff\xfe" "diction\"");
    mlp_variant("dup", "\"cond_dim\"", "\"version\": 1, \"cond_dim\"");
    /* A folder named like a model file, and an ONNX folder with a broken scheduler_config.json. */
    snprintf(path, sizeof path, "%s/dir.json", g_dir);
    mkdir(path, 0755);
    add_spec(path);
    snprintf(path, sizeof path, "%s/onnx", g_dir);
    mkdir(path, 0755);
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "cp tests/fixtures/onnx/unet16/model.onnx '%s/onnx/model.onnx'", g_dir);
    if (system(cmd) == 0) {
        snprintf(path, sizeof path, "%s/onnx/scheduler_config.json", g_dir);
        write_file(path, "{\"num_train_timesteps\": 1000,, \"beta_schedule\": \"linear\"}");
        snprintf(path, sizeof path, "%s/onnx", g_dir);
        add_spec(path);
    }
    snprintf(path, sizeof path, "%s/class", g_dir);
    mkdir(path, 0755);
    snprintf(cmd, sizeof cmd, "cp tests/fixtures/onnx/unet16_class/model.onnx tests/fixtures/onnx/unet16_class/scheduler_config.json '%s/class/'", g_dir);
    if (system(cmd) == 0) {
        snprintf(path, sizeof path, "%s/class/asd.json", g_dir);
        write_file(path, "{\"inputs\": {\"sample\": \"x\", \"timestep\": \"timesteps\", \"cond\": [\"class_labels\"]}, \"output\": \"eps\", "
                         "\"guidance\": {\"null_cond\": {\"class_id\": 99}, \"scale\": 3.0}}");
        snprintf(path, sizeof path, "%s/class", g_dir);
        add_spec(path);
    }
    /* Cost curves: valid, malformed, devices, a FIFO, a folder, missing. */
    snprintf(g_curves[g_ncurves++], 600, "docs/bench/asd/mixture32-cost-curve.json");
    snprintf(g_curves[g_ncurves], 600, "%s/bad-curve.json", g_dir);
    write_file(g_curves[g_ncurves++], "{\"format\": \"asd-cost-curve\", \"seconds\": [1e400, -1]}");
    snprintf(g_curves[g_ncurves++], 600, "/dev/zero");
    snprintf(g_curves[g_ncurves++], 600, "/dev/urandom");
    snprintf(g_curves[g_ncurves++], 600, "%s/fifo/f.safetensors", g_dir);
    snprintf(g_curves[g_ncurves++], 600, "%s", g_dir);
    snprintf(g_curves[g_ncurves++], 600, "no/such/curve.json");
}

/* ------------------------------------------------------------------------------------------------ handles */

enum { SLOTS = 6 };
static asd_model* g_models[SLOTS];    /* live models (some slots NULL) */
static asd_sampler* g_samplers[SLOTS];
static asd_model* g_freed_model;
static asd_sampler* g_freed_sampler;
static int g_stack_word;

static void* garbage(void) {
    void* const pool[] = {(void*)1, (void*)0xdeadbeef, (void*)(intptr_t)-1, (void*)0x0A5D000000000010ull,
                          (void*)0x0A5D0000FFFFFFF0ull, &g_stack_word, (void*)g_sp};
    return PICK(pool);
}

/* The handle operations of one kind (models, samplers), written once so that both kinds make the same draws in the
 * same order (a seed replays a batch):
 *   any_<kind>()           a handle to pass: NULL, the last freed one, one of the other kind, garbage, or a slot's;
 *   keep_<kind>(h)         puts h in a random slot, freeing (and remembering as freed) the handle it replaces;
 *   free_some_<kind>()     frees a live handle and empties its slot, or frees a freed or wrong-kind one (a no-op). */
#define HANDLE_KIND(kind, type, live, freed, free_fn, other_live)                         \
    static type* any_##kind(void) {                                                       \
        switch (pick(8)) {                                                                \
        case 0: return NULL;                                                              \
        case 1: return freed;                                                             \
        case 2: return (type*)other_live[pick(SLOTS)]; /* wrong kind (or NULL) */         \
        case 3: return (type*)garbage();                                                  \
        default: return live[pick(SLOTS)];                                                \
        }                                                                                 \
    }                                                                                     \
    static void keep_##kind(type* h) {                                                    \
        int slot = (int)pick(SLOTS);                                                      \
        if (live[slot]) { free_fn(live[slot]); freed = live[slot]; }                      \
        live[slot] = h;                                                                   \
    }                                                                                     \
    static void free_some_##kind(void) {                                                  \
        int slot = (int)pick(SLOTS);                                                      \
        if (pick(2) && live[slot]) {                                                      \
            free_fn(live[slot]);                                                          \
            freed = live[slot];                                                           \
            live[slot] = NULL;                                                            \
        } else {                                                                          \
            free_fn(pick(2) ? freed : (type*)other_live[pick(SLOTS)]);                    \
        }                                                                                 \
    }
HANDLE_KIND(model, asd_model, g_models, g_freed_model, asd_model_free, g_samplers)
HANDLE_KIND(sampler, asd_sampler, g_samplers, g_freed_sampler, asd_sampler_free, g_models)

static void random_string(char* buf, size_t cap) {
    size_t n = pick((uint32_t)cap - 1);
    for (size_t i = 0; i < n; i++) buf[i] = (char)(1 + pick(255));
    buf[n] = 0;
}

/* ------------------------------------------------------------------------------------------------ callbacks */

static int32_t cb_cancel(void* user, int64_t done, int64_t total, int64_t calls) {
    (void)user; (void)done; (void)total;
    return calls >= 2;
}

static int32_t cb_reenter(void* user, int64_t done, int64_t total, int64_t calls) {
    asd_sampler* s = (asd_sampler*)user;
    float buf[64];
    asd_stats st;
    size_t need;
    (void)done; (void)total;
    if (calls == 1) {
        CALL(asd_sampler_sample(s, 1, NULL, buf, 64));
        CALL(asd_sampler_stats(s, &st, sizeof st));
        CALL(asd_sampler_stats_json(s, NULL, 0, &need));
    }
    return 0;
}

static int32_t cb_free(void* user, int64_t done, int64_t total, int64_t calls) {
    (void)done; (void)total;
    if (calls == 1) asd_sampler_free((asd_sampler*)user);
    return 0;
}

static int32_t cb_calibration(void* user, int64_t done, int64_t planned, int64_t calls) {
    (void)user; (void)planned; (void)calls;
    return done >= 3; /* cancel the calibration */
}

/* ------------------------------------------------------------------------------------------------ one call */

static void fill_sampler_params(asd_sampler_params* p) {
    asd_sampler_default_params(p, sizeof *p);
    p->steps = pick(3) ? (int32_t)(1 + pick(20)) : PICK(int_pool);
    p->spec_len = pick(3) ? (int32_t)pick(9) : PICK(int_pool);
    p->sampler = pick(6) ? (int32_t)pick(2) : PICK(int_pool);
    if (pick(4) == 0) p->max_batch_rows = PICK(int_pool);
    if (pick(6) == 0) p->guidance_scale = PICK(float_pool);
    if (pick(5) == 0) {
        p->spec_len = ASD_SPEC_LEN_AUTO;
        /* Short budgets (the default is 5 s per model): a skip, a few tenths of a second, or hostile values. */
        const double budgets[] = {-1, 0.05, 0.2, NAN, INFINITY, -INFINITY, 1e-9};
        p->calibration_seconds = PICK(budgets);
        if (pick(3) == 0) p->calibration_progress = cb_calibration;
        if (pick(3) == 0) p->cost_curve_path = g_curves[pick((uint32_t)g_ncurves)];
    }
    if (pick(8) == 0) p->cost_curve_path = g_curves[pick((uint32_t)g_ncurves)];
    if (p->calibration_seconds == 0 && pick(8)) p->calibration_seconds = 0.2; /* mostly short, sometimes the default */
    if (pick(8) == 0) p->train_steps = PICK(int_pool);
    if (pick(8) == 0) p->steps_offset = PICK(int_pool);
    if (pick(8) == 0) p->clip_sample = PICK(int_pool);
    if (pick(8) == 0) p->beta_start = PICK(double_pool);
    if (pick(8) == 0) p->beta_end = PICK(double_pool);
    if (pick(8) == 0) p->clip_sample_range = PICK(double_pool);
    if (pick(8) == 0) p->beta_schedule = PICK(name_pool);
    if (pick(8) == 0) p->prediction_type = PICK(name_pool);
    if (pick(8) == 0) p->variance_type = PICK(name_pool);
    if (pick(8) == 0) p->timestep_spacing = PICK(name_pool);
    if (pick(10) == 0) p->struct_size = (uint32_t)PICK(hostile_sizes);
}

static float g_floats[1 << 16];

static void call_sample(asd_sampler* s) {
    int64_t d = 0;
    asd_sample_params* p = g_rp;
    asd_sample_default_params(p, sizeof *p);
    asd_model* m = g_models[pick(SLOTS)];
    if (m) asd_model_sample_size(m, &d);
    int32_t n = pick(5) ? (int32_t)(1 + pick(6)) : PICK(int_pool);
    int64_t need = d > 0 && n > 0 ? n * d : 16;
    size_t out_len = need > 0 && need <= (int64_t)(sizeof g_floats / sizeof g_floats[0]) && pick(4) ? (size_t)need : PICK(hostile_sizes);
    float* out = pick(10) ? g_floats : NULL;
    if (out && out_len > sizeof g_floats / sizeof g_floats[0]) out_len = (size_t)need + 1; /* never lie about the buffer */
    p->seed = next_u64();
    p->chain_offset = pick(4) ? pick(100) : next_u64();
    if (pick(3) == 0) {
        /* Conditioning and initial noise: NaN, infinity or numbers, with right and wrong lengths (never past the buffer). */
        static float cond[256];
        for (int i = 0; i < 256; i++) cond[i] = pick(8) ? (float)((int)pick(7) - 3) : PICK(float_pool);
        p->cond = pick(8) ? cond : NULL;
        p->cond_len = pick(2) ? (size_t)pick(4) * 3 : (size_t)pick(256);
        if (!p->cond && pick(2)) p->cond_len = 0;
    }
    if (pick(4) == 0) {
        static float noise[1 << 12];
        for (int i = 0; i < (1 << 12); i++) noise[i] = pick(16) ? (float)((int)pick(5) - 2) : PICK(float_pool);
        p->init_noise = pick(8) ? noise : NULL;
        p->init_noise_len = need > 0 && need <= (1 << 12) && pick(2) ? (size_t)need : pick(1 << 12);
    }
    switch (pick(8)) {
    case 0: p->progress = cb_cancel; break;
    case 1: p->progress = cb_reenter; p->progress_user = s; break;
    case 2: p->progress = cb_free; p->progress_user = s; break;
    default: break;
    }
    if (pick(12) == 0) p->struct_size = (uint32_t)PICK(hostile_sizes);
    asd_sample_params* pass = pick(10) ? p : NULL;
    CALL(asd_sampler_sample(s, n, pass, out, out_len));
    if (pass && pass->progress == cb_free) {
        for (int i = 0; i < SLOTS; i++)
            if (g_samplers[i] == s) g_samplers[i] = NULL; /* freed by its own callback */
        g_freed_sampler = s;
    }
}

static void one_call(void) {
    char buf[256];
    size_t need = 0, ndim = 0;
    int64_t dims[8], v64;
    int32_t v32;
    switch (pick(21)) {
    case 0: CALL(asd_model_default_params(pick(10) ? g_mp : NULL, PICK(hostile_sizes))); break;
    case 1: CALL(asd_sampler_default_params(pick(10) ? g_sp : NULL, PICK(hostile_sizes))); break;
    case 2: CALL(asd_sample_default_params(pick(10) ? g_rp : NULL, PICK(hostile_sizes))); break;
    case 3: case 4: { /* open a model into a slot (the old one is freed) */
        asd_model_default_params(g_mp, sizeof *g_mp);
        g_mp->device = PICK(device_pool);
        g_mp->threads = pick(3) ? (int32_t)pick(3) : PICK(threads_pool);
        g_mp->onnx_native = PICK(onnx_native_pool);
        if (pick(10) == 0) g_mp->struct_size = (uint32_t)PICK(hostile_sizes);
        char random_spec[64];
        const char* spec = g_specs[pick((uint32_t)g_nspecs)];
        if (pick(10) == 0) { random_string(random_spec, sizeof random_spec); spec = random_spec; }
        if (pick(20) == 0) spec = NULL;
        asd_model* m = (asd_model*)garbage();
        asd_model** out = pick(20) ? &m : NULL;
        CALL(asd_model_open(spec, pick(8) ? g_mp : NULL, out));
        if (out && m) keep_model(m);
        break;
    }
    case 5: free_some_model(); g_calls++; break;
    case 6: CALL(asd_model_name(any_model(), pick(4) ? buf : NULL, pick(4) ? pick(sizeof buf) : 0, pick(8) ? &need : NULL)); break;
    case 7: CALL(asd_model_sample_shape(any_model(), pick(4) ? dims : NULL, pick(4) ? pick(9) : 0, pick(8) ? &ndim : NULL)); break;
    case 8: CALL(asd_model_cond_shape(any_model(), pick(4) ? dims : NULL, pick(4) ? pick(9) : 0, pick(8) ? &ndim : NULL)); break;
    case 9: CALL(asd_model_sample_size(any_model(), pick(8) ? &v64 : NULL)); break;
    case 10: CALL(asd_model_cond_size(any_model(), pick(8) ? &v64 : NULL)); break;
    case 11: CALL(asd_model_train_steps(any_model(), pick(8) ? &v32 : NULL)); break;
    case 12: CALL(asd_model_has_guidance(any_model(), pick(8) ? &v32 : NULL)); break;
    case 13: case 14: { /* create a sampler into a slot */
        fill_sampler_params(g_sp);
        asd_sampler* s = (asd_sampler*)garbage();
        asd_sampler** out = pick(20) ? &s : NULL;
        CALL(asd_sampler_create(any_model(), pick(10) ? g_sp : NULL, out));
        if (out && s) keep_sampler(s);
        break;
    }
    case 15: free_some_sampler(); g_calls++; break;
    case 16: case 17: call_sample(any_sampler()); break;
    case 18: CALL(asd_sampler_stats(any_sampler(), pick(10) ? g_stats : NULL, PICK(hostile_sizes))); break;
    case 19: {
        size_t len = pick(3) ? pick(sizeof buf) : 0;
        CALL(asd_sampler_stats_json(any_sampler(), pick(4) ? buf : NULL, len, pick(8) ? &need : NULL));
        break;
    }
    case 20: CALL(asd_model_runtime(any_model(), pick(4) ? buf : NULL, pick(4) ? pick(sizeof buf) : 0, pick(8) ? &need : NULL)); break;
    }
    /* Library-level calls with hostile arguments, now and then. */
    if (pick(16) == 0) {
        int32_t codes[] = {0, 1, 2, 11, 12, 13, 98, 99, 100, -1, INT32_MIN, INT32_MAX};
        if (asd_status_name(PICK(codes)) == NULL) { printf("INTERNAL asd_status_name returned NULL\n"); g_internal++; }
        if (asd_last_error() == NULL) { printf("INTERNAL asd_last_error returned NULL\n"); g_internal++; }
        (void)asd_version();
        (void)asd_abi_version();
        (void)asd_cpu_features();
        g_calls += 5;
    }
}

/* ------------------------------------------------------------------------------------------------ concurrency */

typedef struct {
    asd_sampler* s;
    uint64_t seed;
    long calls, by_status[100], internal;
} hammer_arg;

static void* hammer(void* arg) {
    hammer_arg* h = (hammer_arg*)arg;
    uint64_t r = h->seed;
    float out[64];
    asd_stats st;
    size_t need;
    for (int i = 0; i < 20; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        asd_status status;
        switch ((r >> 33) % 4) {
        case 0: status = asd_sampler_sample(h->s, 2, NULL, out, 8); break;
        case 1: status = asd_sampler_stats(h->s, &st, sizeof st); break;
        case 2: status = asd_sampler_stats_json(h->s, NULL, 0, &need); break;
        default: status = asd_sampler_sample(h->s, 1, NULL, out, 4); break;
        }
        h->calls++;
        if (status >= 0 && status < 100) h->by_status[status]++;
        if (status == ASD_ERR_INTERNAL) {
            h->internal++;
            printf("INTERNAL concurrent call: %s\n", asd_last_error());
        }
    }
    return NULL;
}

/* Four threads call one sampler of builtin:mixture?dim=4 at once; one of them frees it halfway. */
static void concurrent_round(void) {
    asd_model* m = NULL;
    asd_sampler* s = NULL;
    if (asd_model_open("builtin:mixture?dim=4", NULL, &m) != ASD_OK) return;
    asd_sampler_params p;
    asd_sampler_default_params(&p, sizeof p);
    p.steps = 50;
    p.spec_len = 4;
    if (asd_sampler_create(m, &p, &s) != ASD_OK) { asd_model_free(m); return; }
    pthread_t t[4];
    hammer_arg a[4];
    memset(a, 0, sizeof a);
    for (int i = 0; i < 4; i++) {
        a[i].s = s;
        a[i].seed = next_u64();
        pthread_create(&t[i], NULL, hammer, &a[i]);
    }
    struct timespec pause = {0, 2000000};
    nanosleep(&pause, NULL);
    if (pick(2)) asd_sampler_free(s); /* while the others run: they must get ASD_ERR_INVALID_HANDLE, never a crash */
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        g_calls += a[i].calls;
        g_internal += a[i].internal;
        for (int k = 0; k < 100; k++) g_by_status[k] += a[i].by_status[k];
    }
    asd_sampler_free(s); /* a second free of a freed handle is a no-op */
    asd_model_free(m);
}

/* ------------------------------------------------------------------------------------------------ a batch */

static int run_batch(long index, long calls, uint64_t seed, const char* dir) {
    g_state = seed ^ (0xA5D0000000000000ull + (uint64_t)index * 0x1000193ull);
    snprintf(g_dir, sizeof g_dir, "%s", dir);
    g_mp = guarded(sizeof(asd_model_params));
    g_sp = guarded(sizeof(asd_sampler_params));
    g_rp = guarded(sizeof(asd_sample_params));
    g_stats = guarded(sizeof(asd_stats));
    make_models();
    asd_model_open("builtin:mixture?dim=4", NULL, &g_models[0]);
    asd_model_open("tests/fixtures/mlp_small/mlp_small.json", NULL, &g_models[1]);
    while (g_calls < calls) {
        if (pick(100) == 0) concurrent_round();
        else one_call();
    }
    for (int i = 0; i < SLOTS; i++) {
        asd_sampler_free(g_samplers[i]);
        asd_model_free(g_models[i]);
    }
    printf("BATCH %ld calls=%ld internal=%ld status", index, g_calls, g_internal);
    for (int k = 0; k < 100; k++)
        if (g_by_status[k]) printf(" %d:%ld", k, g_by_status[k]);
    printf("\n");
    return g_internal == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------------------------------------ the parent */

int main(int argc, char** argv) {
    long calls = 20000, batches = 40, batch = -1, jobs = 2;
    uint64_t seed = 13;
    const char* dir = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--calls")) calls = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--batches")) batches = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--seed")) seed = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--batch")) batch = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--jobs")) jobs = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--dir")) dir = argv[i + 1];
    }
    if (batch >= 0) return run_batch(batch, calls, seed, dir ? dir : "/tmp");

    long per = (calls + batches - 1) / batches, total_calls = 0, crashes = 0, hangs = 0, internal = 0, ok_batches = 0;
    long by_status[100] = {0};
    char tmpl[] = "/tmp/asd-fuzz-abi-XXXXXX";
    char* root = mkdtemp(tmpl);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    printf("fuzz_abi: %ld calls in %ld batches of %ld, seed %llu, one process per batch, %ld at a time\n", calls, batches, per,
           (unsigned long long)seed, jobs);
    /* Up to `jobs` batches run at once (each is its own process); each gets 120 s before it is killed as a hang. */
    enum { MAX_JOBS = 16 };
    struct { pid_t pid; long batch; double started; } running[MAX_JOBS];
    int active = 0;
    if (jobs < 1) jobs = 1;
    if (jobs > MAX_JOBS) jobs = MAX_JOBS;
    long next = 0, done = 0;
    while (done < batches) {
        while (active < jobs && next < batches) {
            long b = next++;
            char sb[32], sc[32], ss[32], sd[600], logp[700];
            snprintf(sb, sizeof sb, "%ld", b);
            snprintf(sc, sizeof sc, "%ld", per);
            snprintf(ss, sizeof ss, "%llu", (unsigned long long)seed);
            snprintf(sd, sizeof sd, "%s/b%ld", root, b);
            snprintf(logp, sizeof logp, "%s/b%ld.log", root, b);
            mkdir(sd, 0755);
            char* args[] = {argv[0], "--batch", sb, "--calls", sc, "--seed", ss, "--dir", sd, NULL};
            posix_spawn_file_actions_t fa;
            posix_spawn_file_actions_init(&fa);
            posix_spawn_file_actions_addopen(&fa, 1, logp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            posix_spawn_file_actions_adddup2(&fa, 1, 2);
            pid_t pid;
            if (posix_spawn(&pid, argv[0], &fa, NULL, args, environ) != 0) {
                perror("posix_spawn");
                return 2;
            }
            posix_spawn_file_actions_destroy(&fa);
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            running[active].pid = pid;
            running[active].batch = b;
            running[active].started = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
            active++;
        }
        struct timespec pause = {0, 50000000};
        nanosleep(&pause, NULL);
        for (int i = 0; i < active; i++) {
            int status = 0;
            pid_t r = waitpid(running[i].pid, &status, WNOHANG);
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            if (r != running[i].pid) {
                if ((double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 - running[i].started < 120) continue;
                kill(running[i].pid, SIGKILL); /* a hang: counted, and the batch killed */
                waitpid(running[i].pid, &status, 0);
                status = -1;
            }
            long b = running[i].batch;
            running[i] = running[--active];
            i--;
            done++;
            char logp[700];
            snprintf(logp, sizeof logp, "%s/b%ld.log", root, b);
            size_t len = 0;
            char* out = read_file(logp, &len);
            const char* line = out ? strstr(out, "BATCH ") : NULL;
            long bc = 0, bi = 0;
            if (line) {
                sscanf(line, "BATCH %*d calls=%ld internal=%ld", &bc, &bi);
                const char* st = strstr(line, " status");
                for (const char* q = st ? st + 7 : NULL; q && *q == ' ';) {
                    int code;
                    long n;
                    int used = 0;
                    if (sscanf(q, " %d:%ld%n", &code, &n, &used) != 2) break;
                    if (code >= 0 && code < 100) by_status[code] += n;
                    q += used;
                }
            }
            total_calls += bc;
            const char* verdict;
            if (status == -1) { hangs++; verdict = "HANG"; }
            else if (WIFSIGNALED(status)) { crashes++; verdict = "CRASH"; }
            else if (!line) { crashes++; verdict = "NO SUMMARY"; }
            else if (bi > 0 || WEXITSTATUS(status) != 0) { internal += bi; verdict = "INTERNAL"; }
            else { ok_batches++; verdict = NULL; }
            if (verdict) {
                printf("FAIL  batch %ld: %s (signal %d); reproduce: %s --batch %ld --calls %ld --seed %llu --dir DIR\n", b, verdict,
                       status != -1 && WIFSIGNALED(status) ? WTERMSIG(status) : 0, argv[0], b, per, (unsigned long long)seed);
                if (out) printf("%s\n", len > 2000 ? out + len - 2000 : out);
            }
            free(out);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root);
    printf("statuses:");
    for (int k = 0; k < 100; k++)
        if (by_status[k]) printf(" %s %ld,", asd_status_name(k), by_status[k]);
    printf("\nFUZZ_ABI_FIGURES calls=%ld batches=%ld crashes=%ld hangs=%ld internal=%ld seconds=%.1f\n", total_calls, batches, crashes,
           hangs, internal, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
    /* One check per batch, plus one that the calls reached the promised count. */
    int enough = total_calls >= calls;
    if (!enough) printf("FAIL  only %ld of %ld calls ran\n", total_calls, calls);
    printf("FUZZ_ABI %ld %ld\n", ok_batches + (enough ? 1 : 0), batches - ok_batches + (enough ? 0 : 1));
    return ok_batches == batches && enough ? 0 : 1;
}

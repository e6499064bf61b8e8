/*
 * open_fuzz: byte-mutated model files through asd_model_open, with the status and the first words of the message of
 * every ASD_ERR_INTERNAL tallied (issue 13: "200 of 4,308 fuzzed asd_model_open calls returned INTERNAL; find out
 * which arguments caused them"). Each call opens one of: an asd-mlp JSON mutated byte by byte (weights beside it),
 * an ONNX folder (unet16) with a mutated scheduler_config.json, an ONNX folder (unet16_class) with a mutated asd.json,
 * or a valid model with a random device and thread count. Seeded; the same seed gives the same calls.
 *
 *   open_fuzz [--calls N] [--seed S]     prints per-kind status counts, each distinct INTERNAL message with its count,
 *                                        and "OPEN_FUZZ <passed> <failed>" (one check per kind: no INTERNAL)
 * Run from the repository root. Built against any asd.h of ABI 1 (it uses only the first release's API).
 */
#define _DEFAULT_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "asd.h"

static uint64_t g_state;
static uint64_t next_u64(void) {
    uint64_t z = (g_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static uint32_t pick(uint32_t n) { return (uint32_t)(next_u64() % n); }

static char* slurp(const char* path, size_t* len) {
    FILE* f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char* b = malloc((size_t)n + 64);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

/* One to four byte edits: replace, insert or delete, with bytes JSON parsers care about (and some they do not). */
static size_t mutate(const char* src, size_t len, char* dst) {
    static const char alphabet[] = "{}[]\":,0123456789.eE+-tfnul \\\x00\xff\xc3\x80";
    memcpy(dst, src, len);
    int edits = 1 + (int)pick(4);
    for (int e = 0; e < edits; e++) {
        size_t at = len ? pick((uint32_t)len) : 0;
        char c = alphabet[pick(sizeof alphabet - 1)];
        switch (pick(3)) {
        case 0: if (len) dst[at] = c; break;
        case 1: memmove(dst + at + 1, dst + at, len - at); dst[at] = c; len++; break;
        default: if (len) { memmove(dst + at, dst + at + 1, len - at - 1); len--; } break;
        }
    }
    return len;
}

static void write_bytes(const char* path, const char* b, size_t n) {
    FILE* f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

typedef struct {
    char text[160];
    char example[160];
    long count;
} message;

static message g_messages[256];
static int g_nmessages;

/* Grouped by input kind and exception type (the text before the first ':' of an internal error's message), with
   the first message of each group as its example. */
static void tally_internal(const char* kind) {
    char key[160];
    const char* msg = asd_last_error();
    const char* colon = strchr(msg, ':');
    int type_len = colon ? (int)(colon - msg) : (int)strlen(msg);
    if (type_len > 60) type_len = 60;
    snprintf(key, sizeof key, "%s: %.*s", kind, type_len, msg);
    for (int i = 0; i < g_nmessages; i++)
        if (!strcmp(g_messages[i].text, key)) { g_messages[i].count++; return; }
    if (g_nmessages < 256) {
        snprintf(g_messages[g_nmessages].text, sizeof g_messages[0].text, "%s", key);
        snprintf(g_messages[g_nmessages].example, sizeof g_messages[0].example, "%s", msg);
        for (char* c = g_messages[g_nmessages].example; *c; c++)
            if (*c == '\n') *c = ' ';
        g_messages[g_nmessages++].count = 1;
    }
}

int main(int argc, char** argv) {
    long calls = 4308;
    uint64_t seed = 13;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--calls")) calls = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--seed")) seed = strtoull(argv[i + 1], NULL, 10);
    }
    g_state = seed;
    char dir[] = "/tmp/asd-open-fuzz-XXXXXX", cmd[1024], path[512];
    if (!mkdtemp(dir)) return 2;
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s/mlp %s/sched %s/class && cp tests/fixtures/mlp_small/mlp_small.safetensors %s/mlp/m.safetensors && "
             "cp tests/fixtures/onnx/unet16/model.onnx %s/sched/ && cp tests/fixtures/onnx/unet16_class/model.onnx "
             "tests/fixtures/onnx/unet16_class/scheduler_config.json %s/class/",
             dir, dir, dir, dir, dir, dir);
    if (system(cmd) != 0) return 2;
    size_t mlp_len, sched_len, asdj_len;
    char* mlp = slurp("tests/fixtures/mlp_small/mlp_small.json", &mlp_len);
    char* sched = slurp("tests/fixtures/onnx/unet16/scheduler_config.json", &sched_len);
    char* asdj = slurp("tests/fixtures/onnx/unet16_class/asd.json", &asdj_len);
    char* buf = malloc(65536);
    const char* kinds[4] = {"asd-mlp json", "scheduler_config.json", "asd.json", "device/threads"};
    long by_kind[4][100];
    memset(by_kind, 0, sizeof by_kind);
    for (long c = 0; c < calls; c++) {
        int kind = (int)pick(4);
        asd_model_params p;
        asd_model_default_params(&p, sizeof p);
        p.threads = 1;
        const char* spec = path;
        switch (kind) {
        case 0:
            snprintf(path, sizeof path, "%s/mlp/m.json", dir);
            write_bytes(path, buf, mutate(mlp, mlp_len, buf));
            break;
        case 1:
            snprintf(path, sizeof path, "%s/sched/scheduler_config.json", dir);
            write_bytes(path, buf, mutate(sched, sched_len, buf));
            snprintf(path, sizeof path, "%s/sched", dir);
            break;
        case 2:
            snprintf(path, sizeof path, "%s/class/asd.json", dir);
            write_bytes(path, buf, mutate(asdj, asdj_len, buf));
            snprintf(path, sizeof path, "%s/class", dir);
            break;
        default: {
            static const char* devices[] = {"cpu", "cuda", "auto", "gpu", "", "CUDA"};
            static const int32_t threads[] = {0, 1, 2, 64, 257, -1};
            static const char* specs[] = {"builtin:mixture", "tests/fixtures/mlp_small/mlp_small.json", "tests/fixtures/onnx/unet16"};
            p.device = devices[pick(6)];
            p.threads = threads[pick(6)];
            spec = specs[pick(3)];
            break;
        }
        }
        asd_model* m = NULL;
        asd_status st = asd_model_open(spec, &p, &m);
        if (st >= 0 && st < 100) by_kind[kind][st]++;
        if (st == ASD_ERR_INTERNAL) tally_internal(kinds[kind]);
        asd_model_free(m);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    int passed = 0, failed = 0;
    long internal_total = 0;
    for (int k = 0; k < 4; k++) {
        printf("%-22s", kinds[k]);
        for (int s = 0; s < 100; s++)
            if (by_kind[k][s]) printf(" %s %ld", asd_status_name(s), by_kind[k][s]);
        printf("\n");
        internal_total += by_kind[k][ASD_ERR_INTERNAL];
        if (by_kind[k][ASD_ERR_INTERNAL] == 0) passed++;
        else failed++;
    }
    for (int i = 0; i < g_nmessages; i++)
        printf("INTERNAL x%ld  %s  (e.g. \"%s\")\n", g_messages[i].count, g_messages[i].text, g_messages[i].example);
    printf("OPEN_FUZZ_FIGURES calls=%ld internal=%ld\n", calls, internal_total);
    printf("OPEN_FUZZ %d %d\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

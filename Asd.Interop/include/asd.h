/*
 * asd.h: the C ABI of asd (libasd.so), exact parallel diffusion sampling (DDPM and autospeculative decoding).
 * C99. Link with -lasd; no .NET runtime is needed (the library is compiled with Native AOT).
 *
 * Conventions
 *   - Every symbol is prefixed asd_. Every fallible call returns an asd_status (ASD_OK = 0) and writes its
 *     results through out-pointers. On failure, asd_last_error() returns a message for this thread.
 *   - Handles (asd_model*, asd_sampler*) are opaque. asd_*_free(NULL) is a no-op. Calls with a NULL, freed or
 *     wrong-kind handle return ASD_ERR_NULL_POINTER / ASD_ERR_INVALID_HANDLE; they never crash.
 *   - Parameter structs start with struct_size and are initialised by asd_*_default_params(&p, sizeof p);
 *     change only the fields you need. Pass NULL instead of a params pointer for all defaults.
 *   - The caller owns every bulk buffer (float* plus its length in floats, checked by the library). The library
 *     never returns memory the caller must free; strings it returns are owned by the library.
 *   - Strings are NUL-terminated UTF-8. Functions that copy a string into a caller buffer take (buf, buf_len,
 *     needed): *needed receives the size including the NUL; buf = NULL with buf_len = 0 is a size query.
 *
 * Threads (which calls may run concurrently)
 *   - Library functions without a handle (asd_abi_version, asd_version, asd_cpu_features, asd_last_error,
 *     asd_status_name, asd_*_default_params, asd_model_open) may be called from any thread at any time.
 *   - asd_model: immutable once open. Any number of threads may query it and create samplers from it
 *     concurrently, and samplers of one model may sample concurrently on different threads. asd_model_free may
 *     be called while samplers of the model exist: the model lives until its last sampler is freed. Do not call
 *     asd_model_free concurrently with other calls on the same model handle.
 *   - asd_sampler: serves one call at a time. Use one sampler per thread. A second concurrent call on the same
 *     sampler (or a call from its own progress callback) fails with ASD_ERR_BUSY; it does not corrupt the run.
 *     asd_sampler_free during a run (from another thread or the progress callback) takes effect when the run
 *     returns.
 *   - The progress callback runs on the thread that called asd_sampler_sample.
 *
 * Limits (README, "Reliability"): a sample holds at most 2^24 floats (builtin:mixture: dim <= 2^20), a conditioning
 * row at most 2^20, num_train_timesteps (and train_steps) at most 100000, threads at most 256; a model's JSON files at
 * most 16 MiB and its weights at most 1 GiB. Files a model references must be regular files inside its folder
 * (relative paths without "..", symbolic links only within the folder). A larger max_batch_rows is lowered so one
 * batch buffer holds at most 2^24 floats (the bytes of a sample do not depend on it). Bad input never returns
 * ASD_ERR_INTERNAL: that status means a bug.
 *
 * Reproducibility: with a fixed spec_len (> 0, or 0 = unbounded), the same seed gives the same bytes whatever
 * the thread count, max_batch_rows or chain split (chain_offset). spec_len = -1 (automatic) may depend on timings.
 */
#ifndef ASD_H
#define ASD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef ASD_API
#define ASD_API
#endif

/** The ABI version this header describes; compare with asd_abi_version() at run time. */
#define ASD_ABI_VERSION 1

/* ------------------------------------------------------------------------------------------------ status */

/** Status codes. ASD_OK is 0; every other value is a failure (or a cancellation) with a message. */
typedef int32_t asd_status;
enum {
    ASD_OK = 0,                    /**< success */
    ASD_CANCELLED = 1,             /**< the progress callback returned non-zero; no output was written */
    ASD_ERR_INVALID_ARGUMENT = 2,  /**< a value is out of range, malformed, or inconsistent with the model */
    ASD_ERR_NULL_POINTER = 3,      /**< a required pointer (handle, buffer, out-pointer, string) is NULL */
    ASD_ERR_BUFFER_SIZE = 4,       /**< a buffer length does not match (or a struct size is too small) */
    ASD_ERR_INVALID_HANDLE = 5,    /**< a handle that was freed, never returned by libasd, or of another kind */
    ASD_ERR_MODEL = 6,             /**< the model spec is unknown or the model files are invalid */
    ASD_ERR_UNSUPPORTED = 7,       /**< valid, but not supported by this model or this build */
    ASD_ERR_NUMERIC = 8,           /**< the model produced NaN or infinity in a row a chain uses */
    ASD_ERR_BUSY = 9,              /**< the sampler is serving another call */
    ASD_ERR_STATE = 10,            /**< the call is not valid now (for example stats before a completed run) */
    ASD_ERR_OUT_OF_MEMORY = 11,    /**< allocation failed */
    ASD_ERR_IO = 12,               /**< a file could not be found or read */
    ASD_ERR_INTERNAL = 99          /**< a bug in libasd: please report the message */
};

/* ----------------------------------------------------------------------------------------------- library */

/** The ABI version of the loaded library (ASD_ABI_VERSION of the header it was built with). */
ASD_API uint32_t asd_abi_version(void);

/** The library version, for example "0.1.0". Owned by the library; never NULL. */
ASD_API const char* asd_version(void);

/**
 * What this build runs on this CPU, as space-separated key=value pairs, for example
 * "build=x86-64-v4 active=avx512 supported=avx512,avx2,vector128,scalar arch=x64":
 * build = the x86-64 level it was compiled for; active = the kernel path in use; supported = the paths this
 * build can run here. Owned by the library. NULL only if ASD_FORCE_ISA names a path this build cannot run
 * (then asd_last_error() says why).
 */
ASD_API const char* asd_cpu_features(void);

/**
 * The message of the most recent failed call on this thread ("" if none). Owned by the library (thread-local);
 * valid until the next failing call on the same thread. Successful calls leave it unchanged.
 */
ASD_API const char* asd_last_error(void);

/** The name of a status code, for example "ASD_ERR_BUFFER_SIZE". Owned by the library; never NULL. */
ASD_API const char* asd_status_name(asd_status status);

/* ------------------------------------------------------------------------------------------------- model */

/** An open model: immutable, shareable across threads. */
typedef struct asd_model asd_model;

/** Options for asd_model_open. Initialise with asd_model_default_params. */
typedef struct asd_model_params {
    uint32_t struct_size;  /**< set by asd_model_default_params */
    const char* device;    /**< "cpu" (default when NULL), "cuda" or "auto" (cuda: ONNX models only; on CUDA each call is padded to a power-of-two batch with a session per size, see docs/onnx-models.md) */
    int32_t threads;       /**< threads for each sampler of this model; 0 (default) = one per core (at most 256); 1 .. 256 */
    /* Appended after ABI 1's first release: a struct_size up to threads (inclusive of its padding) leaves it NULL. */
    const char* onnx_native; /**< ONNX exports of diffusion_policy's ConditionalUnet1D: "auto" (or NULL, the default: the
                                  ASD_ONNX_NATIVE environment variable if set, else the native engine where it can take
                                  the graph over, else ONNX Runtime), "on" (the native engine or ASD_ERR_MODEL saying
                                  why not) or "off" (always ONNX Runtime); asd_model_runtime says which ran. A file
                                  taken over natively is first run once beside ONNX Runtime on a probe and stays with
                                  ONNX Runtime ("on": ASD_ERR_MODEL) when the outputs differ by more than 1e-3 of
                                  their scale; ASD_ONNX_NATIVE_CHECK=off skips that check */
} asd_model_params;

/**
 * Fills *params with the defaults. params_size = sizeof(asd_model_params). Writes min(params_size, the library's own
 * struct size) bytes and never touches memory beyond them, whatever params_size says; struct_size receives the
 * number of bytes written. ASD_ERR_BUFFER_SIZE if params_size is smaller than the struct (a struct from an asd.h
 * before onnx_native was added is accepted and filled up to its size).
 */
ASD_API asd_status asd_model_default_params(asd_model_params* params, size_t params_size);

/**
 * Opens a model. spec is "builtin:mixture" (the 8-Gaussian ring), "builtin:mixture?dim=d" (d even), an asd-mlp
 * model (path to its .json file), an .onnx file or a model folder (model.onnx + scheduler_config.json [+ asd.json];
 * ONNX Runtime's libonnxruntime.so must sit beside libasd.so). params may be NULL (defaults).
 * On success *out_model receives the handle; on failure it is set to NULL.
 */
ASD_API asd_status asd_model_open(const char* spec, const asd_model_params* params, asd_model** out_model);

/** Releases the caller's reference to the model (samplers keep it alive until they are freed). NULL: no-op. */
ASD_API void asd_model_free(asd_model* model);

/** The model's name (for example "builtin:mixture?dim=32"), copied into buf; see the string convention. */
ASD_API asd_status asd_model_name(const asd_model* model, char* buf, size_t buf_len, size_t* needed);

/**
 * How the model runs, one line for logs, copied into buf (see the string convention): "cpu (asd's kernels)" for the
 * built-in, asd-mlp and asd-unet1d models, "cpu (ONNX Runtime)" or "cuda (ONNX Runtime) ..." for ONNX Runtime, and
 * "cpu (asd's native ConditionalUnet1D, weights taken from FILE ...)" for an ONNX export run natively.
 */
ASD_API asd_status asd_model_runtime(const asd_model* model, char* buf, size_t buf_len, size_t* needed);

/**
 * The shape of one sample. *ndim receives the number of dimensions; dims (dims_len entries) receives them.
 * dims = NULL with dims_len = 0 queries *ndim only.
 */
ASD_API asd_status asd_model_sample_shape(const asd_model* model, int64_t* dims, size_t dims_len, size_t* ndim);

/** Floats per sample (the product of the sample shape). */
ASD_API asd_status asd_model_sample_size(const asd_model* model, int64_t* size);

/**
 * The shape of one conditioning row: one dimension, the number of conditioning floats (0 when the model is
 * unconditional). Same conventions as asd_model_sample_shape. A ConditionalUnet1D with local conditioning
 * (asd-unet1d's local_cond_dim) takes its global values, then horizon x local_cond_dim values position by position
 * (docs/unet1d-format.md).
 */
ASD_API asd_status asd_model_cond_shape(const asd_model* model, int64_t* dims, size_t dims_len, size_t* ndim);

/** Floats per conditioning row (0 when the model is unconditional). */
ASD_API asd_status asd_model_cond_size(const asd_model* model, int64_t* size);

/** The number of training steps T of the model's scheduler (num_train_timesteps). */
ASD_API asd_status asd_model_train_steps(const asd_model* model, int32_t* steps);

/** *has_guidance = 1 if the model supports classifier-free guidance (asd_sampler_params.guidance_scale), else 0. */
ASD_API asd_status asd_model_has_guidance(const asd_model* model, int32_t* has_guidance);

/* ----------------------------------------------------------------------------------------------- sampler */

/** A sampler: buffers, a thread pool and the plan for K steps. Serves one call at a time. */
typedef struct asd_sampler asd_sampler;

/** asd_sampler_params.sampler */
enum {
    ASD_SAMPLER_ASD = 0,   /**< autospeculative decoding: exactly the DDPM's law, fewer sequential model calls */
    ASD_SAMPLER_DDPM = 1   /**< the sequential DDPM */
};

/** asd_sampler_params.spec_len: a fixed L > 0, or one of these. */
enum {
    ASD_SPEC_LEN_UNBOUNDED = 0,  /**< speculate to the end of the chain ("inf") */
    ASD_SPEC_LEN_AUTO = -1       /**< automatic ("auto"): L chosen per round from the model's batch-cost curve and the running acceptance */
};

/**
 * Progress callback, called on the sampling thread after every model call. completed_steps counts steps over all
 * chains, out of total_steps = K * n. Return 0 to continue, non-zero to cancel the run (asd_sampler_sample then
 * returns ASD_CANCELLED and leaves the output buffer untouched).
 */
typedef int32_t (*asd_progress_fn)(void* user, int64_t completed_steps, int64_t total_steps, int64_t model_calls);

/**
 * Settings for asd_sampler_create. Initialise with asd_sampler_default_params. The schedule overrides keep the
 * model's value when left at their defaults (0, -1 or NULL, as noted) and use the names and meanings of
 * diffusers' DDPMScheduler (and of the CLI's flags).
 */
typedef struct asd_sampler_params {
    uint32_t struct_size;        /**< set by asd_sampler_default_params */
    int32_t sampler;             /**< ASD_SAMPLER_ASD (default) or ASD_SAMPLER_DDPM */
    int32_t steps;               /**< inference steps K, 1 <= K <= train steps (default 100) */
    int32_t spec_len;            /**< L > 0 fixed, 0 unbounded, -1 automatic (default -1); ignored by DDPM */
    int32_t max_batch_rows;      /**< most rows per model call; bounds memory for any L and n (default 1024) */
    float guidance_scale;        /**< classifier-free guidance scale; 0 (default) = the model's own (asd.json), else none. Other values need asd_model_has_guidance */
    const char* cost_curve_path; /**< cost curve for spec_len = -1 (makes it deterministic); NULL (default) = none */
    int32_t train_steps;         /**< num_train_timesteps; 0 = model's */
    int32_t steps_offset;        /**< steps_offset (leading spacing); -1 = model's */
    int32_t clip_sample;         /**< clip_sample: 0 off, 1 on, -1 = model's */
    double beta_start;           /**< beta_start in (0, 1); 0 = model's */
    double beta_end;             /**< beta_end in (0, 1); 0 = model's */
    double clip_sample_range;    /**< clip_sample_range > 0; 0 = model's */
    const char* beta_schedule;   /**< "linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid"; NULL = model's */
    const char* prediction_type; /**< "epsilon", "v_prediction", "sample"; NULL = model's */
    const char* variance_type;   /**< "fixed_small", "fixed_large"; NULL = model's */
    const char* timestep_spacing;/**< "leading", "trailing", "linspace"; NULL = model's */
    /* Appended to ABI 1 (a caller built against an older asd.h passes a smaller struct_size; these keep their defaults). */
    double calibration_seconds;  /**< budget of the batch-cost calibration that spec_len = -1 without cost_curve_path runs in
                                      asd_sampler_create (once per model and thread count): 0 (default) = 5 s; > 0 = that many
                                      seconds (the measurement keeps what it has when the budget runs out; a single model call
                                      is never interrupted); < 0 = skip it (automatic L then assumes a cost linear in rows and
                                      runs L = 1, DDPM's bytes; give cost_curve_path to speculate without calibrating) */
    asd_progress_fn calibration_progress; /**< optional, called on the creating thread after every calibration call with
                                      (calibration_user, calls done, calls planned, calls done); non-zero cancels:
                                      asd_sampler_create returns ASD_CANCELLED and nothing is cached */
    void* calibration_user;      /**< passed to calibration_progress */
} asd_sampler_params;

/** Fills *params with the defaults. params_size = sizeof(asd_sampler_params); as asd_model_default_params (a struct
 * from an asd.h before calibration_seconds was added is accepted and filled up to its size). */
ASD_API asd_status asd_sampler_default_params(asd_sampler_params* params, size_t params_size);

/**
 * Creates a sampler for the model (params may be NULL: defaults). The sampler holds a reference to the model.
 * On failure *out_sampler is set to NULL.
 */
ASD_API asd_status asd_sampler_create(asd_model* model, const asd_sampler_params* params, asd_sampler** out_sampler);

/** Frees the sampler (at the end of its running call, if any). NULL: no-op. */
ASD_API void asd_sampler_free(asd_sampler* sampler);

/** Per-call inputs of asd_sampler_sample. Initialise with asd_sample_default_params. */
typedef struct asd_sample_params {
    uint32_t struct_size;     /**< set by asd_sample_default_params */
    uint64_t seed;            /**< seed of the counter-based RNG (default 0) */
    uint64_t chain_offset;    /**< id of the first chain: runs split by offsets equal one run (default 0) */
    const float* cond;        /**< conditioning: cond_size floats shared by all chains, or n * cond_size; NULL if none */
    size_t cond_len;          /**< floats in cond */
    const float* init_noise;  /**< x_T for every chain (n * sample_size floats, diffusers' latents); NULL = draw it */
    size_t init_noise_len;    /**< floats in init_noise */
    asd_progress_fn progress; /**< optional progress callback (NULL = none) */
    void* progress_user;      /**< passed to progress */
} asd_sample_params;

/** Fills *params with the defaults. params_size = sizeof(asd_sample_params); as asd_model_default_params. */
ASD_API asd_status asd_sample_default_params(asd_sample_params* params, size_t params_size);

/**
 * Samples n chains into out (out_len must equal n * sample_size floats; row-major, one sample per row).
 * params may be NULL (seed 0, offset 0, no conditioning, drawn noise, no progress). out is written only when
 * the whole run succeeds: on any failure or cancellation it is untouched.
 */
ASD_API asd_status asd_sampler_sample(asd_sampler* sampler, int32_t n, const asd_sample_params* params, float* out,
                                      size_t out_len);

/** The main numbers of the last completed run (see the CLI's stats JSON for meanings). */
typedef struct asd_stats {
    uint32_t struct_size;                /**< set by asd_sampler_stats */
    int32_t sampler;                     /**< ASD_SAMPLER_ASD or ASD_SAMPLER_DDPM */
    int32_t steps;                       /**< K */
    int32_t samples;                     /**< n */
    int32_t sequential_model_calls_max;  /**< the maximum over chains of the per-chain sequential model calls */
    double sequential_model_calls;       /**< per chain, model calls that carried one of its rows; mean over chains */
    double algorithmic_speedup;          /**< K / sequential_model_calls */
    int64_t denoiser_invocations;        /**< batched model calls actually made */
    int64_t rows_evaluated;              /**< rows over all chains */
    int64_t rounds;                      /**< draft-and-verify rounds over all chains (DDPM: K - 1 per chain) */
    double wall_seconds;                 /**< wall-clock time of the run */
} asd_stats;

/**
 * Copies the statistics of the sampler's last completed run into *stats (stats_size = sizeof(asd_stats)); writes
 * min(stats_size, the library's struct size) bytes and nothing beyond.
 * ASD_ERR_STATE if no run has completed (or the last one failed or was cancelled).
 */
ASD_API asd_status asd_sampler_stats(const asd_sampler* sampler, asd_stats* stats, size_t stats_size);

/**
 * The statistics of the last completed run as a JSON object with the fields and meanings of the CLI's --stats
 * file: model, sampler, steps, spec_len (as asked: "8", "inf", "auto", "-" for DDPM), spec_len_effective (what
 * ran; for "auto", "auto L:rounds ..."), samples, sequential_model_calls, sequential_model_calls_max,
 * algorithmic_speedup, denoiser_invocations, rows_evaluated, rounds, acceptance_by_position, round_lengths
 * ([{"length", "rounds"}] by drafted length), wall_seconds, rng. Copied into buf; see the string convention.
 */
ASD_API asd_status asd_sampler_stats_json(const asd_sampler* sampler, char* buf, size_t buf_len, size_t* needed);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ASD_H */

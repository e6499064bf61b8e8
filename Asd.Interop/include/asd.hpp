// asd.hpp: a C++17 RAII wrapper over asd.h. Header-only; link with -lasd as for C.
//
//   asd::Model model("builtin:mixture?dim=32");
//   asd::SamplerOptions opt;  opt.spec_len = 8;
//   asd::Sampler sampler(model, opt);
//   std::vector<float> x = sampler.sample(16, /*seed=*/7);      // 16 x 32 floats
//   std::string stats = sampler.stats_json();
//
// Every failing call throws asd::Error, which carries the status and the library's message.
// Thread rules are those of asd.h: a Model may be shared by Samplers on many threads; a Sampler serves one call
// at a time. Model and Sampler are movable, not copyable (a Sampler keeps its model alive by itself).
#ifndef ASD_HPP
#define ASD_HPP

#include <cstdint>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "asd.h"

namespace asd {

/// A failed call: what() is "<status name>: <library message>"; status() is the asd_status.
class Error : public std::runtime_error {
public:
    Error(asd_status status, const std::string& message)
        : std::runtime_error(std::string(asd_status_name(status)) + ": " + message), status_(status), message_(message) {}

    asd_status status() const noexcept { return status_; }

    /// The library's message alone.
    const std::string& message() const noexcept { return message_; }

    /// True when the progress callback cancelled the run.
    bool cancelled() const noexcept { return status_ == ASD_CANCELLED; }

private:
    asd_status status_;
    std::string message_;
};

namespace detail {
inline void check(asd_status status) {
    if (status != ASD_OK) throw Error(status, asd_last_error());
}

/// An optional string argument: NULL when empty.
inline const char* c_str_or_null(const std::string& s) { return s.empty() ? nullptr : s.c_str(); }

/// A string getter's two calls: the size (with the NUL), then the text.
template <typename Handle>
inline std::string read_string(asd_status (*get)(const Handle*, char*, size_t, size_t*), const Handle* h) {
    size_t need = 0;
    check(get(h, nullptr, 0, &need));
    std::string s(need, '\0');
    check(get(h, s.data(), s.size(), &need));
    s.resize(need - 1);
    return s;
}

/// A model's scalar getter (int64_t or int32_t out-parameter).
template <typename T>
inline T read_value(asd_status (*get)(const asd_model*, T*), const asd_model* m) {
    T v = 0;
    check(get(m, &v));
    return v;
}

inline std::vector<int64_t> read_shape(asd_status (*get)(const asd_model*, int64_t*, size_t, size_t*), const asd_model* m) {
    size_t ndim = 0;
    check(get(m, nullptr, 0, &ndim));
    std::vector<int64_t> dims(ndim);
    check(get(m, dims.data(), dims.size(), &ndim));
    return dims;
}
}  // namespace detail

/// The library version and what this build runs on this CPU.
inline std::string version() { return asd_version(); }
inline std::string cpu_features() {
    const char* s = asd_cpu_features();
    if (!s) throw Error(ASD_ERR_UNSUPPORTED, asd_last_error());
    return s;
}

/// Options for opening a model.
struct ModelOptions {
    std::string device = "cpu";  ///< "cpu", "cuda" or "auto"
    int32_t threads = 0;         ///< threads per sampler; 0 = one per core
    std::string onnx_native = {};  ///< "auto", "on" or "off" for ONNX ConditionalUnet1D exports; empty = auto (asd_model_params.onnx_native)
};

/// An open model (asd_model). Immutable; share it across threads.
class Model {
public:
    explicit Model(const std::string& spec, const ModelOptions& options = {}) {
        asd_model_params p;
        detail::check(asd_model_default_params(&p, sizeof p));
        p.device = options.device.c_str();
        p.threads = options.threads;
        p.onnx_native = options.onnx_native.empty() ? nullptr : options.onnx_native.c_str();
        detail::check(asd_model_open(spec.c_str(), &p, &handle_));
    }
    ~Model() { asd_model_free(handle_); }
    Model(Model&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Model& operator=(Model&& other) noexcept {
        if (this != &other) {
            asd_model_free(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;

    std::string name() const { return detail::read_string(asd_model_name, handle_); }
    std::string runtime() const { return detail::read_string(asd_model_runtime, handle_); }
    std::vector<int64_t> sample_shape() const { return detail::read_shape(asd_model_sample_shape, handle_); }
    std::vector<int64_t> cond_shape() const { return detail::read_shape(asd_model_cond_shape, handle_); }
    int64_t sample_size() const { return detail::read_value(asd_model_sample_size, handle_); }
    int64_t cond_size() const { return detail::read_value(asd_model_cond_size, handle_); }
    int32_t train_steps() const { return detail::read_value(asd_model_train_steps, handle_); }
    bool has_guidance() const { return detail::read_value(asd_model_has_guidance, handle_) != 0; }

    asd_model* get() const noexcept { return handle_; }

private:
    asd_model* handle_ = nullptr;
};

/// Sampler settings: asd_sampler_params with the library's defaults (asd_sampler_default_params), its numeric
/// fields as they are (sampler, steps, spec_len, max_batch_rows, guidance_scale, train_steps, steps_offset,
/// clip_sample, beta_start, beta_end, clip_sample_range, calibration_seconds, ...), its strings as std::string
/// (empty = none / the model's). The schedule overrides keep the model's values unless set.
struct SamplerOptions : asd_sampler_params {
    SamplerOptions() : asd_sampler_params() {
        detail::check(asd_sampler_default_params(this, sizeof(asd_sampler_params)));
    }

    std::string cost_curve_path;  ///< empty = none
    std::string beta_schedule, prediction_type, variance_type, timestep_spacing;  ///< empty = model's

    /// The C struct, its strings pointing into this object (valid while it lives and is not changed).
    asd_sampler_params params() const {
        asd_sampler_params p = *this;
        p.cost_curve_path = detail::c_str_or_null(cost_curve_path);
        p.beta_schedule = detail::c_str_or_null(beta_schedule);
        p.prediction_type = detail::c_str_or_null(prediction_type);
        p.variance_type = detail::c_str_or_null(variance_type);
        p.timestep_spacing = detail::c_str_or_null(timestep_spacing);
        return p;
    }
};

/// Progress: (completed steps over all chains, K * n, model calls so far); return true to cancel.
using Progress = std::function<bool(int64_t completed_steps, int64_t total_steps, int64_t model_calls)>;

/// Per-call inputs of Sampler::sample beyond n and the seed.
struct SampleOptions {
    uint64_t chain_offset = 0;
    std::vector<float> cond;        ///< cond_size floats (shared) or n * cond_size; empty = none
    std::vector<float> init_noise;  ///< n * sample_size floats; empty = draw
    Progress progress;              ///< empty = none
};

/// A sampler (asd_sampler): one per thread.
class Sampler {
public:
    Sampler(const Model& model, const SamplerOptions& o = {}) : sample_size_(model.sample_size()) {
        asd_sampler_params p = o.params();
        detail::check(asd_sampler_create(model.get(), &p, &handle_));
    }
    ~Sampler() { asd_sampler_free(handle_); }
    Sampler(Sampler&& other) noexcept
        : handle_(std::exchange(other.handle_, nullptr)), sample_size_(other.sample_size_) {}
    Sampler& operator=(Sampler&& other) noexcept {
        if (this != &other) {
            asd_sampler_free(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
            sample_size_ = other.sample_size_;
        }
        return *this;
    }
    Sampler(const Sampler&) = delete;
    Sampler& operator=(const Sampler&) = delete;

    /// Samples n chains into out (n * sample_size floats).
    void sample(int32_t n, uint64_t seed, float* out, size_t out_len, const SampleOptions& o = {}) {
        asd_sample_params p;
        detail::check(asd_sample_default_params(&p, sizeof p));
        p.seed = seed;
        p.chain_offset = o.chain_offset;
        p.cond = o.cond.empty() ? nullptr : o.cond.data();
        p.cond_len = o.cond.size();
        p.init_noise = o.init_noise.empty() ? nullptr : o.init_noise.data();
        p.init_noise_len = o.init_noise.size();
        CallbackState state{&o.progress, nullptr};
        if (o.progress) {
            p.progress = &Sampler::trampoline;
            p.progress_user = &state;
        }
        asd_status status = asd_sampler_sample(handle_, n, &p, out, out_len);
        // An exception thrown by the callback cancelled the run; it is rethrown here, not through C frames.
        if (state.error) std::rethrow_exception(state.error);
        detail::check(status);
    }

    /// Samples n chains and returns them (n * sample_size floats, one sample per row).
    std::vector<float> sample(int32_t n, uint64_t seed, const SampleOptions& o = {}) {
        std::vector<float> out(static_cast<size_t>(n > 0 ? n : 0) * static_cast<size_t>(sample_size_));
        sample(n, seed, out.data(), out.size(), o);
        return out;
    }

    /// The main numbers of the last completed run.
    asd_stats stats() const {
        asd_stats s;
        detail::check(asd_sampler_stats(handle_, &s, sizeof s));
        return s;
    }

    /// The stats JSON of the last completed run (the CLI's --stats fields).
    std::string stats_json() const { return detail::read_string(asd_sampler_stats_json, handle_); }

    asd_sampler* get() const noexcept { return handle_; }

private:
    struct CallbackState {
        const Progress* progress;
        std::exception_ptr error;
    };

    static int32_t trampoline(void* user, int64_t done, int64_t total, int64_t calls) {
        auto* state = static_cast<CallbackState*>(user);
        try {
            return (*state->progress)(done, total, calls) ? 1 : 0;
        } catch (...) {
            state->error = std::current_exception();
            return 1;
        }
    }

    asd_sampler* handle_ = nullptr;
    int64_t sample_size_ = 0;
};

}  // namespace asd

#endif  // ASD_HPP

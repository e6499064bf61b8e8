// Samples the built-in Gaussian mixture through the C++ wrapper, prints the stats, and shows how errors and
// cancellation surface as asd::Error.
//
//   g++ -std=c++17 -Wall -Wextra -Werror -I<libasd>/include sample.cpp -o sample_cpp -L<libasd> -lasd -Wl,-rpath,<libasd>
#include <cmath>
#include <iostream>

#include "asd.hpp"

int main(int argc, char** argv) {
    try {
        std::cout << "libasd " << asd::version() << " (" << asd::cpu_features() << ")\n";
        asd::Model model(argc > 1 ? argv[1] : "builtin:mixture?dim=32", asd::ModelOptions{"cpu", 1});
        std::cout << "model " << model.name() << ": sample shape [";
        const char* sep = "";
        for (int64_t d : model.sample_shape()) { std::cout << sep << d; sep = ", "; }
        std::cout << "], " << model.train_steps() << " training steps\n";

        asd::SamplerOptions options;
        options.steps = 100;
        options.spec_len = 8;
        asd::Sampler sampler(model, options);
        const int32_t n = 16;
        std::vector<float> x = sampler.sample(n, 7);

        double radius = 0;
        const int64_t d = model.sample_size();
        for (int32_t i = 0; i < n; i++) {
            double r2 = 0;
            for (int64_t j = 0; j < d; j++) r2 += double(x[i * d + j]) * x[i * d + j];
            radius += std::sqrt(r2) / n;
        }
        asd_stats s = sampler.stats();
        std::cout << "mean radius " << radius << ", " << s.sequential_model_calls << " sequential model calls per chain, "
                  << "algorithmic speedup " << s.algorithmic_speedup << "x\n";
        std::cout << "stats " << sampler.stats_json() << "\n";

        // Cancellation: the callback asks to stop after the third model call.
        asd::SampleOptions cancel;
        cancel.progress = [](int64_t, int64_t, int64_t calls) { return calls >= 3; };
        try {
            sampler.sample(n, 7, cancel);
            std::cerr << "expected a cancellation\n";
            return 1;
        } catch (const asd::Error& e) {
            std::cout << "cancelled as asked: " << (e.cancelled() ? "yes" : "no") << " (" << e.what() << ")\n";
            if (!e.cancelled()) return 1;
        }

        // Errors carry the library's message.
        try {
            asd::Model bad("builtin:nonsense");
            return 1;
        } catch (const asd::Error& e) {
            std::cout << "unknown model: " << e.what() << "\n";
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
}

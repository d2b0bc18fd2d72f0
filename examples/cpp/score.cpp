// Loads a model with the C++ wrapper, scores the documented transaction as
// JSON and as a typed row, explains it, then scores it again from several
// threads sharing one model, and shows how a bad request surfaces as
// fraud::Error.
//
//   c++ -std=c++17 -Wall -Wextra -Werror -I include examples/cpp/score.cpp
//       target/release/libfraud_engine.a -lpthread -ldl -lm -o score_cpp
//   ./score_cpp model.fem
#include <cstdio>
#include <iostream>
#include <thread>
#include <vector>

#include "fraud_engine.hpp"

namespace {
constexpr std::string_view kDocumented =
    R"({"amount":250.0,"transaction_hour":14,"merchant_category":"Electronics",)"
    R"("foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,)"
    R"("velocity_last_24h":3,"cardholder_age":35})";

void print(const char *how, const fraud::Prediction &p) {
    std::printf("%s: is_fraud=%d fraud_probability=%.17g risk_level=%s\n", how, p.is_fraud,
                p.fraud_probability, fraud::risk_level_name(p.risk_level).data());
}
}  // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        std::cerr << "usage: " << argv[0] << " MODEL_FILE\n";
        return 2;
    }
    try {
        const fraud::Model model = fraud::Model::load(argv[1]);
        std::cout << "features:";
        for (const auto &name : model.feature_names()) {
            std::cout << ' ' << name;
        }
        std::cout << '\n';

        const fraud::Prediction from_json = model.predict_json(kDocumented);
        print("json", from_json);
        const double electronics = model.category_code("merchant_category", "Electronics");
        const std::vector<double> row{250.0, 14.0, electronics, 0.0, 0.0, 75.0, 3.0, 35.0};
        const fraud::Prediction from_row = model.predict_row(row);
        print("typed", from_row);

        // Why: the JSON for people and logs, the numbers for code.
        std::cout << "explain: " << model.explain_json(kDocumented) << '\n';
        const fraud::Explanation why = model.explain_row(row);
        double explained = why.base_value;
        for (const double c : why.contributions) {
            explained += c;
        }
        std::printf("explained: base_value + contributions - fraud_probability = %.3g\n",
                    explained - from_row.fraud_probability);

        // One model, many threads: each thread gets a copy sharing the model.
        constexpr int kThreads = 4;
        std::vector<int> agree(kThreads, 0);
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&agree, t, shared = model, &from_json] {
                int same = 0;
                for (int i = 0; i < 1000; ++i) {
                    same += shared.predict_json(kDocumented).fraud_probability ==
                            from_json.fraud_probability;
                }
                agree[t] = same;
            });
        }
        int total = 0;
        for (int t = 0; t < kThreads; ++t) {
            threads[t].join();
            total += agree[t];
        }
        std::cout << "threads: " << total << " of " << kThreads * 1000 << " agree\n";

        try {
            model.predict_json(R"({"amount": "lots"})");
            std::cout << "a bad request was accepted\n";
            return 1;
        } catch (const fraud::Error &e) {
            std::cout << "bad request: " << fraud_status_name(e.status()) << '\n';
        }
        return from_json.fraud_probability == from_row.fraud_probability ? 0 : 1;
    } catch (const fraud::Error &e) {
        std::cerr << e.what() << '\n';
        return 1;
    }
}

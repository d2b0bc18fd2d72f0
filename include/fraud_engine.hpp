/*
 * fraud_engine.hpp: a header-only C++17 wrapper over fraud_engine.h.
 *
 * fraud::Model owns a model handle (RAII); copying it shares the loaded model
 * (fraud_model_clone), moving it transfers the handle. Every failure throws
 * fraud::Error, which carries the FraudStatus and the library's message.
 * Strings the library hands over (explain_json) are copied into std::string
 * and released with fraud_string_free.
 * A fraud::Model may be used from many threads at once (its methods are const).
 * Written by hand (not generated); it adds no behaviour to the C API.
 */
#ifndef FRAUD_ENGINE_HPP
#define FRAUD_ENGINE_HPP

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fraud_engine.h"

namespace fraud {

/// A failed call: the status and fraud_last_error()'s message.
class Error : public std::runtime_error {
public:
    Error(FraudStatus status, const std::string &message)
        : std::runtime_error(std::string(fraud_status_name(status)) + ": " + message),
          status_(status) {}

    FraudStatus status() const noexcept { return status_; }

private:
    FraudStatus status_;
};

namespace detail {
inline void check(FraudStatus status) {
    if (status != FRAUD_OK) {
        throw Error(status, fraud_last_error());
    }
}

struct Free {
    void operator()(FraudModel *model) const noexcept { fraud_model_free(model); }
};

struct FreeString {
    void operator()(char *s) const noexcept { fraud_string_free(s); }
};
}  // namespace detail

using Prediction = FraudPrediction;

/// A typed row's explanation: base_value + sum(contributions) is the
/// row's fraud probability (to 1e-9).
struct Explanation {
    double base_value = 0.0;
    /// One per feature, in model feature order.
    std::vector<double> contributions;
};

/// "LOW", "MEDIUM" or "HIGH".
inline std::string_view risk_level_name(FraudRiskLevel level) {
    return fraud_risk_level_name(level);
}

/// A loaded model.
class Model {
public:
    /// Loads a model file; throws fraud::Error (FRAUD_IO, FRAUD_CORRUPT_MODEL, ...).
    static Model load(const std::string &path) {
        FraudModel *handle = nullptr;
        detail::check(fraud_model_load(path.c_str(), &handle));
        return Model(handle);
    }

    /// Loads a model from the bytes of a model file.
    static Model from_bytes(const std::uint8_t *bytes, std::size_t len) {
        FraudModel *handle = nullptr;
        detail::check(fraud_model_load_bytes(bytes, len, &handle));
        return Model(handle);
    }

    /// Shares the loaded model: no copy of the forest.
    Model(const Model &other) : handle_(other.clone()) {}
    Model &operator=(const Model &other) {
        if (this != &other) {
            handle_.reset(other.clone());
        }
        return *this;
    }
    Model(Model &&) noexcept = default;
    Model &operator=(Model &&) noexcept = default;
    ~Model() = default;

    std::size_t feature_count() const {
        std::size_t count = 0;
        detail::check(fraud_model_feature_count(get(), &count));
        return count;
    }

    /// Feature names in model order: the order of a typed row.
    std::vector<std::string> feature_names() const {
        std::vector<std::string> names;
        const std::size_t count = feature_count();
        names.reserve(count);
        for (std::size_t i = 0; i < count; ++i) {
            const char *name = nullptr;
            detail::check(fraud_model_feature_name(get(), i, &name));
            names.emplace_back(name);
        }
        return names;
    }

    FraudFeatureKind feature_kind(std::size_t index) const {
        FraudFeatureKind kind = FRAUD_FEATURE_NUMERIC;
        detail::check(fraud_model_feature_kind(get(), index, &kind));
        return kind;
    }

    /// Whether a missing value (NaN) of feature `index` is refused.
    bool feature_required(std::size_t index) const {
        std::int32_t required = 0;
        detail::check(fraud_model_feature_required(get(), index, &required));
        return required != 0;
    }

    /// The code of `category` for a categorical feature (the unknown
    /// bucket's code for a category never seen in training).
    std::uint32_t category_code(const std::string &feature, const std::string &category) const {
        std::uint32_t code = 0;
        detail::check(
            fraud_model_category_code(get(), feature.c_str(), category.c_str(), &code, nullptr));
        return code;
    }

    double threshold() const {
        double threshold = 0.0;
        detail::check(fraud_model_threshold(get(), &threshold));
        return threshold;
    }

    /// Scores the JSON body of POST /api/predict.
    Prediction predict_json(std::string_view json) const {
        Prediction prediction{};
        detail::check(fraud_model_predict_json_len(get(), json.data(), json.size(), &prediction));
        return prediction;
    }

    /// Scores one row of numbers in model feature order.
    Prediction predict_row(const double *values, std::size_t n_values) const {
        Prediction prediction{};
        detail::check(fraud_model_predict_row(get(), values, n_values, &prediction));
        return prediction;
    }

    Prediction predict_row(const std::vector<double> &values) const {
        return predict_row(values.data(), values.size());
    }

    /// Explains the JSON body of POST /api/predict: the JSON text of
    /// fraud_model_explain_json (prediction, base_value, contributions by
    /// feature, reasons, warnings). The library's string is freed here.
    std::string explain_json(std::string_view json) const {
        char *text = nullptr;
        detail::check(fraud_model_explain_json_len(get(), json.data(), json.size(), &text));
        const std::unique_ptr<char, detail::FreeString> owned(text);
        return std::string(owned.get());
    }

    /// Explains one row of numbers in model feature order.
    Explanation explain_row(const double *values, std::size_t n_values) const {
        Explanation explanation;
        explanation.contributions.resize(feature_count());
        detail::check(fraud_model_explain_row(get(), values, n_values,
                                              explanation.contributions.data(),
                                              explanation.contributions.size(),
                                              &explanation.base_value));
        return explanation;
    }

    Explanation explain_row(const std::vector<double> &values) const {
        return explain_row(values.data(), values.size());
    }

    /// Probabilities of a row-major matrix with feature_count() columns.
    std::vector<double> predict_batch(const std::vector<double> &rows) const {
        const std::size_t n_features = feature_count();
        if (rows.size() % n_features != 0) {
            throw Error(FRAUD_INVALID_INPUT, std::to_string(rows.size()) +
                                                 " values do not make rows of " +
                                                 std::to_string(n_features) + " features");
        }
        std::vector<double> probabilities(rows.size() / n_features);
        detail::check(fraud_model_predict_batch(get(), rows.data(), probabilities.size(),
                                                n_features, probabilities.data(),
                                                probabilities.size()));
        return probabilities;
    }

    /// The C handle, for calls this wrapper does not cover. Still owned here.
    const FraudModel *get() const noexcept { return handle_.get(); }

private:
    explicit Model(FraudModel *handle) : handle_(handle) {}

    FraudModel *clone() const {
        FraudModel *handle = nullptr;
        detail::check(fraud_model_clone(get(), &handle));
        return handle;
    }

    std::unique_ptr<FraudModel, detail::Free> handle_;
};

}  // namespace fraud

#endif  // FRAUD_ENGINE_HPP

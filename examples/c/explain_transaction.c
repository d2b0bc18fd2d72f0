/*
 * Loads a model and explains why it scored the documented transaction as it
 * did, twice: as JSON (the keys of the HTTP API with "explain": true: the
 * prediction, the base value, one contribution per feature and readable
 * reasons), and as a typed row whose per-feature contributions land in a
 * buffer of doubles. The base value plus the contributions is the
 * probability.
 *
 *   cc -std=c99 -Wall -Wextra -Werror -I include examples/c/explain_transaction.c \
 *      target/release/libfraud_engine.a -lpthread -ldl -lm -o explain_transaction
 *   ./explain_transaction model.fem
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "fraud_engine.h"

static const char DOCUMENTED[] =
    "{\"amount\":250.0,\"transaction_hour\":14,\"merchant_category\":\"Electronics\","
    "\"foreign_transaction\":0,\"location_mismatch\":0,\"device_trust_score\":75,"
    "\"velocity_last_24h\":3,\"cardholder_age\":35}";

static int fail(const char *what, FraudStatus status) {
    fprintf(stderr, "%s failed: %s: %s\n", what, fraud_status_name(status), fraud_last_error());
    return 1;
}

int main(int argc, char **argv) {
    FraudModel *model = NULL;
    FraudStatus status;
    FraudPrediction prediction;
    char *json = NULL;
    double *contributions = NULL;
    double base_value = 0.0, sum;
    size_t n_features = 0, i;
    uint32_t electronics = 0;
    int result = 1;

    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL_FILE\n", argv[0]);
        return 2;
    }
    status = fraud_model_load(argv[1], &model);
    if (status != FRAUD_OK) {
        return fail("fraud_model_load", status);
    }

    /* As JSON: the string is ours, released with fraud_string_free. */
    status = fraud_model_explain_json(model, DOCUMENTED, &json);
    if (status != FRAUD_OK) {
        result = fail("fraud_model_explain_json", status);
        goto done;
    }
    printf("json: %s\n", json);

    /* As a typed row: one contribution per feature, in the caller's buffer. */
    status = fraud_model_feature_count(model, &n_features);
    if (status != FRAUD_OK) {
        result = fail("fraud_model_feature_count", status);
        goto done;
    }
    contributions = malloc(n_features * sizeof *contributions);
    if (contributions == NULL) {
        fprintf(stderr, "out of memory\n");
        goto done;
    }
    status = fraud_model_category_code(model, "merchant_category", "Electronics", &electronics,
                                       NULL);
    if (status != FRAUD_OK) {
        result = fail("fraud_model_category_code", status);
        goto done;
    }
    {
        /* In the model's feature order (fraud_model_feature_name). */
        const double row[] = {250.0, 14.0, (double)electronics, 0.0, 0.0, 75.0, 3.0, 35.0};
        const size_t n_values = sizeof row / sizeof row[0];
        status = fraud_model_explain_row(model, row, n_values, contributions, n_features,
                                         &base_value);
        if (status != FRAUD_OK) {
            result = fail("fraud_model_explain_row", status);
            goto done;
        }
        status = fraud_model_predict_row(model, row, n_values, &prediction);
        if (status != FRAUD_OK) {
            result = fail("fraud_model_predict_row", status);
            goto done;
        }
    }

    /* %.17g prints a double exactly: reading it back gives the same bits. */
    printf("base_value: %.17g\n", base_value);
    sum = base_value;
    for (i = 0; i < n_features; i++) {
        const char *name = NULL;
        status = fraud_model_feature_name(model, i, &name);
        if (status != FRAUD_OK) {
            result = fail("fraud_model_feature_name", status);
            goto done;
        }
        printf("contribution %s: %.17g\n", name, contributions[i]);
        sum += contributions[i];
    }
    printf("fraud_probability: %.17g\n", prediction.fraud_probability);
    /* Local accuracy: the contributions account for the whole score. */
    if (fabs(sum - prediction.fraud_probability) > 1e-9) {
        fprintf(stderr, "base value + contributions = %.17g, not %.17g\n", sum,
                prediction.fraud_probability);
        goto done;
    }
    printf("base_value + contributions = fraud_probability\n");
    result = 0;

done:
    fraud_string_free(json);
    free(contributions);
    fraud_model_free(model);
    return result;
}

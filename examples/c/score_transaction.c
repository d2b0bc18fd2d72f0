/*
 * Loads a model and scores the documented transaction twice: as the JSON body
 * of POST /api/predict, and as a typed row of numbers (the fast path: no
 * parsing, no allocation). Both give the same prediction.
 *
 *   cc -std=c99 -Wall -Wextra -Werror -I include examples/c/score_transaction.c \
 *      target/release/libfraud_engine.a -lpthread -ldl -lm -o score_transaction
 *   ./score_transaction model.fem
 */
#include <stdio.h>
#include <string.h>

#include "fraud_engine.h"

static const char DOCUMENTED[] =
    "{\"amount\":250.0,\"transaction_hour\":14,\"merchant_category\":\"Electronics\","
    "\"foreign_transaction\":0,\"location_mismatch\":0,\"device_trust_score\":75,"
    "\"velocity_last_24h\":3,\"cardholder_age\":35}";

static int fail(const char *what, FraudStatus status) {
    fprintf(stderr, "%s failed: %s: %s\n", what, fraud_status_name(status), fraud_last_error());
    return 1;
}

static void print_prediction(const char *how, const FraudPrediction *p) {
    /* %.17g prints a double exactly: reading it back gives the same bits. */
    printf("%s: is_fraud=%d fraud_probability=%.17g risk_level=%s\n", how, (int)p->is_fraud,
           p->fraud_probability, fraud_risk_level_name(p->risk_level));
}

int main(int argc, char **argv) {
    FraudModel *model = NULL;
    FraudStatus status;
    FraudPrediction from_json, from_row;
    size_t n_features = 0, i;
    uint32_t electronics = 0;
    int32_t known = 0;
    int result = 1;

    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL_FILE\n", argv[0]);
        return 2;
    }
    /* The header and the library linked must be the same version. */
    if (strcmp(fraud_version(), FRAUD_ENGINE_VERSION) != 0) {
        fprintf(stderr, "library %s does not match header %s\n", fraud_version(),
                FRAUD_ENGINE_VERSION);
        return 1;
    }
    printf("fraud_engine %s\n", fraud_version());

    status = fraud_model_load(argv[1], &model);
    if (status != FRAUD_OK) {
        return fail("fraud_model_load", status);
    }

    status = fraud_model_feature_count(model, &n_features);
    if (status != FRAUD_OK) {
        result = fail("fraud_model_feature_count", status);
        goto done;
    }
    printf("features:");
    for (i = 0; i < n_features; i++) {
        const char *name = NULL;
        status = fraud_model_feature_name(model, i, &name);
        if (status != FRAUD_OK) {
            result = fail("fraud_model_feature_name", status);
            goto done;
        }
        printf(" %s", name);
    }
    printf("\n");

    status = fraud_model_predict_json(model, DOCUMENTED, &from_json);
    if (status != FRAUD_OK) {
        result = fail("fraud_model_predict_json", status);
        goto done;
    }
    print_prediction("json", &from_json);

    /* Category codes are fixed for a loaded model: look them up once. */
    status = fraud_model_category_code(model, "merchant_category", "Electronics", &electronics,
                                       &known);
    if (status != FRAUD_OK) {
        result = fail("fraud_model_category_code", status);
        goto done;
    }
    {
        /* In the model's feature order, as printed above. */
        const double row[] = {250.0, 14.0, (double)electronics, 0.0, 0.0, 75.0, 3.0, 35.0};
        status = fraud_model_predict_row(model, row, sizeof row / sizeof row[0], &from_row);
        if (status != FRAUD_OK) {
            result = fail("fraud_model_predict_row", status);
            goto done;
        }
    }
    print_prediction("typed", &from_row);

    if (from_json.fraud_probability != from_row.fraud_probability ||
        from_json.is_fraud != from_row.is_fraud || from_json.risk_level != from_row.risk_level) {
        fprintf(stderr, "the JSON and typed predictions differ\n");
        goto done;
    }
    printf("json and typed predictions agree\n");
    result = 0;

done:
    fraud_model_free(model);
    return result;
}

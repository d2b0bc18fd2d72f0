/*
 * The first program of docs/c-api.md: load a model file, score one
 * transaction given as the JSON body of POST /api/predict, print the answer.
 *
 *   cc -std=c99 first.c $(pkg-config --cflags --libs fraud_engine) -o first
 *   ./first model.fem
 */
#include <stdio.h>

#include "fraud_engine.h"

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "model.fem";
    FraudModel *model = NULL;
    FraudPrediction p;
    FraudStatus s = fraud_model_load(path, &model);
    if (s != FRAUD_OK) {
        fprintf(stderr, "%s: %s\n", fraud_status_name(s), fraud_last_error());
        return 1;
    }
    s = fraud_model_predict_json(model,
        "{\"amount\":250.0,\"transaction_hour\":14,\"merchant_category\":\"Electronics\","
        "\"foreign_transaction\":0,\"location_mismatch\":0,\"device_trust_score\":75,"
        "\"velocity_last_24h\":3,\"cardholder_age\":35}", &p);
    if (s == FRAUD_OK) {
        /* %.17g prints the probability exactly (it reads back as the same double). */
        printf("is_fraud=%d fraud_probability=%.17g risk_level=%s\n", p.is_fraud,
               p.fraud_probability, fraud_risk_level_name(p.risk_level));
    } else {
        fprintf(stderr, "%s: %s\n", fraud_status_name(s), fraud_last_error());
    }
    fraud_model_free(model);
    return s != FRAUD_OK;
}

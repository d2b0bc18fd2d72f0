/*
 * Every kind of bad call a C program can make returns a status, never
 * crashes, and leaves out-parameters untouched. Run by tests/c_programs.rs
 * (also under valgrind) as: bad_calls MODEL_FILE CORRUPT_MODEL_FILE
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fraud_engine.h"

static int checks = 0, failures = 0;

/* Checks that `status` is `expected` and, for failures, that the message
 * contains `needle`. */
static void expect(int line, FraudStatus status, FraudStatus expected, const char *needle) {
    checks++;
    if (status != expected) {
        failures++;
        printf("line %d: got %s (%s), expected %s\n", line, fraud_status_name(status),
               fraud_last_error(), fraud_status_name(expected));
    } else if (needle != NULL && strstr(fraud_last_error(), needle) == NULL) {
        failures++;
        printf("line %d: message \"%s\" lacks \"%s\"\n", line, fraud_last_error(), needle);
    }
}

static void truth(int line, int ok, const char *what) {
    checks++;
    if (!ok) {
        failures++;
        printf("line %d: %s\n", line, what);
    }
}

#define EXPECT(call, status, needle) expect(__LINE__, (call), (status), (needle))
#define TRUTH(cond) truth(__LINE__, (cond), #cond)

static int untouched(const FraudPrediction *p) {
    return p->fraud_probability == -1.0 && p->is_fraud == -1 && p->warnings == 99;
}

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *file = fopen(path, "rb");
    unsigned char *bytes = NULL;
    long size;
    if (file == NULL) {
        return NULL;
    }
    if (fseek(file, 0, SEEK_END) == 0 && (size = ftell(file)) > 0 && fseek(file, 0, SEEK_SET) == 0) {
        bytes = malloc((size_t)size);
        if (bytes != NULL && fread(bytes, 1, (size_t)size, file) != (size_t)size) {
            free(bytes);
            bytes = NULL;
        }
        *len = (size_t)size;
    }
    fclose(file);
    return bytes;
}

int main(int argc, char **argv) {
    FraudModel *model = NULL, *second = NULL, *clone = NULL;
    FraudModel *const sentinel_model = (FraudModel *)&checks;
    FraudModel *out_model = sentinel_model;
    FraudPrediction out = {-1.0, -1, FRAUD_RISK_MEDIUM, 99};
    unsigned char *bytes;
    size_t len = 0, count = 0;
    uint32_t code = 12345;
    double row[8] = {250.0, 14.0, 0.0, 0.0, 0.0, 75.0, 3.0, 35.0};
    double probabilities[3] = {-1.0, -1.0, -1.0};
    const char *json =
        "{\"amount\":250.0,\"transaction_hour\":14,\"merchant_category\":\"Electronics\","
        "\"foreign_transaction\":0,\"location_mismatch\":0,\"device_trust_score\":75,"
        "\"velocity_last_24h\":3,\"cardholder_age\":35}";

    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL_FILE CORRUPT_MODEL_FILE\n", argv[0]);
        return 2;
    }

    /* Loading. */
    EXPECT(fraud_model_load(NULL, &out_model), FRAUD_NULL_PARAMETER, "`path` is NULL");
    EXPECT(fraud_model_load(argv[1], NULL), FRAUD_NULL_PARAMETER, "`out` is NULL");
    EXPECT(fraud_model_load("/nonexistent/model.fem", &out_model), FRAUD_IO, "/nonexistent");
    EXPECT(fraud_model_load(argv[2], &out_model), FRAUD_CORRUPT_MODEL, "corrupt model at byte");
    EXPECT(fraud_model_load_bytes(NULL, 10, &out_model), FRAUD_NULL_PARAMETER, "`bytes`");
    EXPECT(fraud_model_load_bytes((const uint8_t *)"", 0, &out_model), FRAUD_CORRUPT_MODEL, NULL);
    TRUTH(out_model == sentinel_model);

    /* A double load, and a clone, freed in any order; free(NULL) is a no-op. */
    fraud_model_free(NULL);
    EXPECT(fraud_model_load(argv[1], &model), FRAUD_OK, NULL);
    bytes = read_file(argv[1], &len);
    TRUTH(bytes != NULL);
    EXPECT(fraud_model_load_bytes(bytes, len, &second), FRAUD_OK, NULL);
    EXPECT(fraud_model_load_bytes(bytes, len / 2, &out_model), FRAUD_CORRUPT_MODEL, NULL);
    free(bytes);
    EXPECT(fraud_model_clone(second, &clone), FRAUD_OK, NULL);
    EXPECT(fraud_model_clone(NULL, &out_model), FRAUD_NULL_PARAMETER, "`model`");
    fraud_model_free(second);
    TRUTH(out_model == sentinel_model);

    /* Metadata. */
    EXPECT(fraud_model_feature_count(NULL, &count), FRAUD_NULL_PARAMETER, NULL);
    EXPECT(fraud_model_feature_count(clone, NULL), FRAUD_NULL_PARAMETER, NULL);
    EXPECT(fraud_model_feature_count(clone, &count), FRAUD_OK, NULL);
    TRUTH(count == 8);
    {
        const char *name = NULL;
        EXPECT(fraud_model_feature_name(clone, 8, &name), FRAUD_INVALID_ARGUMENT, "out of range");
        TRUTH(name == NULL);
    }
    EXPECT(fraud_model_category_code(model, "amount", "x", &code, NULL), FRAUD_INVALID_ARGUMENT,
           "not categorical");
    EXPECT(fraud_model_category_code(model, NULL, "x", &code, NULL), FRAUD_NULL_PARAMETER, NULL);
    EXPECT(fraud_model_category_code(model, "merchant_category", "Electronics", NULL, NULL),
           FRAUD_NULL_PARAMETER, "`out_code`");
    TRUTH(code == 12345);

    /* JSON. */
    EXPECT(fraud_model_predict_json(NULL, json, &out), FRAUD_NULL_PARAMETER, NULL);
    EXPECT(fraud_model_predict_json(model, NULL, &out), FRAUD_NULL_PARAMETER, NULL);
    EXPECT(fraud_model_predict_json(model, json, NULL), FRAUD_NULL_PARAMETER, NULL);
    EXPECT(fraud_model_predict_json(model, "", &out), FRAUD_INVALID_JSON, NULL);
    EXPECT(fraud_model_predict_json(model, "{\"amount\": 250", &out), FRAUD_INVALID_JSON, NULL);
    EXPECT(fraud_model_predict_json(model, "42", &out), FRAUD_INVALID_JSON, "not a JSON object");
    EXPECT(fraud_model_predict_json(model, "{\"amount\": -5}", &out), FRAUD_INVALID_INPUT,
           "`transaction_hour`: missing field");
    EXPECT(fraud_model_predict_json_len(model, json, 0, &out), FRAUD_INVALID_JSON, NULL);
    EXPECT(fraud_model_predict_json_len(model, NULL, 0, &out), FRAUD_NULL_PARAMETER, NULL);
    TRUTH(untouched(&out));

    /* Typed rows: wrong feature count, out-of-range values, zero lengths. */
    EXPECT(fraud_model_predict_row(model, row, 7, &out), FRAUD_INVALID_INPUT,
           "7 values for 8 features");
    EXPECT(fraud_model_predict_row(model, row, 0, &out), FRAUD_INVALID_INPUT, NULL);
    EXPECT(fraud_model_predict_row(model, NULL, 0, &out), FRAUD_NULL_PARAMETER, NULL);
    row[1] = 24.0;
    EXPECT(fraud_model_predict_row(model, row, 8, &out), FRAUD_INVALID_INPUT, "transaction_hour");
    row[1] = NAN; /* missing, and the model never saw this field missing */
    EXPECT(fraud_model_predict_row(model, row, 8, &out), FRAUD_INVALID_INPUT,
           "`transaction_hour`: missing value: this field is required");
    TRUTH(untouched(&out));
    row[1] = 14.0;
    EXPECT(fraud_model_predict_row(model, row, 8, &out), FRAUD_OK, NULL);
    TRUTH(out.fraud_probability >= 0.0 && out.fraud_probability <= 1.0);

    /* Batches. */
    EXPECT(fraud_model_predict_batch(model, row, 1, 7, probabilities, 3), FRAUD_INVALID_INPUT,
           "7 features");
    EXPECT(fraud_model_predict_batch(model, row, 1, 8, probabilities, 0), FRAUD_INVALID_ARGUMENT,
           "holds 0 values for 1 rows");
    EXPECT(fraud_model_predict_batch(model, NULL, 1, 8, probabilities, 3), FRAUD_NULL_PARAMETER,
           "`rows`");
    EXPECT(fraud_model_predict_batch(model, row, 1, 8, NULL, 3), FRAUD_NULL_PARAMETER,
           "`probabilities`");
    EXPECT(fraud_model_predict_batch(model, row, 0, 8, probabilities, 3), FRAUD_OK, NULL);
    TRUTH(probabilities[0] == -1.0);
    EXPECT(fraud_model_predict_batch(model, row, 1, 8, probabilities, 3), FRAUD_OK, NULL);
    TRUTH(probabilities[0] == out.fraud_probability && probabilities[1] == -1.0);

    /* Explanations: JSON. */
    {
        char *const sentinel_json = (char *)&checks;
        char *out_json = sentinel_json;
        EXPECT(fraud_model_explain_json(NULL, json, &out_json), FRAUD_NULL_PARAMETER, "`model`");
        EXPECT(fraud_model_explain_json(model, NULL, &out_json), FRAUD_NULL_PARAMETER, "`json`");
        EXPECT(fraud_model_explain_json(model, json, NULL), FRAUD_NULL_PARAMETER, "`out_json`");
        EXPECT(fraud_model_explain_json(model, "", &out_json), FRAUD_INVALID_JSON, NULL);
        EXPECT(fraud_model_explain_json(model, "{\"amount\": 250", &out_json), FRAUD_INVALID_JSON,
               NULL);
        EXPECT(fraud_model_explain_json(model, "[]", &out_json), FRAUD_INVALID_JSON,
               "not a JSON object");
        EXPECT(fraud_model_explain_json(model, "{\"amount\": -5}", &out_json), FRAUD_INVALID_INPUT,
               "`transaction_hour`: missing field");
        EXPECT(fraud_model_explain_json_len(model, json, 0, &out_json), FRAUD_INVALID_JSON, NULL);
        EXPECT(fraud_model_explain_json_len(model, NULL, 0, &out_json), FRAUD_NULL_PARAMETER,
               NULL);
        TRUTH(out_json == sentinel_json);
        fraud_string_free(NULL); /* a no-op */
        /* Each success is a new string, freed once; valgrind checks none leaks. */
        EXPECT(fraud_model_explain_json(model, json, &out_json), FRAUD_OK, NULL);
        TRUTH(out_json != sentinel_json && out_json[0] == '{');
        fraud_string_free(out_json);
        out_json = sentinel_json;
        EXPECT(fraud_model_explain_json_len(clone, json, strlen(json), &out_json), FRAUD_OK, NULL);
        TRUTH(out_json != sentinel_json && strstr(out_json, "\"contributions\":{") != NULL);
        fraud_string_free(out_json);
    }

    /* Explanations: typed rows, with wrong buffer and row lengths. */
    {
        double typed[8] = {250.0, 14.0, 0.0, 0.0, 0.0, 75.0, 3.0, 35.0};
        double contributions[9] = {-1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0};
        double base_value = -1.0, sum;
        int i, clean = 1;
        EXPECT(fraud_model_explain_row(model, typed, 8, contributions, 7, &base_value),
               FRAUD_INVALID_ARGUMENT, "`contributions` holds 7 values; the model has 8");
        EXPECT(fraud_model_explain_row(model, typed, 8, contributions, 9, &base_value),
               FRAUD_INVALID_ARGUMENT, "holds 9 values");
        EXPECT(fraud_model_explain_row(model, typed, 8, contributions, 0, &base_value),
               FRAUD_INVALID_ARGUMENT, "holds 0 values");
        EXPECT(fraud_model_explain_row(model, typed, 7, contributions, 8, &base_value),
               FRAUD_INVALID_INPUT, "7 values for 8 features");
        EXPECT(fraud_model_explain_row(model, typed, 0, contributions, 8, &base_value),
               FRAUD_INVALID_INPUT, NULL);
        EXPECT(fraud_model_explain_row(NULL, typed, 8, contributions, 8, &base_value),
               FRAUD_NULL_PARAMETER, "`model`");
        EXPECT(fraud_model_explain_row(model, NULL, 8, contributions, 8, &base_value),
               FRAUD_NULL_PARAMETER, "`values`");
        EXPECT(fraud_model_explain_row(model, typed, 8, NULL, 8, &base_value),
               FRAUD_NULL_PARAMETER, "`contributions`");
        EXPECT(fraud_model_explain_row(model, typed, 8, contributions, 8, NULL),
               FRAUD_NULL_PARAMETER, "`base_value`");
        typed[1] = 24.0;
        EXPECT(fraud_model_explain_row(model, typed, 8, contributions, 8, &base_value),
               FRAUD_INVALID_INPUT, "transaction_hour");
        for (i = 0; i < 9; i++) {
            clean &= contributions[i] == -1.0;
        }
        TRUTH(clean && base_value == -1.0);
        typed[1] = NAN; /* a required field missing, refused as for scoring */
        EXPECT(fraud_model_explain_row(model, typed, 8, contributions, 8, &base_value),
               FRAUD_INVALID_INPUT, "this field is required");
        typed[1] = 14.0;
        EXPECT(fraud_model_explain_row(model, typed, 8, contributions, 8, &base_value), FRAUD_OK,
               NULL);
        EXPECT(fraud_model_predict_row(model, typed, 8, &out), FRAUD_OK, NULL);
        sum = base_value;
        for (i = 0; i < 8; i++) {
            sum += contributions[i];
        }
        TRUTH(fabs(sum - out.fraud_probability) <= 1e-9);
        TRUTH(contributions[8] == -1.0);
    }

    /* Names of statuses, including values this version does not know. */
    TRUTH(strcmp(fraud_status_name(FRAUD_OK), "FRAUD_OK") == 0);
    TRUTH(strcmp(fraud_status_name(FRAUD_PANIC), "FRAUD_PANIC") == 0);
    TRUTH(strcmp(fraud_status_name(4000000000u), "FRAUD_UNKNOWN_STATUS") == 0);
    TRUTH(strcmp(fraud_risk_level_name(FRAUD_RISK_HIGH), "HIGH") == 0);

    fraud_model_free(model);
    fraud_model_free(clone);
    printf("bad_calls: %d checks, %d failed\n", checks, failures);
    return failures != 0;
}

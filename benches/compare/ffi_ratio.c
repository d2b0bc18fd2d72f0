/*
 * What the C ABI's JSON call costs beside its typed call, for the comparison
 * harness (run.sh): fraud_model_predict_json on a request body against
 * fraud_model_predict_row on the same transaction's encoded values, in
 * alternate rounds, by this thread's CPU time (on a shared machine, wall
 * time also counts other processes). Prints one JSON object: the ratio of
 * the two medians, and the quartiles of the rounds' own ratios.
 *
 *   ./ffi_ratio model.fem rows.tsv   (rows.tsv from score_speed's ROWS_OUT)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fraud_engine.h"

#define MAX_ROWS 1000
#define MAX_FEATURES 64
#define ROUNDS 41
#define CALLS 20000

static double thread_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL ROWS\n", argv[0]);
        return 2;
    }
    struct FraudModel *model = NULL;
    if (fraud_model_load(argv[1], &model) != FRAUD_OK) {
        fprintf(stderr, "load: %s\n", fraud_last_error());
        return 1;
    }
    FILE *file = fopen(argv[2], "r");
    if (!file) {
        perror("rows");
        return 1;
    }
    static double values[MAX_ROWS][MAX_FEATURES];
    static char *bodies[MAX_ROWS];
    size_t n_values = 0, n_rows = 0;
    char *line = NULL;
    size_t capacity = 0;
    while (n_rows < MAX_ROWS && getline(&line, &capacity, file) > 0) {
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = '\0';
        char *body = tab + 1;
        body[strcspn(body, "\n")] = '\0';
        size_t n = 0;
        for (char *v = strtok(line, " "); v && n < MAX_FEATURES; v = strtok(NULL, " ")) values[n_rows][n++] = strtod(v, NULL);
        n_values = n;
        bodies[n_rows] = strdup(body);
        n_rows++;
    }
    free(line);
    fclose(file);
    if (n_rows == 0) {
        fprintf(stderr, "no rows\n");
        return 1;
    }
    double row_ns[ROUNDS], json_ns[ROUNDS], sink = 0.0;
    struct FraudPrediction out;
    for (int r = 0; r < ROUNDS; r++) {
        double start = thread_ns();
        for (int i = 0; i < CALLS; i++) {
            if (fraud_model_predict_row(model, values[i % n_rows], n_values, &out) != FRAUD_OK) return 1;
            sink += out.fraud_probability;
        }
        double middle = thread_ns();
        for (int i = 0; i < CALLS; i++) {
            if (fraud_model_predict_json(model, bodies[i % n_rows], &out) != FRAUD_OK) return 1;
            sink += out.fraud_probability;
        }
        row_ns[r] = (middle - start) / CALLS;
        json_ns[r] = (thread_ns() - middle) / CALLS;
    }
    /* Each round's own ratio, whose quartiles say how far one round
     * strays on this machine, beside the ratio of the medians. */
    double ratio[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) ratio[r] = json_ns[r] / row_ns[r];
    qsort(ratio, ROUNDS, sizeof(double), by_value);
    qsort(row_ns, ROUNDS, sizeof(double), by_value);
    qsort(json_ns, ROUNDS, sizeof(double), by_value);
    printf("{\"engine\": \"c-abi\", \"predict_row_cpu_us\": %.3f, \"predict_json_cpu_us\": %.3f, "
           "\"json_over_row\": %.3f, \"json_over_row_rounds\": [%.3f, %.3f], \"checksum\": %.3f}\n",
           row_ns[ROUNDS / 2] / 1e3, json_ns[ROUNDS / 2] / 1e3, json_ns[ROUNDS / 2] / row_ns[ROUNDS / 2],
           ratio[ROUNDS / 4], ratio[(3 * ROUNDS) / 4], sink);
    for (size_t i = 0; i < n_rows; i++) free(bodies[i]);
    fraud_model_free(model);
    return 0;
}

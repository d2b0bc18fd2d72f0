/*
 * Scores every transaction of a CSV file in one batch call and prints each
 * probability. The header row names the columns; the model's features are
 * looked up by name, other columns (an id, the label) are ignored. Plain
 * comma-separated values without quoting, as fraud-server's generator writes.
 *
 *   ./score_csv model.fem transactions.csv
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fraud_engine.h"

#define MAX_LINE 4096
#define MAX_COLUMNS 256

static int fail(const char *what, FraudStatus status) {
    fprintf(stderr, "%s failed: %s: %s\n", what, fraud_status_name(status), fraud_last_error());
    return 1;
}

/* Splits `line` in place at commas; returns the number of fields. */
static size_t split(char *line, char **fields) {
    size_t n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (;;) {
        char *comma = strchr(line, ',');
        if (n == MAX_COLUMNS) {
            return n;
        }
        fields[n++] = line;
        if (comma == NULL) {
            return n;
        }
        *comma = '\0';
        line = comma + 1;
    }
}

int main(int argc, char **argv) {
    FraudModel *model = NULL;
    FILE *file = NULL;
    FraudStatus status;
    char line[MAX_LINE];
    char *fields[MAX_COLUMNS];
    size_t n_features = 0, n_columns, n_rows = 0, capacity = 0, i, flagged = 0;
    size_t *column_of = NULL; /* CSV column of each model feature */
    FraudFeatureKind *kinds = NULL;
    const char **names = NULL;
    double *rows = NULL, *probabilities = NULL, threshold = 0.0;
    int result = 1;

    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL_FILE CSV_FILE\n", argv[0]);
        return 2;
    }
    status = fraud_model_load(argv[1], &model);
    if (status != FRAUD_OK) {
        return fail("fraud_model_load", status);
    }
    if ((status = fraud_model_feature_count(model, &n_features)) != FRAUD_OK ||
        (status = fraud_model_threshold(model, &threshold)) != FRAUD_OK) {
        result = fail("reading the model", status);
        goto done;
    }
    file = fopen(argv[2], "r");
    if (file == NULL || fgets(line, sizeof line, file) == NULL) {
        perror(argv[2]);
        goto done;
    }
    n_columns = split(line, fields);
    column_of = malloc(n_features * sizeof *column_of);
    kinds = malloc(n_features * sizeof *kinds);
    names = malloc(n_features * sizeof *names);
    if (column_of == NULL || kinds == NULL || names == NULL) {
        goto done;
    }
    for (i = 0; i < n_features; i++) {
        size_t c;
        if ((status = fraud_model_feature_name(model, i, &names[i])) != FRAUD_OK ||
            (status = fraud_model_feature_kind(model, i, &kinds[i])) != FRAUD_OK) {
            result = fail("reading the model", status);
            goto done;
        }
        for (c = 0; c < n_columns && strcmp(fields[c], names[i]) != 0; c++) {
        }
        if (c == n_columns) {
            fprintf(stderr, "%s: no column `%s`\n", argv[2], names[i]);
            goto done;
        }
        column_of[i] = c;
    }

    while (fgets(line, sizeof line, file) != NULL) {
        if (split(line, fields) != n_columns) {
            fprintf(stderr, "%s: row %zu does not have %zu columns\n", argv[2], n_rows + 1,
                    n_columns);
            goto done;
        }
        if (n_rows == capacity) {
            double *grown;
            capacity = capacity ? capacity * 2 : 64;
            grown = realloc(rows, capacity * n_features * sizeof *rows);
            if (grown == NULL) {
                goto done;
            }
            rows = grown;
        }
        for (i = 0; i < n_features; i++) {
            const char *text = fields[column_of[i]];
            double *slot = &rows[n_rows * n_features + i];
            if (kinds[i] == FRAUD_FEATURE_CATEGORICAL) {
                uint32_t code;
                status = fraud_model_category_code(model, names[i], text, &code, NULL);
                if (status != FRAUD_OK) {
                    result = fail("fraud_model_category_code", status);
                    goto done;
                }
                *slot = (double)code;
            } else if (*text == '\0') {
                *slot = NAN; /* missing: the model fills it in */
            } else {
                char *end;
                *slot = strtod(text, &end);
                if (*end != '\0') {
                    fprintf(stderr, "%s: row %zu: `%s` is not a number\n", argv[2], n_rows + 1,
                            text);
                    goto done;
                }
            }
        }
        n_rows++;
    }

    if (n_rows == 0) {
        fprintf(stderr, "%s: no rows to score\n", argv[2]);
        goto done;
    }
    probabilities = malloc(n_rows * sizeof *probabilities);
    if (probabilities == NULL) {
        goto done;
    }
    status = fraud_model_predict_batch(model, rows, n_rows, n_features, probabilities, n_rows);
    if (status != FRAUD_OK) {
        result = fail("fraud_model_predict_batch", status);
        goto done;
    }
    for (i = 0; i < n_rows; i++) {
        printf("row %zu: %.17g\n", i + 1, probabilities[i]);
        flagged += probabilities[i] >= threshold;
    }
    printf("scored %zu rows, %zu flagged at threshold %.17g\n", n_rows, flagged, threshold);
    result = 0;

done:
    if (file != NULL) {
        fclose(file);
    }
    free(probabilities);
    free(rows);
    free(names);
    free(kinds);
    free(column_of);
    fraud_model_free(model);
    return result;
}

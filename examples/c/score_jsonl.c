/*
 * Scores transactions given as JSON lines on stdin, one answer line per input
 * line on stdout:
 *
 *   ok <is_fraud> <fraud_probability> <risk_level> <warnings>
 *   error <status>: <message naming every bad field>
 *
 * The loop a C service starts from: a bad transaction is answered and the
 * loop goes on.
 *
 *   cc -std=c99 -Wall -Wextra -Werror -I include examples/c/score_jsonl.c \
 *      target/release/libfraud_engine.a -lpthread -ldl -lm -o score_jsonl
 *   ./score_jsonl model.fem < transactions.jsonl
 */
#include <stdio.h>
#include <string.h>

#include "fraud_engine.h"

/* Longest line read; a longer one is answered as an error, not cut. */
#define MAX_LINE 65536

int main(int argc, char **argv) {
    static char line[MAX_LINE];
    FraudModel *model = NULL;
    FraudStatus status;
    unsigned long number = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL.fem < transactions.jsonl\n", argv[0]);
        return 2;
    }
    status = fraud_model_load(argv[1], &model);
    if (status != FRAUD_OK) {
        fprintf(stderr, "cannot load %s: %s\n", argv[1], fraud_last_error());
        return 1;
    }
    while (fgets(line, sizeof line, stdin) != NULL) {
        size_t len = strlen(line);
        FraudPrediction p;
        number++;
        if (len > 0 && line[len - 1] != '\n' && !feof(stdin)) {
            int c;
            while ((c = getchar()) != '\n' && c != EOF) {
            }
            printf("error line %lu: longer than %d bytes\n", number, MAX_LINE - 1);
            continue;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            line[--len] = '\0';
        }
        if (len == 0) {
            continue;
        }
        status = fraud_model_predict_json_len(model, line, len, &p);
        if (status == FRAUD_OK) {
            /* %.17g prints a double exactly: reading it back gives the same bits. */
            printf("ok %d %.17g %s %u\n", (int)p.is_fraud, p.fraud_probability,
                   fraud_risk_level_name(p.risk_level), p.warnings);
        } else {
            printf("error %s: %s\n", fraud_status_name(status), fraud_last_error());
        }
    }
    fraud_model_free(model);
    return 0;
}

/* op_table.h — the rows of the op table and what a row may read of a case.
 *
 * A row runs one op on one case's inputs and parameters, in its allocating
 * form (run_new) and, if the op has one, its _into form (run_into). The
 * harness (test_op_table.c) supplies the inputs in several layouts and
 * compares the result with the reference. README.md describes the files.
 */
#ifndef MT_OP_TABLE_H
#define MT_OP_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "minitensor/minitensor.h"

typedef struct op_case op_case;

/* Input i (0-based) of the case, in the layout under test. */
const mt_tensor *op_in(const op_case *c, int i);
int op_n_in(const op_case *c);

/* Parameters from the case's "key=value;…" string, or dflt if absent.
 * A present but malformed value fails the test. */
bool op_has(const op_case *c, const char *key);
int64_t op_int(const op_case *c, const char *key, int64_t dflt);
double op_float(const op_case *c, const char *key, double dflt);
const char *op_str(const op_case *c, const char *key, const char *dflt);
/* Comma-separated ints into buf (at most max); the count, or -1 if absent. */
int op_ints(const op_case *c, const char *key, int64_t *buf, int max);

typedef mt_status (*op_new_fn)(const op_case *c, mt_tensor **out);
typedef mt_status (*op_into_fn)(const op_case *c, mt_tensor *out);

typedef struct op_row {
    const char *op;        /* the case's op=… name */
    op_new_fn run_new;
    op_into_fn run_into;   /* NULL: the op has no _into form */
    double atol, rtol;     /* 0: the defaults, 1e-6 and 1e-5 */
} op_row;

#endif

/* test_op_table.c — every op of the table against its PyTorch/NumPy
 * references (README.md beside this file).
 *
 * Usage: test_op_table REFS.safetensors ...  Each case runs four ways:
 * allocating form on contiguous and on strided inputs, _into form into a
 * contiguous and into a strided output (pre-filled with a sentinel). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "op_table.h"

extern const op_row op_rows_matmul[];
extern const op_row op_rows_elementwise[];
extern const op_row op_rows_index[];
extern const op_row op_rows_conv[];
extern const op_row op_rows_reduce[];
extern const op_row op_rows_norm[];
extern const op_row op_rows_attention[];
extern const op_row op_rows_conv3d[];
extern const op_row op_rows_grid_sample[];

static const op_row *const tables[] = {
    op_rows_matmul,
    op_rows_elementwise,
    op_rows_index,
    op_rows_conv,
    op_rows_reduce,
    op_rows_norm,
    op_rows_attention,
    op_rows_conv3d,
    op_rows_grid_sample,
};

#define MAX_INPUTS 8
#define MAX_PARAMS 16
#define SENTINEL -7777.25f

struct op_case {
    char key[24];
    char text[512];                    /* "op=…;k=v;…", split in place */
    const char *op;
    const char *keys[MAX_PARAMS], *values[MAX_PARAMS];
    int n_params;
    mt_tensor *inputs[MAX_INPUTS];     /* contiguous, owned */
    mt_tensor *strided[MAX_INPUTS];    /* same values, other strides */
    const mt_tensor *const *current;   /* the layout under test */
    int n_in;
};

/* ---- what rows read ------------------------------------------------------ */

const mt_tensor *op_in(const op_case *c, int i)
{
    if (i < 0 || i >= c->n_in)
        fail_msg("case %s (%s): input %d requested, the case has %d", c->key, c->op, i,
                 c->n_in);
    return c->current[i];
}

int op_n_in(const op_case *c) { return c->n_in; }

static const char *param(const op_case *c, const char *key)
{
    for (int i = 0; i < c->n_params; i++)
        if (strcmp(c->keys[i], key) == 0)
            return c->values[i];
    return NULL;
}

bool op_has(const op_case *c, const char *key) { return param(c, key) != NULL; }

int64_t op_int(const op_case *c, const char *key, int64_t dflt)
{
    const char *v = param(c, key);
    if (!v)
        return dflt;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end)
        fail_msg("case %s: %s=%s is not an integer", c->key, key, v);
    return x;
}

double op_float(const op_case *c, const char *key, double dflt)
{
    const char *v = param(c, key);
    if (!v)
        return dflt;
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end)
        fail_msg("case %s: %s=%s is not a number", c->key, key, v);
    return x;
}

const char *op_str(const op_case *c, const char *key, const char *dflt)
{
    const char *v = param(c, key);
    return v ? v : dflt;
}

int op_ints(const op_case *c, const char *key, int64_t *buf, int max)
{
    const char *v = param(c, key);
    if (!v)
        return -1;
    int n = 0;
    while (*v) {
        char *end;
        long long x = strtoll(v, &end, 10);
        if (end == v || (*end && *end != ',') || n == max)
            fail_msg("case %s: %s is not a list of at most %d integers", c->key, key, max);
        buf[n++] = x;
        v = *end ? end + 1 : end;
    }
    return n;
}

/* ---- loading a case ---------------------------------------------------------- */

static void parse_params(op_case *c, const char *text, size_t len)
{
    if (len >= sizeof c->text)
        fail_msg("case %s: parameters too long", c->key);
    memcpy(c->text, text, len);
    c->text[len] = '\0';
    c->op = NULL;
    c->n_params = 0;
    for (char *item = strtok(c->text, ";"); item; item = strtok(NULL, ";")) {
        char *eq = strchr(item, '=');
        if (!eq || c->n_params == MAX_PARAMS)
            fail_msg("case %s: bad parameter \"%s\"", c->key, item);
        *eq = '\0';
        if (strcmp(item, "op") == 0) {
            c->op = eq + 1;
        } else {
            c->keys[c->n_params] = item;
            c->values[c->n_params++] = eq + 1;
        }
    }
    if (!c->op)
        fail_msg("case %s: no op=", c->key);
}

/* A copy of t stored with other strides: rank >= 2 transposed (dims reversed
 * in memory), rank 1 every other element. */
static mt_tensor *strided_copy(const mt_tensor *t)
{
    mt_tensor *base = NULL, *view = NULL;
    if (t->rank >= 2) {
        int64_t shape[MT_MAX_RANK];
        int perm[MT_MAX_RANK];
        for (int d = 0; d < t->rank; d++) {
            shape[d] = t->shape[t->rank - 1 - d];
            perm[d] = t->rank - 1 - d;
        }
        assert_int_equal(mt_tensor_zeros(t->dtype, t->rank, shape, &base), MT_OK);
        assert_int_equal(mt_permute(base, perm, &view), MT_OK);
    } else if (t->rank == 1) {
        int64_t n = 2 * t->shape[0];
        assert_int_equal(mt_tensor_zeros(t->dtype, 1, &n, &base), MT_OK);
        assert_int_equal(mt_slice(base, 0, 0, n, 2, &view), MT_OK);
    } else {
        assert_int_equal(mt_tensor_contiguous(t, &view), MT_OK);
        return view;
    }
    mt_tensor_free(base);   /* the view keeps it alive */
    assert_int_equal(mt_tensor_copy_into(t, view), MT_OK);
    return view;
}

static mt_tensor *load(const mt_safetensors *st, const char *name)
{
    mt_tensor *stored = NULL, *copy = NULL;
    if (mt_safetensors_get(st, name, &stored) != MT_OK)
        return NULL;
    assert_int_equal(mt_tensor_contiguous(stored, &copy), MT_OK);  /* aligned, owned */
    mt_tensor_free(stored);
    return copy;
}

static void case_free(op_case *c)
{
    for (int i = 0; i < c->n_in; i++) {
        mt_tensor_free(c->inputs[i]);
        mt_tensor_free(c->strided[i]);
    }
    c->n_in = 0;
}

/* ---- comparing --------------------------------------------------------------- */

static double element(const mt_tensor *t, const int64_t *index)
{
    int64_t off = 0;
    for (int d = 0; d < t->rank; d++)
        off += index[d] * t->stride[d];
    switch (t->dtype) {
    case MT_DTYPE_F32: return ((const float *)t->data)[off];
    case MT_DTYPE_I64: return (double)((const int64_t *)t->data)[off];
    case MT_DTYPE_I32: return ((const int32_t *)t->data)[off];
    case MT_DTYPE_BOOL:
    case MT_DTYPE_U8: return ((const uint8_t *)t->data)[off];
    default: fail_msg("dtype %s not compared", mt_dtype_name(t->dtype));
    }
    return 0;
}

static bool next_index(const mt_tensor *t, int64_t *index)
{
    for (int d = t->rank - 1; d >= 0; d--) {
        if (++index[d] < t->shape[d])
            return true;
        index[d] = 0;
    }
    return false;
}

static void compare(const op_case *c, const op_row *row, const char *how,
                    const mt_tensor *got, const mt_tensor *want)
{
    char gs[160], ws[160];
    if (got->dtype != want->dtype || !mt_tensor_same_shape(got, want))
        fail_msg("case %s %s, %s: result %s %s, expected %s %s", c->key, c->op,
                 how, mt_dtype_name(got->dtype),
                 mt_tensor_describe(got, gs, sizeof gs), mt_dtype_name(want->dtype),
                 mt_tensor_describe(want, ws, sizeof ws));
    if (mt_tensor_numel(want) == 0)
        return;
    double atol = row->atol > 0 ? row->atol : 1e-6, rtol = row->rtol > 0 ? row->rtol : 1e-5;
    int64_t index[MT_MAX_RANK] = {0};
    int64_t flat = 0;
    do {
        double g = element(got, index), w = element(want, index);
        bool ok = want->dtype == MT_DTYPE_F32
                      ? (isnan(w) ? isnan(g)
                         : w == 0 && g == 0 ? signbit(g) == signbit(w)
                         : (g == w || fabs(g - w) <= atol + rtol * fabs(w)))
                      : g == w;
        if (!ok)
            fail_msg("case %s %s, %s: element %lld is %.9g, expected %.9g (atol %g, rtol %g)",
                     c->key, c->op, how, (long long)flat, g, w, atol, rtol);
        flat++;
    } while (next_index(want, index));
}

/* A tensor of want's dtype and shape filled with the sentinel; strided if asked. */
static mt_tensor *sentinel_out(const mt_tensor *want, bool strided)
{
    mt_tensor *t = NULL;
    assert_int_equal(mt_tensor_zeros(want->dtype, want->rank, want->shape, &t), MT_OK);
    if (strided) {
        mt_tensor *s = strided_copy(t);
        mt_tensor_free(t);
        t = s;
    }
    if (t->dtype == MT_DTYPE_F32) {
        assert_int_equal(mt_tensor_fill(t, SENTINEL), MT_OK);
    } else if (mt_tensor_numel(t) > 0) {
        int64_t index[MT_MAX_RANK] = {0};
        size_t size = mt_dtype_size(t->dtype);
        do {
            int64_t off = 0;
            for (int d = 0; d < t->rank; d++)
                off += index[d] * t->stride[d];
            memset((char *)t->data + off * (int64_t)size, 0x5A, size);
        } while (next_index(t, index));
    }
    return t;
}

/* ---- running ----------------------------------------------------------------- */

typedef struct row_ref { const op_row *row; int hits; } row_ref;
static row_ref rows[512];
static int n_rows;

static void collect_rows(void)
{
    if (n_rows)
        return;
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const op_row *r = tables[t]; r->op; r++) {
            for (int i = 0; i < n_rows; i++)
                if (strcmp(rows[i].row->op, r->op) == 0)
                    fail_msg("op %s has two rows", r->op);
            assert_true(n_rows < (int)(sizeof rows / sizeof rows[0]));
            rows[n_rows++] = (row_ref){r, 0};
        }
}

static row_ref *find_row(const char *op)
{
    for (int i = 0; i < n_rows; i++)
        if (strcmp(rows[i].row->op, op) == 0)
            return &rows[i];
    return NULL;
}

static void run_case(op_case *c, const op_row *row, const mt_tensor *want)
{
    static const char *const layouts[] = {"contiguous inputs", "strided inputs"};
    for (int layout = 0; layout < 2; layout++) {
        c->current = (const mt_tensor *const *)(layout ? c->strided : c->inputs);
        mt_tensor *got = NULL;
        mt_status s = row->run_new(c, &got);
        if (s != MT_OK)
            fail_msg("case %s %s (%s): %s: %s", c->key, c->op, layouts[layout],
                     mt_status_name(s), mt_last_error());
        compare(c, row, layouts[layout], got, want);
        mt_tensor_free(got);
    }
    if (!row->run_into)
        return;
    c->current = (const mt_tensor *const *)c->strided;
    for (int strided = 0; strided < 2; strided++) {
        const char *how = strided ? "_into a strided out" : "_into a contiguous out";
        mt_tensor *out = sentinel_out(want, strided);
        mt_status s = row->run_into(c, out);
        if (s != MT_OK)
            fail_msg("case %s %s (%s): %s: %s", c->key, c->op, how, mt_status_name(s),
                     mt_last_error());
        compare(c, row, how, out, want);
        mt_tensor_free(out);
    }
}

static void test_file(void **state)
{
    const char *path = *state;
    collect_rows();
    mt_safetensors *st = NULL;
    if (mt_safetensors_open(path, &st) != MT_OK)
        fail_msg("%s", mt_last_error());
    size_t n_cases = mt_safetensors_metadata_count(st);
    assert_true(n_cases > 0);
    for (size_t i = 0; i < n_cases; i++) {
        op_case c = {0};
        snprintf(c.key, sizeof c.key, "%04zu", i);
        const char *text;
        size_t len;
        if (mt_safetensors_metadata_get(st, c.key, &text, &len) != MT_OK)
            fail_msg("%s: %s", path, mt_last_error());
        parse_params(&c, text, len);
        row_ref *ref = find_row(c.op);
        if (!ref)
            fail_msg("%s case %s: no row for op %s", path, c.key, c.op);
        char name[32];
        for (;;) {
            snprintf(name, sizeof name, "%s.in%d", c.key, c.n_in);
            mt_tensor *t = load(st, name);
            if (!t)
                break;
            assert_true(c.n_in < MAX_INPUTS);
            c.inputs[c.n_in] = t;
            c.strided[c.n_in++] = strided_copy(t);
        }
        snprintf(name, sizeof name, "%s.out0", c.key);
        mt_tensor *want = load(st, name);
        if (!want)
            fail_msg("%s case %s: no %s", path, c.key, name);
        run_case(&c, ref->row, want);
        ref->hits++;
        mt_tensor_free(want);
        case_free(&c);
    }
    mt_safetensors_close(st);
}

/* Runs last: a row no reference file exercises is a row nobody tested. */
static void test_every_row_has_cases(void **state)
{
    (void)state;
    collect_rows();
    int missing = 0;
    for (int i = 0; i < n_rows; i++)
        if (!rows[i].hits) {
            print_error("op %s has a row but no case\n", rows[i].row->op);
            missing++;
        }
    assert_int_equal(missing, 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s REFS.safetensors ...\n", argv[0]);
        return 2;
    }
    struct CMUnitTest *tests = calloc((size_t)argc, sizeof *tests);
    if (!tests)
        return 2;
    for (int i = 1; i < argc; i++)
        tests[i - 1] = (struct CMUnitTest){argv[i], test_file, NULL, NULL, argv[i]};
    tests[argc - 1] = (struct CMUnitTest){"every row has cases", test_every_row_has_cases,
                                          NULL, NULL, NULL};
    int failed = _cmocka_run_group_tests("op_table", tests, (size_t)argc, NULL, NULL);
    free(tests);
    return failed ? 1 : 0;
}

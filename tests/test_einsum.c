/* test_einsum.c — mt_einsum's errors (values: the op table's einsum cases,
 * tests/op_table/cases_matmul.py): each bad equation or operand fails with
 * the status and message naming the equation, the letter and the shapes,
 * writes nothing and leaks nothing, also when allocations fail. */
#include "test_util.h"

static mt_tensor *zeros(int rank, const int64_t *shape)
{
    mt_tensor *t;
    assert_int_equal(mt_tensor_zeros(MT_DTYPE_F32, rank, shape, &t), MT_OK);
    return t;
}

/* mt_einsum(eq, operands) fails with status and exactly msg; *out untouched. */
static void expect_fail(const char *eq, int n, const mt_tensor *const *x, mt_status status,
                        const char *msg)
{
    mt_tensor *sentinel = (mt_tensor *)(uintptr_t)0x1, *out = sentinel;
    assert_int_equal(mt_einsum(eq, n, x, &out), status);
    assert_ptr_equal(out, sentinel);
    assert_string_equal(mt_last_error(), msg);
}

static void test_equation_errors(void **state)
{
    (void)state;
    mt_tensor *a = zeros(2, (int64_t[]){2, 3}), *b = zeros(2, (int64_t[]){4, 5}),
              *c = zeros(3, (int64_t[]){2, 3, 4}), *d = zeros(3, (int64_t[]){3, 4, 5});
    const mt_tensor *ab[3] = {a, b, a}, *aa[2] = {a, a}, *cd[2] = {c, d};
    expect_fail("ij,j#->i", 2, aa, MT_ERR_INVALID_ARGUMENT,
                "einsum 'ij,j#->i': invalid character '#' in operand 1 (subscripts are "
                "letters a-z, A-Z; '...' and one '->')");
    expect_fail("i.j", 1, aa, MT_ERR_INVALID_ARGUMENT,
                "einsum 'i.j': found '.' in operand 0 that is not part of an ellipsis");
    expect_fail("...i...", 1, aa, MT_ERR_INVALID_ARGUMENT,
                "einsum '...i...': operand 0 has a second ellipsis");
    expect_fail("ij->i->", 1, aa, MT_ERR_INVALID_ARGUMENT,
                "einsum 'ij->i->': more than one '->'");
    expect_fail("ij,jk", 1, aa, MT_ERR_INVALID_ARGUMENT,
                "einsum 'ij,jk': the equation has 2 operands but 1 is given");
    expect_fail("ij", 2, aa, MT_ERR_INVALID_ARGUMENT,
                "einsum 'ij': the equation has 1 operands but 2 are given");
    /* three or more: the pairwise step that fails, and the operand */
    const mt_tensor *abb[3] = {a, b, b};
    expect_fail("ij,jk,kl", 3, abb, MT_ERR_SHAPE,
                "einsum 'ij,jk,kl': at operand 1, the pair 'ij,jk->ik' (it is operand 1 below): "
                "einsum 'ij,jk->ik': "
                "subscript j is 3 in "
                "operand 0 [2,3] but 4 in operand 1 [4,5]");
    expect_fail("ij,j#,kl", 3, abb, MT_ERR_INVALID_ARGUMENT,
                "einsum 'ij,j#,kl': operand 1's term is not letters and at most one '...' "
                "(or is longer than 60)");
    expect_fail("ij,jk", 3, abb, MT_ERR_INVALID_ARGUMENT,
                "einsum 'ij,jk': the equation has 2 operands but 3 are given");
    const mt_tensor *many[33];
    for (int k = 0; k < 33; k++)
        many[k] = a;
    expect_fail("i,i,i", 33, many, MT_ERR_INVALID_ARGUMENT,
                "einsum 'i,i,i': 33 operands, at most 32");
    expect_fail("ij,jk->ik", 2, ab, MT_ERR_SHAPE,
                "einsum 'ij,jk->ik': subscript j is 3 in operand 0 [2,3] but 4 in operand 1 "
                "[4,5]");
    expect_fail("ii->i", 1, aa, MT_ERR_SHAPE,
                "einsum 'ii->i': subscript i is repeated in operand 0 [2,3] with sizes 2 and 3");
    mt_tensor *v = zeros(1, (int64_t[]){3}), *m = zeros(2, (int64_t[]){1, 3});
    expect_fail("i,ii->i", 2, (const mt_tensor *[]){v, m}, MT_ERR_SHAPE,
                "einsum 'i,ii->i': subscript i is repeated in operand 1 [1,3] with sizes 1 "
                "and 3");
    mt_tensor_free(v);
    mt_tensor_free(m);
    expect_fail("ij->k", 1, aa, MT_ERR_INVALID_ARGUMENT,
                "einsum 'ij->k': output subscript k does not appear in any operand");
    expect_fail("ij->ii", 1, aa, MT_ERR_INVALID_ARGUMENT,
                "einsum 'ij->ii': output subscript i appears more than once");
    expect_fail("ijk", 1, aa, MT_ERR_SHAPE,
                "einsum 'ijk': operand 0 [2,3] has 2 dims but its term has 3 subscripts and "
                "no ellipsis");
    expect_fail("...ijk", 1, aa, MT_ERR_SHAPE,
                "einsum '...ijk': operand 0 [2,3] has 2 dims but its term has 3 subscripts");
    expect_fail("...ij,...jk", 2, cd, MT_ERR_SHAPE,
                "einsum '...ij,...jk': ellipsis dim 0 is 2 in operand 0 [2,3,4] but 3 in "
                "operand 1 [3,4,5]");
    mt_tensor *e = zeros(5, (int64_t[]){1, 1, 1, 1, 1});
    expect_fail("abcde,fghij", 2, (const mt_tensor *[]){e, e}, MT_ERR_SHAPE,
                "einsum 'abcde,fghij': the result would have 10 dims, more than 8");
    /* broadcast views whose sizes multiply past int64 */
    mt_tensor *one = zeros(2, (int64_t[]){1, 1}), *wide, *tall;
    assert_ok(mt_expand(one, 2, (int64_t[]){1, INT64_C(1) << 40}, &wide));
    assert_ok(mt_expand(one, 2, (int64_t[]){INT64_C(1) << 40, 1}, &tall));
    expect_fail("ij,ij->", 2, (const mt_tensor *[]){wide, tall}, MT_ERR_OVERFLOW,
                "einsum 'ij,ij->': the subscripts' sizes multiply past 2^63 ([1,1099511627776] "
                "x [1099511627776,1])");
    mt_tensor_free(wide);
    mt_tensor_free(tall);
    mt_tensor_free(one);
    expect_fail(NULL, 1, aa, MT_ERR_INVALID_ARGUMENT,
                "einsum: equation or operands is NULL");
    expect_fail("ij", 1, NULL, MT_ERR_INVALID_ARGUMENT,
                "einsum: equation or operands is NULL");
    expect_fail("ij", 0, aa, MT_ERR_INVALID_ARGUMENT,
                "einsum 'ij': 0 operands, expected at least 1");
    mt_tensor_free(a);
    mt_tensor_free(b);
    mt_tensor_free(c);
    mt_tensor_free(d);
    mt_tensor_free(e);
}

static void test_operand_and_out_errors(void **state)
{
    (void)state;
    mt_tensor *a = zeros(2, (int64_t[]){2, 3}), *i, *o = zeros(2, (int64_t[]){3, 2});
    assert_int_equal(mt_tensor_zeros(MT_DTYPE_I64, 2, (int64_t[]){2, 3}, &i), MT_OK);
    expect_fail("ij,jk", 2, (const mt_tensor *[]){a, NULL}, MT_ERR_INVALID_ARGUMENT,
                "einsum 'ij,jk': operand 1 is NULL");
    expect_fail("ij->ji", 1, (const mt_tensor *[]){i}, MT_ERR_DTYPE,
                "einsum 'ij->ji': operand 0 [2,3] has dtype I64, not F32 (convert with "
                "mt_tensor_to_f32)");
    assert_int_equal(mt_einsum("ij->ji", 1, (const mt_tensor *[]){a}, NULL),
                     MT_ERR_INVALID_ARGUMENT);
    assert_string_equal(mt_last_error(), "einsum 'ij->ji': out is NULL");
    /* _into: the result's shape, no overlap; out untouched on failure */
    mt_tensor_fill(o, 7.f);
    assert_int_equal(mt_einsum_into("ij", 1, (const mt_tensor *[]){a}, o), MT_ERR_SHAPE);
    assert_string_equal(mt_last_error(), "einsum 'ij': out is [3,2], result is [2,3]");
    mt_tensor *ot;
    assert_int_equal(mt_transpose(o, 0, 1, &ot), MT_OK);
    assert_int_equal(mt_einsum_into("ij->ji", 1, (const mt_tensor *[]){ot}, o),
                     MT_ERR_INVALID_ARGUMENT);
    assert_string_equal(mt_last_error(), "einsum 'ij->ji': out [3,2] overlaps operand 0 [2,3]");
    assert_int_equal(mt_einsum_into("ij,jk", 2, (const mt_tensor *[]){a, a}, o),
                     MT_ERR_SHAPE);
    for (int k = 0; k < 6; k++)
        assert_true(((const float *)o->data)[k] == 7.f);
    mt_tensor_free(ot);
    mt_tensor_free(a);
    mt_tensor_free(i);
    mt_tensor_free(o);
}

/* Every allocation failing in turn: a clean MT_ERR_OUT_OF_MEMORY, no leak,
 * on the paths with temporaries (a sum, a copy for strides that do not
 * merge, an output that does not merge). */
static void test_allocation_failures(void **state)
{
    (void)state;
    mt_tensor *a = zeros(3, (int64_t[]){2, 3, 4}), *b = zeros(3, (int64_t[]){4, 3, 5}), *at;
    assert_int_equal(mt_transpose(a, 0, 2, &at), MT_OK);   /* [4,3,2] */
    mt_tensor *c = zeros(2, (int64_t[]){4, 5});
    /* a sum; b copied (its j,k do not merge); a copied and the output
     * through a temporary ([j,i] do not merge in either); a strided input */
    /* ... and a chain of three (its intermediate freed on every failure) */
    const char *eqs[] = {"ijk,klm->jm", "ijk,kjm->mi", "ijk,kl->jli", "kji,kjm->ijm",
                         "ijk->ki", "ijk,klm,nm->jn"};
    const mt_tensor *ops[][3] = {{a, b}, {a, b}, {a, c}, {at, b}, {a}, {a, b, c}};
    for (size_t e = 0; e < sizeof eqs / sizeof *eqs; e++) {
        int n = ops[e][2] ? 3 : ops[e][1] ? 2 : 1;
        bool passed = false;
        for (long fail = 0; fail < 40 && !passed; fail++) {
            alloc_probe p;
            mt_tensor *out = NULL;
            probe_install(&p, fail);
            mt_status s = mt_einsum(eqs[e], n, ops[e], &out);
            if (s == MT_OK) {
                passed = true;
                mt_tensor_free(out);
            } else {
                assert_int_equal(s, MT_ERR_OUT_OF_MEMORY);
                assert_null(out);
            }
            probe_remove();
            assert_int_equal(p.live, 0);
        }
        assert_true(passed);
    }
    mt_tensor_free(at);
    mt_tensor_free(a);
    mt_tensor_free(b);
    mt_tensor_free(c);
}

/* mt_einsum_shape: PyTorch's result shapes (torch.einsum(...).shape) */
static void test_shape(void **state)
{
    (void)state;
    mt_tensor *a = zeros(3, (int64_t[]){2, 3, 4}), *b = zeros(3, (int64_t[]){1, 4, 5}),
              *c = zeros(2, (int64_t[]){3, 3});
    int rank = -1;
    int64_t shape[MT_MAX_RANK] = {0};
    assert_ok(mt_einsum_shape("bij,bjk->bki", 2, (const mt_tensor *[]){a, b}, &rank, shape));
    assert_int_equal(rank, 3);
    assert_int_equal(shape[0], 2);
    assert_int_equal(shape[1], 5);
    assert_int_equal(shape[2], 3);
    assert_ok(mt_einsum_shape("...ij,...jk", 2, (const mt_tensor *[]){a, b}, &rank, shape));
    assert_int_equal(rank, 3);
    assert_int_equal(shape[0], 2);
    assert_int_equal(shape[1], 3);
    assert_int_equal(shape[2], 5);
    assert_ok(mt_einsum_shape("ii", 1, (const mt_tensor *[]){c}, &rank, shape));
    assert_int_equal(rank, 0);
    /* a chain: torch.einsum("bij,bjk,kl->bli", [2,3,4], [1,4,5], [5,3]) is [2,3,3] */
    mt_tensor *d = zeros(2, (int64_t[]){5, 3});
    assert_ok(mt_einsum_shape("bij,bjk,kl->bli", 3, (const mt_tensor *[]){a, b, d}, &rank,
                              shape));
    assert_int_equal(rank, 3);
    assert_int_equal(shape[0], 2);
    assert_int_equal(shape[1], 3);
    assert_int_equal(shape[2], 3);
    mt_tensor_free(d);
    assert_int_equal(mt_einsum_shape("ij", 1, (const mt_tensor *[]){c}, NULL, shape),
                     MT_ERR_INVALID_ARGUMENT);
    assert_string_equal(mt_last_error(), "einsum 'ij': rank or shape is NULL");
    mt_tensor_free(a);
    mt_tensor_free(b);
    mt_tensor_free(c);
}

/* A chain that left to right would hold a 10-dim intermediate runs in
 * another order: its shape (torch.einsum(...).shape is [2, 3]), the step
 * named in a failure, and its intermediates freed on every allocation
 * failure. (Its values against torch: the op table's einsum cases.) */
static void test_reordered_chain(void **state)
{
    (void)state;
    const char *eq = "abcde,fghij,af,bg,ch,di,ej->aj";
    mt_tensor *big = zeros(5, (int64_t[]){2, 2, 2, 2, 2}),
              *big_j3 = zeros(5, (int64_t[]){2, 2, 2, 2, 3}),
              *small = zeros(2, (int64_t[]){2, 2}), *ej = zeros(2, (int64_t[]){2, 3}),
              *ej_bad = zeros(2, (int64_t[]){3, 3});
    const mt_tensor *x[7] = {big, big_j3, small, small, small, small, ej};
    int rank = -1;
    int64_t shape[MT_MAX_RANK] = {0};
    assert_ok(mt_einsum_shape(eq, 7, x, &rank, shape));
    assert_int_equal(rank, 2);
    assert_int_equal(shape[0], 2);
    assert_int_equal(shape[1], 3);
    for (long fail = 0;; fail++) {
        alloc_probe p;
        mt_tensor *out = NULL;
        probe_install(&p, fail);
        mt_status s = mt_einsum(eq, 7, x, &out);
        probe_remove();
        assert_int_equal(p.live, s == MT_OK ? 2 : 0);  /* out: its struct and data */
        if (s == MT_OK) {
            assert_int_equal(out->shape[1], 3);
            mt_tensor_free(out);
            break;
        }
        assert_int_equal(s, MT_ERR_OUT_OF_MEMORY);
        assert_true(fail < 100);
    }
    /* no order keeps every step within 8 dims (the output has 10): the
     * search gives up and the left-to-right step says why */
    mt_tensor *one = zeros(1, (int64_t[]){1});
    const mt_tensor *ones[10] = {one, one, one, one, one, one, one, one, one, one};
    expect_fail("a,b,c,d,e,f,g,h,i,j->abcdefghij", 10, ones, MT_ERR_SHAPE,
                "einsum 'a,b,c,d,e,f,g,h,i,j->abcdefghij': at operand 8, the pair "
                "'abcdefgh,i->abcdefghi' (it is operand 1 below): einsum "
                "'abcdefgh,i->abcdefghi': the output has more than 8 subscripts");
    mt_tensor_free(one);
    x[6] = ej_bad; /* e is 2 in operand 0, 3 here */
    expect_fail(eq, 7, x, MT_ERR_SHAPE,
                "einsum 'abcde,fghij,af,bg,ch,di,ej->aj': at step 4 of 6, the pair "
                "'abehi,ej->abhij' (its operands 0 and 1 below): einsum "
                "'abehi,ej->abhij': subscript e is 2 in operand 0 [2,2,2,2,2] but 3 in "
                "operand 1 [3,3]");
    mt_tensor *all[] = {big, big_j3, small, ej, ej_bad};
    for (int k = 0; k < 5; k++)
        mt_tensor_free(all[k]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equation_errors),
        cmocka_unit_test(test_operand_and_out_errors),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_reordered_chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_mnist_fixtures.c — makes the weight files test_mnist_cli.sh (and
 * test_fashion_cli.sh) feeds to the example programs, with minitensor's
 * safetensors writer, and compares logit files.
 *
 *   test_mnist_fixtures torch   SRC OUT         d1_w, d2_w transposed to PyTorch
 *                                               (out,in), plus an unused tensor
 *                                               and __metadata__
 *   test_mnist_fixtures reshape SRC OUT NAME D0 [D1 [D2 [D3]]]
 *                                               NAME replaced by zeros [D0,…]
 *   test_mnist_fixtures drop    SRC OUT NAME    every tensor but NAME
 *   test_mnist_fixtures set     SRC OUT NAME INDEX VALUE
 *                                               NAME's flat element INDEX (every
 *                                               element if INDEX is -1) set to
 *                                               VALUE (strtof: nan, inf, 3e38)
 *   test_mnist_fixtures compare A.f32 B.f32 TOL max |a - b| of two little-endian
 *                                               float32 files; exit 1 if > TOL
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minitensor/minitensor.h"

#define MAX_TENSORS 16

static int fail(void)
{
    fprintf(stderr, "test_mnist_fixtures: %s\n", mt_last_error());
    return 1;
}

/* Copy SRC to OUT, changing tensors on the way: transpose 2-D ones
 * (`transpose`), replace `name` by zeros of shape (rank, dims), or drop it
 * (rank < 0). */
typedef struct poke { long index; float value; } poke;

static int rewrite(const char *src, const char *out, bool transpose, const char *name,
                   int rank, const int64_t *dims, const poke *set)
{
    mt_safetensors *st = NULL;
    if (mt_safetensors_open(src, &st))
        return fail();
    size_t n = mt_safetensors_count(st), k = 0;
    mt_tensor *t[MAX_TENSORS + 1] = {0};
    mt_safetensors_item items[MAX_TENSORS + 1];
    mt_status s = n > MAX_TENSORS ? mt_fail(MT_ERR_INVALID_ARGUMENT, "too many tensors")
                                  : MT_OK;
    for (size_t i = 0; !s && i < n; i++) {
        mt_safetensors_entry e;
        mt_tensor *orig = NULL, *view = NULL;
        if ((s = mt_safetensors_info(st, i, &e)))
            break;
        bool named = name && !strcmp(e.name, name);
        if (named && rank < 0)
            continue;
        if (named && !set)
            s = mt_tensor_zeros(MT_DTYPE_F32, rank, dims, &t[k]);
        else if (!(s = mt_safetensors_get_at(st, i, &orig)) && transpose && orig->rank == 2 &&
                 !(s = mt_transpose(orig, 0, 1, &view)))
            s = mt_tensor_contiguous(view, &t[k]);
        else if (!s)
            s = mt_tensor_contiguous(orig, &t[k]);
        mt_tensor_free(view);
        mt_tensor_free(orig);
        if (!s && named && set) {   /* contiguous F32 weights */
            float *p = t[k]->data;
            for (int64_t j = 0; j < mt_tensor_numel(t[k]); j++)
                if (set->index < 0 || j == set->index)
                    p[j] = set->value;
        }
        items[k] = (mt_safetensors_item){e.name, e.name_len, t[k]};
        k++;
    }
    mt_safetensors_kv meta = {"format", "pt", 0, 0};
    if (!s && transpose) {   /* PyTorch files carry extras the model must ignore */
        if (!(s = mt_tensor_full(1, (int64_t[]){2}, 1.0f, &t[k]))) {
            items[k] = (mt_safetensors_item){"num_batches_tracked", 0, t[k]};
            k++;
        }
    }
    if (!s)
        s = mt_safetensors_save(out, items, k, transpose ? &meta : NULL, transpose ? 1 : 0);
    for (size_t i = 0; i < k; i++)
        mt_tensor_free(t[i]);
    mt_safetensors_close(st);
    return s ? fail() : 0;
}

static float *read_f32(const char *path, long *count)
{
    FILE *f = fopen(path, "rb");
    float *v = NULL;
    long n = 0;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n % 4 == 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (v = malloc((size_t)n + 4)) &&
        fread(v, 1, (size_t)n, f) == (size_t)n) {
        for (long i = 0; i < n / 4; i++) {   /* little-endian on any host */
            unsigned char *b = (unsigned char *)&v[i];
            uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                         (uint32_t)b[3] << 24;
            memcpy(&v[i], &u, 4);
        }
        *count = n / 4;
        fclose(f);
        return v;
    }
    free(v);
    if (f)
        fclose(f);
    fprintf(stderr, "test_mnist_fixtures: cannot read %s as float32\n", path);
    return NULL;
}

static int compare(const char *a_path, const char *b_path, double tol)
{
    long na = 0, nb = 0;
    float *a = read_f32(a_path, &na), *b = a ? read_f32(b_path, &nb) : NULL;
    int status = 1;
    if (a && b && na != nb) {
        fprintf(stderr, "test_mnist_fixtures: %ld vs %ld values\n", na, nb);
    } else if (a && b) {
        double worst = 0;
        for (long i = 0; i < na; i++) {
            double d = fabs((double)a[i] - (double)b[i]);
            worst = d > worst || isnan(d) ? d : worst;
        }
        printf("max |diff| = %.3g over %ld values (tolerance %g)\n", worst, na, tol);
        status = worst <= tol ? 0 : 1;
    }
    free(b);
    free(a);
    return status;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    if (!strcmp(cmd, "torch") && argc == 4)
        return rewrite(argv[2], argv[3], true, NULL, 0, NULL, NULL);
    if (!strcmp(cmd, "drop") && argc == 5)
        return rewrite(argv[2], argv[3], false, argv[4], -1, NULL, NULL);
    if (!strcmp(cmd, "reshape") && argc >= 6 && argc <= 9) {
        int64_t dims[4] = {0};
        for (int d = 0; d < argc - 5; d++)
            dims[d] = atoll(argv[5 + d]);
        return rewrite(argv[2], argv[3], false, argv[4], argc - 5, dims, NULL);
    }
    if (!strcmp(cmd, "set") && argc == 7) {
        poke p = {atol(argv[5]), strtof(argv[6], NULL)};
        return rewrite(argv[2], argv[3], false, argv[4], 0, NULL, &p);
    }
    if (!strcmp(cmd, "compare") && argc == 5)
        return compare(argv[2], argv[3], atof(argv[4]));
    fprintf(stderr, "usage: see the comment at the top of test_mnist_fixtures.c\n");
    return 2;
}

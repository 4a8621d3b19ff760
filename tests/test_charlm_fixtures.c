/* test_charlm_fixtures.c — a helper for test_charlm_cli.sh:
 *
 *   test_charlm_fixtures compare A.f32 B.f32 TOL VOCAB
 *
 * compares two little-endian float32 logit files of rows of VOCAB values:
 * the same count, max |a - b| <= TOL and the same argmax in every row.
 * Prints the max difference; exit 0 if all hold, else 1. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float *read_f32(const char *path, long *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "test_charlm_fixtures: cannot open %s\n", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    float *v = malloc(bytes > 0 ? (size_t)bytes : 1);
    if (v && fread(v, 1, (size_t)bytes, f) != (size_t)bytes) {
        free(v);
        v = NULL;
    }
    fclose(f);
    *n = bytes / (long)sizeof(float);
    return v;
}

static long argmax(const float *v, long n)
{
    long best = 0;
    for (long i = 1; i < n; i++)
        best = v[i] > v[best] ? i : best;
    return best;
}

int main(int argc, char **argv)
{
    if (argc != 6 || strcmp(argv[1], "compare") != 0) {
        fprintf(stderr, "usage: test_charlm_fixtures compare A.f32 B.f32 TOL VOCAB\n");
        return 2;
    }
    double tol = atof(argv[4]);
    long vocab = atol(argv[5]), na = 0, nb = 0;
    float *a = read_f32(argv[2], &na), *b = a ? read_f32(argv[3], &nb) : NULL;
    int status = 1;
    if (a && b && (na != nb || vocab < 1 || na % vocab)) {
        fprintf(stderr, "test_charlm_fixtures: %ld vs %ld values (vocab %ld)\n", na, nb, vocab);
    } else if (a && b) {
        double worst = 0;
        long mismatched = 0;
        for (long i = 0; i < na; i++) {
            double d = fabs((double)a[i] - (double)b[i]);
            worst = d > worst || isnan(d) ? d : worst;
        }
        for (long r = 0; r < na / vocab; r++)
            mismatched += argmax(a + r * vocab, vocab) != argmax(b + r * vocab, vocab);
        printf("max |diff| = %.3g over %ld values (tolerance %g); %ld of %ld argmax differ\n",
               worst, na, tol, mismatched, na / vocab);
        status = worst <= tol && mismatched == 0 ? 0 : 1;
    }
    free(b);
    free(a);
    return status;
}

/* bench_clock.h — what the benches time with: a clock read in seconds and
 * the median of a run's samples. Header-only, each bench being one
 * program; include it after defining _POSIX_C_SOURCE (clock_gettime). */
#ifndef MT_BENCH_CLOCK_H
#define MT_BENCH_CLOCK_H

#include <stdlib.h>
#include <time.h>

/* Clock `id` (CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, …) in seconds. */
static inline double bench_seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* qsort's order of doubles, ascending. */
static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0..n) (n >= 1), which it sorts. */
static inline double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#endif

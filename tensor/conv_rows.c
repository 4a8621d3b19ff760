/* conv_rows.c — conv2d without a patch matrix: the native GEMM micro-kernel
 * reads its A operand straight from the input (an implicit GEMM), with the
 * bias, ReLU and optionally a max pool applied before anything is stored.
 *
 * For output row oy of image n and kernel row ki, the products over the
 * kernel row's taps and channels are an [OW, kw·cin] × [kw·cin, Cout] GEMM
 * whose A(i, p) = x[n, oy·sh + ki·dh - pad_top, i·sw - pad_left, 0] + p:
 * input pixel rows keep each pixel's channels contiguous and the kw
 * neighbours next to each other, so A is the input itself with row stride
 * sw·cin and column stride 1. The kh kernel rows accumulate into the same
 * output row (MT_TILE_ACCUM), the last one adds the bias and applies ReLU.
 * Nothing is copied: im2col wrote kh·kw·cin floats per output pixel to
 * memory and read them back (the Fashion CNN's conv2: 288 per pixel).
 * Output columns whose window hangs over the left or right padding are
 * summed directly (a few per row).
 *
 * With a pool, a unit of work is one pooled row: the conv rows its windows
 * cover go to a strip of pool_h rows kept in cache, and only the maxima are
 * stored — the full-size conv output never reaches memory. A 3×3 unit-stride
 * conv under a 2×2 stride-2 pool runs as Winograd F(2×2, 3×3) instead, an
 * image at a time, where its cost model says it pays (winograd_fits).
 */

#include <string.h>

#include "conv_rows.h"
#include "internal.h"
#include "native/native.h"
#include "native/winograd.h"
#include "unary_ops.h"

bool mt_conv_rows_fit(const conv_geometry *g)
{
    return g->groups == 1 && g->dw == 1 && g->x.stride[3] == 1 && g->x.stride[2] == g->cin;
}

/* ---- the kernel as B panels ----------------------------------------------------- */

typedef struct weights {
    const float *b;   /* B of kernel row ki, panel jp: b + ki·ki_step + jp·panel_step;
                       * a panel's kernel rows follow each other (ki_step = kw·cin·b_rs);
                       * Winograd: U[ξ] at b + ξ·ki_step */
    int64_t ki_step, panel_step, b_rs;
} weights;

static float kernel_at(const conv_geometry *g, const mt_tensor *kernel, int64_t ki,
                       int64_t kj, int64_t c, int64_t o)
{
    const float *k = kernel->data;
    const int64_t *s = kernel->stride;
    return g->layout == MT_KERNEL_HWIO ? k[ki * s[0] + kj * s[1] + c * s[2] + o * s[3]]
                                       : k[o * s[0] + c * s[1] + ki * s[2] + kj * s[3]];
}

/* An HWIO kernel whose rows of Cout are contiguous and a whole number of
 * NR panels is read in place; anything else (OIHW, strided, a ragged last
 * panel) is packed into NR-wide panels, zero-padded, once per call. */
static bool weights_in_place(const conv_geometry *g, const mt_tensor *kernel, int nr)
{
    const int64_t *s = kernel->stride;
    return g->layout == MT_KERNEL_HWIO && s[3] == 1 && s[2] == g->cout &&
           s[1] == g->cin * g->cout && s[0] == g->kw * s[1] && g->cout % nr == 0;
}

static void weights_pack(const conv_geometry *g, const mt_tensor *kernel, int nr, float *dst,
                         weights *w)
{
    const int64_t krow = g->kw * g->cin, panels = (g->cout + nr - 1) / nr;
    *w = (weights){dst, krow * nr, g->kh * krow * nr, nr};
    for (int64_t jp = 0; jp < panels; jp++)
        for (int64_t ki = 0; ki < g->kh; ki++)
            for (int64_t kj = 0; kj < g->kw; kj++)
                for (int64_t c = 0; c < g->cin; c++)
                    for (int64_t j = 0; j < nr; j++) {
                        int64_t o = jp * nr + j;
                        *dst++ = o < g->cout ? kernel_at(g, kernel, ki, kj, c, o) : 0.0f;
                    }
}

/* ---- one output row ------------------------------------------------------------- */

typedef struct rows_job {
    const conv_geometry *g;
    const mt_native_kernel *kr;
    const mt_tensor *kernel;  /* as the caller gave it (winograd_direct reads it) */
    weights w;
    const float *bias;
    mt_activation act;
    const conv_pool *pool;
    mt_tensor y;
    float *strips;          /* per part, strip_floats each (pool only) */
    int64_t strip_floats;
    float *rowbufs;         /* per part, rowbuf_floats each: packed patch rows, or NULL */
    int64_t rowbuf_floats;
    bool winograd;          /* whole images through winograd_image (units are images) */
    int product_threads;    /* > 1: one image alone, its 16 products split over threads */
    int64_t ox0, ox1;       /* output columns whose windows lie inside the input */
    int64_t units;          /* output rows (or pooled rows) over all images */
    int parts;
} rows_job;

/* The kernel rows [*k0, *k1) that fall inside the input for output row oy. */
static void valid_rows(const conv_geometry *g, int64_t oy, int64_t *k0, int64_t *k1)
{
    int64_t top = oy * g->sh - g->pad_top;
    *k0 = 0;
    while (*k0 < g->kh && top + *k0 * g->dh < 0)
        ++*k0;
    *k1 = g->kh;
    while (*k1 > *k0 && top + (*k1 - 1) * g->dh >= g->h)
        --*k1;
}

/* Column ox summed directly, taps over the padding skipped (edge columns). */
static void edge_column(const rows_job *j, int64_t n, int64_t oy, int64_t ox, int64_t k0,
                        int64_t k1, float *c, int64_t c_cs)
{
    const conv_geometry *g = j->g;
    const float *x = g->x.data;
    const int64_t *st = g->x.stride;
    const int nr = j->kr->nr;
    for (int64_t o = 0; o < g->cout; o++) {
        float acc = j->bias ? j->bias[o] : 0.0f;
        const float *b = j->w.b + (o / nr) * j->w.panel_step + o % nr;
        for (int64_t ki = k0; ki < k1; ki++) {
            int64_t iy = oy * g->sh - g->pad_top + ki * g->dh;
            for (int64_t kj = 0; kj < g->kw; kj++) {
                int64_t ix = ox * g->sw - g->pad_left + kj;
                if (ix < 0 || ix >= g->w)
                    continue;
                const float *px = x + n * st[0] + iy * st[1] + ix * st[2];
                const float *bp = b + ki * j->w.ki_step + kj * g->cin * j->w.b_rs;
                for (int64_t ch = 0; ch < g->cin; ch++)
                    acc += px[ch] * bp[ch * j->w.b_rs];
            }
        }
        if (j->act == MT_ACTIVATION_RELU && acc < 0.0f)
            acc = 0.0f;
        c[o * c_cs] = acc;
    }
}

/* The tiles over m consecutive output pixels of one pass: tap p of A row
 * i at a + i·a_rs + p·a_cs (k taps), C row i at c + i·c_rs; every output
 * channel panel, B from the panel's kernel row ki (b_ki: its offset in the
 * panel). The rows are dealt evenly over the fewest tiles (25 rows with
 * MR 12: 9, 8, 8, not 12, 12, 1): a tile of one or two rows has too few
 * accumulators to hide the FMA latency and costs a third of a full one for
 * a twelfth of its work (Winograd's 25 tiles a product, conv1's 26 pixels
 * a row in the Fashion CNN). */
static void sweep(const rows_job *j, int64_t m, int64_t k, const float *a, int64_t a_rs,
                  int64_t a_cs, int64_t b_ki, float *c, int64_t c_rs, int64_t c_cs, int flags)
{
    const mt_native_kernel *kr = j->kr;
    const int64_t cout = j->g->cout, tiles = (m + kr->mr - 1) / kr->mr;
    mt_tile t = {.k = k, .a_rs = a_rs, .a_cs = a_cs, .b_rs = j->w.b_rs, .c_rs = c_rs,
                 .c_cs = c_cs, .flags = flags};
    for (int64_t o0 = 0; o0 < cout; o0 += kr->nr) {
        t.n = (int)(cout - o0 < kr->nr ? cout - o0 : kr->nr);
        t.bias = j->bias ? j->bias + o0 : NULL;
        t.b = j->w.b + o0 / kr->nr * j->w.panel_step + b_ki;
        for (int64_t q = 0, i = 0; q < tiles; q++, i += t.m) {
            t.m = (int)(m / tiles + (q < m % tiles));
            t.a = a + i * a_rs;
            t.c = c + i * c_rs + o0 * c_cs;
            kr->tile(&t);
        }
    }
}

static int last_flags(const rows_job *j)
{
    return (j->bias ? MT_TILE_BIAS : 0) | (j->act == MT_ACTIVATION_RELU ? MT_TILE_RELU : 0);
}

/* The patches of output row (n, oy)'s interior columns, tap-major: tap p
 * of pixel i at dst[p·ld + i], an A operand with a_rs 1 and a_cs ld (zeros
 * over the top and bottom padding). Packing is chosen for few taps per
 * kernel row (krow = kw·cin: 3 for a 3×3 kernel on one channel), too short
 * to be an inner loop; tap-major makes each tap a run of pixels, one copy
 * at unit stride. Pixel-major stored the 3 taps 9 floats apart, a scalar
 * store each: 17 % of the Fashion CNN's first conv. */
static void pack_patches(const rows_job *j, int64_t n, int64_t oy, float *dst, int64_t ld)
{
    const conv_geometry *g = j->g;
    const int64_t *st = g->x.stride, krow = g->kw * g->cin;
    const int64_t m = j->ox1 - j->ox0, step = g->sw * g->cin;
    int64_t k0, k1;
    valid_rows(g, oy, &k0, &k1);
    for (int64_t ki = 0; ki < g->kh; ki++) {
        float *d = dst + ki * krow * ld;
        if (ki < k0 || ki >= k1) {  /* over the top or bottom padding */
            for (int64_t q = 0; q < krow; q++)
                memset(d + q * ld, 0, (size_t)m * sizeof(float));
            continue;
        }
        const float *src = (const float *)g->x.data + n * st[0] +
                           (oy * g->sh - g->pad_top + ki * g->dh) * st[1] +
                           (j->ox0 * g->sw - g->pad_left) * g->cin;
        for (int64_t q = 0; q < krow; q++)
            if (step == 1)
                memcpy(d + q * ld, src + q, (size_t)m * sizeof(float));
            else
                for (int64_t i = 0; i < m; i++)
                    d[q * ld + i] = src[i * step + q];
    }
}

/* The kh passes of the implicit GEMM over m pixels of output row (n, oy)
 * from column ox0 on (A row stride a_rs), into c. */
static void implicit_passes(const rows_job *j, int64_t n, int64_t oy, int64_t m,
                            int64_t a_rs, float *c, int64_t c_rs, int64_t c_cs)
{
    const conv_geometry *g = j->g;
    const int64_t *st = g->x.stride;
    int64_t k0, k1;
    valid_rows(g, oy, &k0, &k1);
    for (int64_t ki = k0; ki < k1; ki++) {
        const int64_t iy = oy * g->sh - g->pad_top + ki * g->dh;
        const float *a = (const float *)g->x.data + n * st[0] + iy * st[1] +
                         (j->ox0 * g->sw - g->pad_left) * g->cin;
        sweep(j, m, g->kw * g->cin, a, a_rs, 1, ki * j->w.ki_step, c, c_rs, c_cs,
              (ki > k0 ? MT_TILE_ACCUM : 0) | (ki == k1 - 1 ? last_flags(j) : 0));
    }
}

/* The activations the tiles do not apply (all but ReLU) over rows of c. */
static void finish(const rows_job *j, float *c, int64_t m, int64_t c_rs, int64_t c_cs)
{
    if (j->act != MT_ACTIVATION_NONE && j->act != MT_ACTIVATION_RELU)
        mt_activation_rows(j->act, c, m, j->g->cout, c_rs, c_cs);
}

/* Output row (n, oy), all OW columns, into c(ox, o) = c[ox·c_rs + o·c_cs]. */
static void conv_row(const rows_job *j, int64_t n, int64_t oy, float *c, int64_t c_rs,
                     int64_t c_cs, float *rowbuf)
{
    const conv_geometry *g = j->g;
    const int64_t m = j->ox1 - j->ox0, kall = g->kh * g->kw * g->cin;
    int64_t k0, k1;
    valid_rows(g, oy, &k0, &k1);
    if (k0 < k1 && rowbuf) {  /* the row's patches packed, one pass of all K */
        pack_patches(j, n, oy, rowbuf, m);
        sweep(j, m, kall, rowbuf, 1, m, 0, c + j->ox0 * c_rs, c_rs, c_cs, last_flags(j));
    } else if (k0 < k1) {
        implicit_passes(j, n, oy, m, g->sw * g->cin, c + j->ox0 * c_rs, c_rs, c_cs);
    }
    for (int64_t ox = 0; ox < g->ow; ox++)
        if (k0 == k1 || ox < j->ox0 || ox >= j->ox1)
            edge_column(j, n, oy, ox, k0, k1, c + ox * c_rs, c_cs);
    finish(j, c, g->ow, c_rs, c_cs);
}

/* m[i] = mt_winograd_max_nan(m[i], v[i]) with the kernel's vectors (a pool over the
 * first conv's 26×26×32 floats per image: a third of its time in 16-byte
 * vectors). */
static void max_into(const rows_job *j, int64_t count, float *m, const float *v)
{
    (j->kr->max ? j->kr->max : mt_native_max_generic)(count, m, v);
}

/* Can the conv rows of pooled row py run as one sweep (M = all the strip's
 * pixels, rather than one output row at a time: fewer ragged tiles — 11
 * columns are 8 + 3 rows of an 8-row tile, two rows and the 2 input
 * columns between them 24 = 3 × 8)? The rows must be consecutive with no
 * padding or edge columns; without packing, also unit strides over a
 * contiguous image, so that the input pixels of successive rows follow
 * each other (the strip then has W columns, OW of them kept). */
static bool strip_as_one(const rows_job *j, int64_t py, bool packed)
{
    const conv_geometry *g = j->g;
    const mt_window_axis *ah = &j->pool->ah;
    int64_t k0, k1, l0, l1;
    valid_rows(g, py * ah->stride, &k0, &k1);
    valid_rows(g, py * ah->stride + ah->k - 1, &l0, &l1);
    bool whole = ah->dilation == 1 && j->ox0 == 0 && j->ox1 == g->ow && k0 == 0 &&
                 k1 == g->kh && l0 == 0 && l1 == g->kh;
    return whole && (packed || (g->sh == 1 && g->sw == 1 &&
                                g->x.stride[1] == g->w * g->cin));
}

/* Pooled row (n, py): its conv rows into the strip (rows `pitch` floats
 * apart), their window maxima to y. The strip's rows are reduced into its
 * first row, then each window's columns into acc (Cout floats after the
 * rows): contiguous loops over whole rows and channels. */
static void pooled_row(const rows_job *j, int64_t n, int64_t py, float *strip, float *rowbuf)
{
    const conv_geometry *g = j->g;
    const mt_window_axis *ah = &j->pool->ah, *aw = &j->pool->aw;
    const int64_t oy0 = py * ah->stride, cout = g->cout, *so = j->y.stride;
    const int64_t kall = g->kh * g->kw * g->cin, ow = g->ow;
    int64_t pitch = ow * cout;
    if (strip_as_one(j, py, rowbuf != NULL)) {
        if (rowbuf) {
            for (int64_t r = 0; r < ah->k; r++)
                pack_patches(j, n, oy0 + r, rowbuf + r * ow, ah->k * ow);
            sweep(j, ah->k * ow, kall, rowbuf, 1, ah->k * ow, 0, strip, cout, 1, last_flags(j));
        } else {
            pitch = g->w * cout;
            implicit_passes(j, n, oy0, (ah->k - 1) * g->w + ow, g->cin, strip, cout, 1);
        }
        for (int64_t r = 0; r < ah->k; r++)
            finish(j, strip + r * pitch, ow, cout, 1);
    } else {
        for (int64_t r = 0; r < ah->k; r++)
            conv_row(j, n, oy0 + r * ah->dilation, strip + r * pitch, cout, 1, rowbuf);
    }
    for (int64_t r = 1; r < ah->k; r++)
        max_into(j, ow * cout, strip, strip + r * pitch);
    float *acc = strip + ah->k * pitch;
    float *y = (float *)j->y.data + n * so[0] + py * so[1];
    for (int64_t px = 0; px < aw->out; px++) {
        const float *first = strip + px * aw->stride * cout;
        float *out = so[3] == 1 ? y + px * so[2] : acc;
        for (int64_t o = 0; o < cout; o++)
            out[o] = first[o];
        for (int64_t q = 1; q < aw->k; q++)
            max_into(j, cout, out, first + q * aw->dilation * cout);
        if (out == acc)
            for (int64_t o = 0; o < cout; o++)
                y[px * so[2] + o * so[3]] = acc[o];
    }
}

/* ---- Winograd F(2×2, 3×3) under a 2×2 pool --------------------------------------
 * A 3×3, stride 1 conv followed by a 2×2, stride 2 max pool: each pooled
 * output is the max of one 2×2 output tile, which Winograd's F(2×2, 3×3)
 * computes from a 4×4 input tile with 16 products per (input, output
 * channel) pair instead of 36 (Lavin & Gray 2015): U = G g Gᵀ per kernel
 * (once per call), V = Bᵀ d B per input tile and channel, then 16 GEMMs
 * M[ξ] = V[ξ] (tiles × cin) · U[ξ] (cin × Cout) on the micro-kernel, then
 * Y = Aᵀ M A, bias, ReLU and the max of the tile's four values. Tiles not
 * read by the pool (an odd last row or column) are never computed. */

/* U = G g Gᵀ of one kernel: g the 3×3 taps row-major (g[3·ki + kj]), U the
 * 4×4 result row-major (u[4i + j] is U[ξ = 4i + j]). */
static inline void winograd_taps(const float g[9], float u[16])
{
    float r[4][3];
    for (int b = 0; b < 3; b++) {  /* R = G g */
        float w0 = g[b], w1 = g[3 + b], w2 = g[6 + b];
        r[0][b] = w0;
        r[1][b] = 0.5f * (w0 + w1 + w2);
        r[2][b] = 0.5f * (w0 - w1 + w2);
        r[3][b] = w2;
    }
    for (int i = 0; i < 4; i++) {  /* U = R Gᵀ */
        u[4 * i + 0] = r[i][0];
        u[4 * i + 1] = 0.5f * (r[i][0] + r[i][1] + r[i][2]);
        u[4 * i + 2] = 0.5f * (r[i][0] - r[i][1] + r[i][2]);
        u[4 * i + 3] = r[i][2];
    }
}

/* U[ξ] for ξ = 4·i + j, each as NR-wide panels of cin rows (zero-padded).
 * Per input channel, the nine taps' rows of Cout are gathered into g9
 * (9 × panels·NR floats), then transformed. */
static void winograd_kernel(const conv_geometry *g, const mt_tensor *kernel, int nr,
                            float *u, float *g9)
{
    const int64_t panels = (g->cout + nr - 1) / nr, width = panels * nr;
    const int64_t per_xi = panels * g->cin * nr;
    for (int64_t c = 0; c < g->cin; c++) {
        for (int t = 0; t < 9; t++)
            for (int64_t o = 0; o < width; o++)
                g9[t * width + o] = o < g->cout ? kernel_at(g, kernel, t / 3, t % 3, c, o) : 0.0f;
        for (int64_t o = 0; o < width; o++) {
            float taps[9], t16[16];
            for (int t = 0; t < 9; t++)
                taps[t] = g9[t * width + o];
            winograd_taps(taps, t16);
            float *dst = u + (o / nr) * g->cin * nr + c * nr + o % nr;
            for (int xi = 0; xi < 16; xi++)
                dst[xi * per_xi] = t16[xi];
        }
    }
}

void mt_conv_rows_winograd_kernel(const mt_tensor *kernel, mt_kernel_layout layout,
                                  int64_t cin, int64_t cout, float *u)
{
    const conv_geometry g = {.cin = cin, .cout = cout, .kh = 3, .kw = 3, .layout = layout};
    for (int64_t c = 0; c < cin; c++)
        for (int64_t o = 0; o < cout; o++) {
            float taps[9], t16[16];
            for (int t = 0; t < 9; t++)
                taps[t] = kernel_at(&g, kernel, t / 3, t % 3, c, o);
            winograd_taps(taps, t16);
            for (int xi = 0; xi < 16; xi++)
                u[(xi * cin + c) * cout + o] = t16[xi];
        }
}

/* The 16 products M[ξ] = V[ξ] · U[ξ] of one image, in PRODUCT_PARTS parts
 * of 4: independent GEMMs, so a lone image (batch 1) can split them over
 * the threads (its conv is otherwise one unit of work). */
enum { PRODUCT_PARTS = 4 };

typedef struct products {
    rows_job p;
    const float *v;
    float *m;
    int64_t tiles;
} products;

static void products_part(void *arg, int index)
{
    const products *pr = arg;
    const int64_t cin = pr->p.g->cin, cout = pr->p.g->cout, tiles = pr->tiles;
    for (int xi = index * 16 / PRODUCT_PARTS; xi < (index + 1) * 16 / PRODUCT_PARTS; xi++)
        sweep(&pr->p, tiles, cin, pr->v + xi * tiles * cin, cin, 1, xi * pr->p.w.ki_step,
              pr->m + xi * tiles * cout, cout, 1, 0);
}

/* Image n: v (16 × tiles × cin), then m (16 × tiles × Cout), then the pool. */
static void winograd_image(const rows_job *j, int64_t n, float *v)
{
    const conv_geometry *g = j->g;
    const int64_t ph = j->pool->ah.out, pw = j->pool->aw.out, tiles = ph * pw;
    const int64_t cin = g->cin, cout = g->cout, *st = g->x.stride, *so = j->y.stride;
    float *m = v + 16 * tiles * cin;
    const float *x = (const float *)g->x.data + n * st[0];
    /* the kernel's own vector width where it has the transforms */
    const mt_winograd_in_fn transform_in = j->kr->winograd_in ? j->kr->winograd_in : mt_winograd_in;
    const mt_winograd_out_fn transform_out =
        j->kr->winograd_out ? j->kr->winograd_out : mt_winograd_out;
    for (int64_t t = 0; t < tiles; t++)
        transform_in(cin, x + (t / pw) * 2 * st[1] + (t % pw) * 2 * st[2], st[1], st[2],
                     v + t * cin, tiles * cin);
    products pr = {.p = *j, .v = v, .m = m, .tiles = tiles};
    pr.p.bias = NULL;  /* U in place of the kernel, no epilogue */
    pr.p.act = MT_ACTIVATION_NONE;
    if (j->product_threads < 2 ||
        !mt_pool_run(products_part, &pr, PRODUCT_PARTS, j->product_threads))
        for (int part = 0; part < PRODUCT_PARTS; part++)
            products_part(&pr, part);
    float *acc = v;  /* V is spent: a row of Cout for a strided output */
    for (int64_t t = 0; t < tiles; t++) {
        float *y = (float *)j->y.data + n * so[0] + (t / pw) * so[1] + (t % pw) * so[2];
        transform_out(cout, m + t * cout, tiles * cout, j->bias,
                      j->act == MT_ACTIVATION_RELU, so[3] == 1 ? y : acc);
        if (so[3] != 1)
            for (int64_t o = 0; o < cout; o++)
                y[o * so[3]] = acc[o];
    }
}

/* Does Winograd run this conv + pool, and does it pay? Shapes: 3×3, unit
 * strides and dilations, one group, no padding before, a 2×2 stride-2
 * pool whose tiles lie inside the input, ReLU or no activation. The cost
 * model counts instructions: per 2×2 output tile and (cin, Cout) pair it
 * saves 36 - 16 = 20 FMAs, which the micro-kernel retires NR/2 to an
 * instruction (two NR-wide accumulator halves per broadcast); the input and
 * output transforms take about 4 operations per input tile value (16·cin)
 * and 3 per output tile value (16·Cout), 4 to an instruction (16-byte
 * vectors, the library's baseline); the kernel transform, once per call,
 * about 150 instructions per pair (9 strided gathers, 16 scattered stores,
 * ~30 arithmetic operations, scalar), unless the caller keeps the
 * transform (`kept`: mt_conv2d_params.winograd, read in place). At batch 1
 * the Fashion CNN's conv2 has 25 tiles: Winograd pays only with the
 * transform kept. */
static bool winograd_fits(const conv_geometry *g, const conv_pool *pool, mt_activation act,
                          int nr, bool kept)
{
    if (!pool || g->kh != 3 || g->kw != 3 || g->sh != 1 || g->sw != 1 || g->dh != 1 ||
        g->pad_top != 0 || g->pad_left != 0 || pool->ah.k != 2 || pool->aw.k != 2 ||
        pool->ah.stride != 2 || pool->aw.stride != 2 || pool->ah.dilation != 1 ||
        pool->aw.dilation != 1 || (act != MT_ACTIVATION_NONE && act != MT_ACTIVATION_RELU) ||
        2 * pool->ah.out + 2 > g->h || 2 * pool->aw.out + 2 > g->w)
        return false;
    const double tiles = (double)(g->n * pool->ah.out * pool->aw.out);
    const double pairs = (double)(g->cin * g->cout);
    const double saved = tiles * pairs * 20.0 / (nr / 2.0);
    const double spent = tiles * (64.0 * (double)g->cin + 48.0 * (double)g->cout) / 4.0 +
                         (kept ? 0.0 : 150.0 * pairs);
    return saved > spent;
}

/* Winograd only for images it computes as the direct sum does: its
 * transforms add and subtract neighbouring pixels, so one ±inf gives
 * inf - inf = NaN in outputs the direct sum makes ±inf (and finite ones
 * beside them), and inputs near FLT_MAX overflow there before the direct
 * sum would. 2^64 leaves the transforms' factor (< 2^7) far from overflow.
 * Checked per image, just before its transform reads the same bytes: a
 * scan of the whole batch first read it from memory once more (4 % of the
 * Fashion CNN at batch 256) on the caller's thread alone. */
static bool winograd_image_tame(const conv_geometry *g, int64_t n)
{
    const int64_t *st = g->x.stride;  /* channels contiguous (mt_conv_rows_fit) */
    const float *x = (const float *)g->x.data + n * st[0];
    /* |x| > 2^64, inf and NaN are the bit patterns (sign cleared) above
     * 2^64's: an integer compare the compiler vectorises */
    const uint32_t limit = 0x5f800000u;  /* 2^64 */
    const int64_t run = st[1] == g->w * g->cin ? g->w * g->cin : g->cin;  /* whole rows */
    uint32_t wild = 0;
    for (int64_t i = 0; i < g->h; i++)
        for (int64_t r = 0; r < g->w * g->cin / run; r++) {
            const float *px = x + i * st[1] + r * st[2];
            for (int64_t c = 0; c < run; c++) {
                uint32_t bits;
                memcpy(&bits, px + c, sizeof bits);
                wild |= (bits & 0x7fffffffu) > limit;
            }
        }
    return !wild;
}

/* Image n of a Winograd job summed directly, scalar, for an image
 * winograd_image_tame refuses: each pooled output is the max of its 2×2
 * conv outputs, then the bias and ReLU as winograd_out applies them. */
static void winograd_direct(const rows_job *j, int64_t n)
{
    const conv_geometry *g = j->g;
    const int64_t *st = g->x.stride, *so = j->y.stride;
    const float *x = (const float *)g->x.data + n * st[0];
    for (int64_t py = 0; py < j->pool->ah.out; py++)
        for (int64_t px = 0; px < j->pool->aw.out; px++)
            for (int64_t o = 0; o < g->cout; o++) {
                float best = 0.0f;
                for (int q = 0; q < 4; q++) {
                    const float *d = x + (2 * py + q / 2) * st[1] + (2 * px + q % 2) * st[2];
                    float acc = 0.0f;
                    for (int64_t ki = 0; ki < 3; ki++)
                        for (int64_t kj = 0; kj < 3; kj++)
                            for (int64_t c = 0; c < g->cin; c++)
                                acc += d[ki * st[1] + kj * st[2] + c] *
                                       kernel_at(g, j->kernel, ki, kj, c, o);
                    best = q == 0 ? acc : mt_winograd_max_nan(best, acc);
                }
                if (j->bias)
                    best += j->bias[o];
                if (j->act == MT_ACTIVATION_RELU && best < 0.0f)
                    best = 0.0f;
                ((float *)j->y.data)[n * so[0] + py * so[1] + px * so[2] + o * so[3]] = best;
            }
}

static void rows_part(void *arg, int index)
{
    const rows_job *j = arg;
    const int64_t per_image = j->winograd ? 1 : j->pool ? j->pool->ah.out : j->g->oh;
    const int64_t lo = j->units * index / j->parts, hi = j->units * (index + 1) / j->parts;
    const int64_t *so = j->y.stride;
    for (int64_t u = lo; u < hi; u++) {
        int64_t n = u / per_image, r = u % per_image;
        float *rowbuf = j->rowbufs ? j->rowbufs + index * j->rowbuf_floats : NULL;
        if (j->winograd && winograd_image_tame(j->g, u))
            winograd_image(j, u, j->strips + index * j->strip_floats);
        else if (j->winograd)
            winograd_direct(j, u);
        else if (j->pool)
            pooled_row(j, n, r, j->strips + index * j->strip_floats, rowbuf);
        else
            conv_row(j, n, r, (float *)j->y.data + n * so[0] + r * so[1], so[2], so[3],
                     rowbuf);
    }
}

/* ---- running -------------------------------------------------------------------- */

/* Parts of at least as many FMAs as the native GEMM gives one (2^17, its
 * MIN_FMAS_PER_PART), up to four per thread so that a preempted thread's
 * share is taken over by the others, 32 at most (the pool's limit). */
static int parts_for(const conv_geometry *g, int64_t units, int threads)
{
    if (threads < 2)
        return 1;
    int64_t fmas = g->n * g->oh * g->ow * g->cout * g->kh * g->kw * g->cin;
    int64_t parts = fmas >> 17;
    parts = parts < 4 * (int64_t)threads ? parts : 4 * (int64_t)threads;
    parts = parts < units ? parts : units;
    return parts < 1 ? 1 : parts > 32 ? 32 : (int)parts;
}

mt_status mt_conv_rows_run(const char *op, const conv_geometry *g, const mt_tensor *kernel,
                           const mt_tensor *winograd, const mt_tensor *bias,
                           mt_activation act, const conv_pool *pool, int threads,
                           mt_tensor *y)
{
    const mt_native_kernel *kr = mt_gemm_native_kernel();
    rows_job j = {.g = g, .kr = kr, .kernel = kernel, .bias = bias ? bias->data : NULL, .act = act,
                  .pool = pool, .y = *y};
    int64_t per_image = pool ? pool->ah.out : g->oh;
    j.units = g->n * per_image;
    if (j.units == 0 || (pool && pool->aw.out == 0))
        return MT_OK;
    // interior columns: the window [ox·sw - pad_left, + kw) inside [0, w)
    j.ox0 = (g->pad_left + g->sw - 1) / g->sw;
    j.ox1 = g->w - g->kw + g->pad_left < 0 ? 0 : (g->w - g->kw + g->pad_left) / g->sw + 1;
    j.ox1 = j.ox1 > g->ow ? g->ow : j.ox1 < j.ox0 ? j.ox0 : j.ox1;
    // a kept transform is read in place: whole NR panels of its Cout rows
    const bool kept = winograd && g->cout % kr->nr == 0;
    j.winograd = winograd_fits(g, pool, act, kr->nr, kept);
    if (j.winograd)
        j.units = g->n;
    j.parts = parts_for(g, j.units, threads);
    const bool in_place = !j.winograd && weights_in_place(g, kernel, kr->nr);
    const int64_t panels = (g->cout + kr->nr - 1) / kr->nr;
    // the kernel as panels: kh·kw rows of taps, or Winograd's 16 products
    const int64_t packed = in_place || (j.winograd && kept)
                               ? 0 : (j.winograd ? 16 : g->kh * g->kw) * panels * g->cin * kr->nr;
    // a strided bias is copied: the tiles read it as a contiguous row
    const int64_t bias_copy = bias && bias->stride[0] != 1 ? (g->cout + 15) / 16 * 16 : 0;
    // pool rows of W >= OW columns (strip_as_one), and Cout for acc
    j.strip_floats = pool ? ((pool->ah.k * (g->w > g->ow ? g->w : g->ow) + 1) * g->cout + 15) /
                                16 * 16
                          : 0;
    /* Few taps per kernel row (the first layer of an image model: 1 or 3
     * channels): the kh passes over C would move more floats (the C tile in
     * and out again per extra kernel row: 2·(kh-1)·Cout per pixel) than
     * packing the pixel's whole patch (kh·kw·cin), so the row's patches are
     * packed into a small buffer and run as one pass. */
    if (j.winograd)  /* V and M of one image */
        j.strip_floats = 16 * pool->ah.out * pool->aw.out * (g->cin + g->cout) +
                         9 * panels * kr->nr;  /* (and the kernel transform's gather) */
    else if (g->kh * g->kw * g->cin <= 2 * (g->kh - 1) * g->cout)
        j.rowbuf_floats = ((pool ? pool->ah.k : 1) * (j.ox1 - j.ox0) * g->kh * g->kw * g->cin +
                           15) / 16 * 16;
    const int64_t floats = packed + bias_copy + j.parts * (j.strip_floats + j.rowbuf_floats);
    float *scratch = mt_scratch_floats(MT_SCRATCH_CONV_PATCHES, floats);
    if (!scratch && floats > 0)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot allocate %lld floats of scratch",
                       op, (long long)floats);
    if (j.winograd && kept) {
        j.w = (weights){winograd->data, g->cin * g->cout, kr->nr, g->cout};
    } else if (j.winograd) {  /* the gather rows of winograd_kernel in the first part's V */
        winograd_kernel(g, kernel, kr->nr, scratch, scratch + packed + bias_copy);
        j.w = (weights){scratch, panels * g->cin * kr->nr, g->cin * kr->nr, kr->nr};
    } else if (in_place)
        j.w = (weights){kernel->data, kernel->stride[0], kr->nr, g->cout};
    else
        weights_pack(g, kernel, kr->nr, scratch, &j.w);
    if (bias_copy) {
        float *b = scratch + packed;
        for (int64_t o = 0; o < g->cout; o++)
            b[o] = ((const float *)bias->data)[o * bias->stride[0]];
        j.bias = b;
    }
    j.strips = scratch + packed + bias_copy;
    j.rowbufs = j.rowbuf_floats ? j.strips + j.parts * j.strip_floats : NULL;
    if (j.parts < 2 || !mt_pool_run(rows_part, &j, j.parts, threads)) {
        j.parts = 1;
        // one image on the caller's thread: the pool is free for its products
        j.product_threads = j.winograd && j.units == 1 ? threads : 1;
        rows_part(&j, 0);
    }
    return MT_OK;
}

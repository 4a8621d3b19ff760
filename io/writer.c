/* writer.c — serialize tensors to the safetensors format, to memory or
 * atomically to a file (temporary file + fsync + rename).
 *
 * The layout is the Rust crate's (`prepare` in safetensors/src/tensor.rs):
 * tensors sorted by dtype, widest first (the crate's enum order, reversed),
 * then by name; offsets follow each other with no gaps; compact JSON with
 * "__metadata__" first; header padded with spaces to a multiple of 8. */
#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "atomic_file.h"
#include "st_internal.h"

#define QUOTE_CAP 400
#define STAGE_BYTES ((size_t)1 << 20)

typedef struct wr_item {
    const char *name;
    size_t name_len;
    const mt_tensor *t;
    const st_dtype_info *dt;
    uint64_t nbytes;
    bool contiguous;
} wr_item;

typedef struct wr_meta {
    const char *key, *value;
    size_t key_len, value_len;
} wr_meta;

/* Everything known before a byte is written. */
typedef struct wr_plan {
    wr_item *items;      /* in file order */
    size_t n;
    char *header;        /* padded JSON, header_len bytes */
    size_t header_len, header_cap;
    uint64_t data_size;
} wr_plan;

static void plan_free(wr_plan *p)
{
    if (p->items) mt_dealloc(p->items);
    if (p->header) mt_dealloc(p->header);
    memset(p, 0, sizeof *p);
}

/* ---- the header text ---------------------------------------------------------- */

static bool hdr_put(wr_plan *p, const char *s, size_t n)
{
    if (p->header_cap - p->header_len < n) {
        size_t cap = p->header_cap ? p->header_cap : 256;
        while (cap - p->header_len < n) {
            if (cap > SIZE_MAX / 2) return false;
            cap *= 2;
        }
        char *nh = mt_alloc(cap, 16);
        if (!nh) return false;
        if (p->header) {
            memcpy(nh, p->header, p->header_len);
            mt_dealloc(p->header);
        }
        p->header = nh;
        p->header_cap = cap;
    }
    memcpy(p->header + p->header_len, s, n);
    p->header_len += n;
    return true;
}

static bool hdr_puts(wr_plan *p, const char *s)
{
    return hdr_put(p, s, strlen(s));
}

/* A JSON string as serde_json writes it: \" \\ \b \f \n \r \t, other
 * control characters as \u00xx, everything else (UTF-8) verbatim. */
static bool hdr_string(wr_plan *p, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (!hdr_put(p, "\"", 1)) return false;
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            if (c < 0x20) {
                memcpy(u, "\\u00", 4);
                u[4] = hex[c >> 4];
                u[5] = hex[c & 15];
                u[6] = '\0';
                esc = u;
            }
        }
        if (esc) {
            if (!hdr_put(p, s + run, i - run) || !hdr_puts(p, esc))
                return false;
            run = i + 1;
        }
    }
    return hdr_put(p, s + run, n - run) && hdr_put(p, "\"", 1);
}

static bool hdr_u64(wr_plan *p, uint64_t v)
{
    char num[24];
    int w = snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    return w > 0 && hdr_put(p, num, (size_t)w);
}

/* ---- validation ------------------------------------------------------------------ */

static int cmp_item_name(size_t a, size_t b, const void *ctx)
{
    const wr_item *it = ctx;
    return mt_st_bytes_cmp(it[a].name, it[a].name_len, it[b].name,
                           it[b].name_len);
}

/* The crate's order: dtype descending (wider first), then name. */
static int cmp_item_layout(size_t a, size_t b, const void *ctx)
{
    const wr_item *it = ctx;
    if (it[a].dt->rust_order != it[b].dt->rust_order)
        return it[a].dt->rust_order > it[b].dt->rust_order ? -1 : 1;
    return cmp_item_name(a, b, ctx);
}

static int cmp_meta(size_t a, size_t b, const void *ctx)
{
    const wr_meta *m = ctx;
    return mt_st_bytes_cmp(m[a].key, m[a].key_len, m[b].key, m[b].key_len);
}

static mt_status check_tensor(const char *label, wr_item *it)
{
    char q[QUOTE_CAP];
    const mt_tensor *t = it->t;
    mt_st_quote(q, sizeof q, it->name, it->name_len);
    it->dt = mt_st_dtype_of_mt(t->dtype);
    if (!it->dt)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "%s: tensor %s: invalid dtype %d", label, q,
                       (int)t->dtype);
    if (t->rank < 0 || t->rank > MT_MAX_RANK)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "%s: tensor %s: rank %d outside 0..%d", label, q,
                       t->rank, MT_MAX_RANK);
    uint64_t numel = 1;
    bool zero = false;
    for (int i = 0; i < t->rank; i++) {
        if (t->shape[i] < 0)
            return mt_fail(MT_ERR_INVALID_ARGUMENT,
                           "%s: tensor %s: dim %d is negative (%lld)", label,
                           q, i, (long long)t->shape[i]);
        if (t->stride[i] < 0)
            return mt_fail(MT_ERR_INVALID_ARGUMENT,
                           "%s: tensor %s: stride %d is negative (%lld)",
                           label, q, i, (long long)t->stride[i]);
        if (t->shape[i] == 0) zero = true;
    }
    if (zero) {
        numel = 0;
    } else {
        for (int i = 0; i < t->rank; i++) {
            uint64_t d = (uint64_t)t->shape[i];
            if (numel > UINT64_MAX / d)
                return mt_fail(MT_ERR_OVERFLOW,
                               "%s: tensor %s: element count overflows",
                               label, q);
            numel *= d;
        }
    }
    uint64_t esize = it->dt->bits / 8;
    if (numel > (uint64_t)INT64_MAX / esize ||
        numel * esize > (uint64_t)SIZE_MAX)
        return mt_fail(MT_ERR_OVERFLOW, "%s: tensor %s: byte size overflows",
                       label, q);
    it->nbytes = numel * esize;
    if (numel > 0 && !t->data)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "%s: tensor %s: data is NULL", label, q);
    /* row-major with no gaps? (dims of 1 may have any stride; an empty
     * tensor has no bytes to place). expect <= numel: no overflow. */
    bool contiguous = true;
    if (numel > 0) {
        int64_t expect = 1;
        for (int i = t->rank - 1; i >= 0; i--) {
            if (t->shape[i] != 1 && t->stride[i] != expect) contiguous = false;
            expect *= t->shape[i];
        }
    }
    it->contiguous = contiguous;
    if (!it->contiguous) {
        /* the farthest element must be addressable */
        uint64_t far = 0;
        for (int i = 0; i < t->rank; i++) {
            uint64_t span = (uint64_t)(t->shape[i] - 1);
            uint64_t s = (uint64_t)t->stride[i];
            if (s && span > (UINT64_MAX - far) / s)
                return mt_fail(MT_ERR_OVERFLOW,
                               "%s: tensor %s: strides overflow", label, q);
            far += span * s;
        }
        if (far > (uint64_t)INT64_MAX / esize ||
            far > (uint64_t)SIZE_MAX / esize)
            return mt_fail(MT_ERR_OVERFLOW,
                           "%s: tensor %s: strides overflow", label, q);
    }
    return MT_OK;
}

static mt_status make_plan(const char *label,
                           const mt_safetensors_item *items, size_t n,
                           const mt_safetensors_kv *metadata, size_t n_meta,
                           wr_plan *plan)
{
    char q[QUOTE_CAP];
    size_t bad;
    mt_status st = MT_OK;
    memset(plan, 0, sizeof *plan);
    if ((n && !items) || (n_meta && !metadata))
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "%s: items/metadata is NULL but its count is not 0",
                       label);
    if (!mt_st_host_little_endian())
        return mt_fail(MT_ERR_UNSUPPORTED,
                       "%s: big-endian hosts are not supported", label);
    size_t m = (n > n_meta ? n : n_meta) + 1;
    if (m > SIZE_MAX / sizeof(wr_item))
        return mt_fail(MT_ERR_OVERFLOW, "%s: too many items", label);
    wr_item *it = mt_alloc(m * sizeof *it, 16);
    wr_meta *md = mt_alloc(m * sizeof *md, 16);
    size_t *idx = mt_alloc(m * sizeof *idx, 16);
    size_t *scratch = mt_alloc(m * sizeof *scratch, 16);
    if (!it || !md || !idx || !scratch) {
        st = mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
        goto done;
    }

    /* tensors */
    for (size_t i = 0; i < n; i++) {
        if (!items[i].name || !items[i].tensor) {
            st = mt_fail(MT_ERR_INVALID_ARGUMENT,
                         "%s: item %zu: name and tensor must not be NULL",
                         label, i);
            goto done;
        }
        it[i].name = items[i].name;
        it[i].name_len = items[i].name_len ? items[i].name_len
                                           : strlen(items[i].name);
        it[i].t = items[i].tensor;
        mt_st_quote(q, sizeof q, it[i].name, it[i].name_len);
        if (!mt_st_utf8_valid((const uint8_t *)it[i].name, it[i].name_len,
                           &bad)) {
            st = mt_fail(MT_ERR_INVALID_ARGUMENT,
                         "%s: tensor name %s is not valid UTF-8 (byte %zu)",
                         label, q, bad);
            goto done;
        }
        if (it[i].name_len == 12 && memcmp(it[i].name, "__metadata__", 12) == 0) {
            st = mt_fail(MT_ERR_INVALID_ARGUMENT,
                         "%s: '__metadata__' is reserved and cannot name a "
                         "tensor", label);
            goto done;
        }
        if ((st = check_tensor(label, &it[i])) != MT_OK) goto done;
    }
    for (size_t i = 0; i < n; i++) idx[i] = i;
    mt_st_sort_indices(idx, scratch, n, cmp_item_name, it);
    for (size_t i = 1; i < n; i++) {
        if (cmp_item_name(idx[i - 1], idx[i], it) == 0) {
            st = mt_fail(MT_ERR_INVALID_ARGUMENT,
                         "%s: duplicate tensor name %s", label,
                         mt_st_quote(q, sizeof q, it[idx[i]].name,
                                     it[idx[i]].name_len));
            goto done;
        }
    }

    /* metadata */
    for (size_t i = 0; i < n_meta; i++) {
        if (!metadata[i].key || !metadata[i].value) {
            st = mt_fail(MT_ERR_INVALID_ARGUMENT,
                         "%s: metadata %zu: key and value must not be NULL",
                         label, i);
            goto done;
        }
        md[i].key = metadata[i].key;
        md[i].key_len = metadata[i].key_len ? metadata[i].key_len
                                            : strlen(metadata[i].key);
        md[i].value = metadata[i].value;
        md[i].value_len = metadata[i].value_len ? metadata[i].value_len
                                                : strlen(metadata[i].value);
        if (!mt_st_utf8_valid((const uint8_t *)md[i].key, md[i].key_len, &bad) ||
            !mt_st_utf8_valid((const uint8_t *)md[i].value, md[i].value_len,
                              &bad)) {
            st = mt_fail(MT_ERR_INVALID_ARGUMENT,
                         "%s: metadata key %s: key or value is not valid "
                         "UTF-8", label,
                         mt_st_quote(q, sizeof q, md[i].key, md[i].key_len));
            goto done;
        }
    }
    for (size_t i = 0; i < n_meta; i++) idx[i] = i;
    mt_st_sort_indices(idx, scratch, n_meta, cmp_meta, md);
    for (size_t i = 1; i < n_meta; i++) {
        if (cmp_meta(idx[i - 1], idx[i], md) == 0) {
            st = mt_fail(MT_ERR_INVALID_ARGUMENT,
                         "%s: duplicate metadata key %s", label,
                         mt_st_quote(q, sizeof q, md[idx[i]].key,
                                     md[idx[i]].key_len));
            goto done;
        }
    }

    /* the header: metadata first (key order), then tensors in file order */
    bool ok = hdr_put(plan, "{", 1);
    if (n_meta) {
        ok = ok && hdr_puts(plan, "\"__metadata__\":{");
        for (size_t i = 0; i < n_meta && ok; i++) {
            const wr_meta *kv = &md[idx[i]];
            ok = (i == 0 || hdr_put(plan, ",", 1)) &&
                 hdr_string(plan, kv->key, kv->key_len) &&
                 hdr_put(plan, ":", 1) &&
                 hdr_string(plan, kv->value, kv->value_len);
        }
        ok = ok && hdr_put(plan, "}", 1);
    }
    for (size_t i = 0; i < n; i++) idx[i] = i;
    mt_st_sort_indices(idx, scratch, n, cmp_item_layout, it);
    plan->items = mt_alloc((n ? n : 1) * sizeof *plan->items, 16);
    if (!plan->items) ok = false;
    uint64_t offset = 0;
    for (size_t i = 0; i < n && ok; i++) {
        const wr_item *w = &it[idx[i]];
        plan->items[i] = *w;
        if (w->nbytes > UINT64_MAX - offset) {
            st = mt_fail(MT_ERR_OVERFLOW, "%s: total size overflows", label);
            goto done;
        }
        ok = ((n_meta || i) ? hdr_put(plan, ",", 1) : true) &&
             hdr_string(plan, w->name, w->name_len) &&
             hdr_puts(plan, ":{\"dtype\":\"") &&
             hdr_puts(plan, w->dt->name) &&
             hdr_puts(plan, "\",\"shape\":[");
        for (int d = 0; d < w->t->rank && ok; d++)
            ok = (d == 0 || hdr_put(plan, ",", 1)) &&
                 hdr_u64(plan, (uint64_t)w->t->shape[d]);
        ok = ok && hdr_puts(plan, "],\"data_offsets\":[") &&
             hdr_u64(plan, offset) && hdr_put(plan, ",", 1) &&
             hdr_u64(plan, offset + w->nbytes) && hdr_puts(plan, "]}");
        offset += w->nbytes;
    }
    plan->n = n;
    ok = ok && hdr_put(plan, "}", 1);
    while (ok && plan->header_len % 8 != 0) ok = hdr_put(plan, " ", 1);
    if (!ok) {
        st = mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory building the "
                     "header", label);
        goto done;
    }
    if (plan->header_len > ST_MAX_HEADER) {
        st = mt_fail(MT_ERR_INVALID_ARGUMENT,
                     "%s: header would be %zu bytes, over the %u-byte limit "
                     "readers enforce", label, plan->header_len,
                     ST_MAX_HEADER);
        goto done;
    }
    if (offset > UINT64_MAX - 8 - plan->header_len) {
        st = mt_fail(MT_ERR_OVERFLOW, "%s: total size overflows", label);
        goto done;
    }
    plan->data_size = offset;

done:
    if (it) mt_dealloc(it);
    if (md) mt_dealloc(md);
    if (idx) mt_dealloc(idx);
    if (scratch) mt_dealloc(scratch);
    if (st != MT_OK) plan_free(plan);
    return st;
}

/* ---- emitting bytes --------------------------------------------------------------- */

/* A sink: a memory buffer, or a file descriptor behind a staging buffer. */
typedef struct wr_sink {
    uint8_t *mem;        /* memory mode */
    size_t pos;
    int fd;              /* file mode */
    uint8_t *stage;
    size_t staged;
    int err;             /* errno of the first failed write */
} wr_sink;

static bool write_all(wr_sink *s, const uint8_t *p, size_t n)
{
    s->err = mt_io_write_all(s->fd, p, n);
    return s->err == 0;
}

static bool sink_flush(wr_sink *s)
{
    if (s->mem || s->staged == 0) return true;
    bool ok = write_all(s, s->stage, s->staged);
    s->staged = 0;
    return ok;
}

static bool sink_put(wr_sink *s, const void *p, size_t n)
{
    if (s->mem) {
        memcpy(s->mem + s->pos, p, n);
        s->pos += n;
        return true;
    }
    if (n >= STAGE_BYTES) return sink_flush(s) && write_all(s, p, n);
    if (STAGE_BYTES - s->staged < n && !sink_flush(s)) return false;
    memcpy(s->stage + s->staged, p, n);
    s->staged += n;
    return true;
}

/* The elements of t in row-major order, whatever its strides. */
static bool emit_tensor(wr_sink *s, const wr_item *w)
{
    const mt_tensor *t = w->t;
    if (w->nbytes == 0) return true;
    if (w->contiguous) return sink_put(s, t->data, (size_t)w->nbytes);
    size_t esize = w->dt->bits / 8;
    int r = t->rank;  /* >= 1: a 0-d tensor is contiguous */
    int64_t idx[MT_MAX_RANK] = {0};
    const uint8_t *base = t->data;
    int64_t inner = t->shape[r - 1], istride = t->stride[r - 1];
    uint64_t rows = w->nbytes / esize / (uint64_t)inner;
    for (uint64_t row = 0; row < rows; row++) {
        int64_t off = 0;
        for (int d = 0; d < r - 1; d++) off += idx[d] * t->stride[d];
        for (int64_t j = 0; j < inner; j++) {
            if (!sink_put(s, base + (size_t)(off + j * istride) * esize,
                          esize))
                return false;
        }
        for (int d = r - 2; d >= 0; d--) {
            if (++idx[d] < t->shape[d]) break;
            idx[d] = 0;
        }
    }
    return true;
}

static bool emit_all(wr_sink *s, const wr_plan *plan)
{
    uint8_t prefix[8];
    uint64_t n = plan->header_len;
    for (int i = 0; i < 8; i++) prefix[i] = (uint8_t)(n >> (8 * i));
    if (!sink_put(s, prefix, 8) ||
        !sink_put(s, plan->header, plan->header_len))
        return false;
    for (size_t i = 0; i < plan->n; i++)
        if (!emit_tensor(s, &plan->items[i])) return false;
    return sink_flush(s);
}

/* ---- to memory ------------------------------------------------------------------- */

mt_status mt_safetensors_serialize(const mt_safetensors_item *items,
                                   size_t n_items,
                                   const mt_safetensors_kv *metadata,
                                   size_t n_metadata, void **out,
                                   size_t *out_size)
{
    const char *label = "safetensors: serialize";
    if (out) *out = NULL;
    if (out_size) *out_size = 0;
    if (!out || !out_size)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out and out_size must "
                       "not be NULL", label);
    wr_plan plan;
    mt_status st = make_plan(label, items, n_items, metadata, n_metadata,
                             &plan);
    if (st != MT_OK) return st;
    uint64_t total = 8 + plan.header_len + plan.data_size;
    if (total > (uint64_t)SIZE_MAX) {
        plan_free(&plan);
        return mt_fail(MT_ERR_OVERFLOW, "%s: %llu bytes do not fit in memory",
                       label, (unsigned long long)total);
    }
    uint8_t *buf = mt_alloc((size_t)total, 64);
    if (!buf) {
        plan_free(&plan);
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory (%llu bytes)",
                       label, (unsigned long long)total);
    }
    wr_sink s = {.mem = buf, .fd = -1};
    emit_all(&s, &plan);
    plan_free(&plan);
    *out = buf;
    *out_size = (size_t)total;
    return MT_OK;
}

void mt_safetensors_buffer_free(void *buffer)
{
    if (buffer) mt_dealloc(buffer);
}

/* ---- to a file, atomically (atomic_file.c) ------------------------------------ */

mt_status mt_safetensors_save(const char *path,
                              const mt_safetensors_item *items, size_t n_items,
                              const mt_safetensors_kv *metadata,
                              size_t n_metadata)
{
    if (!path || !*path)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "safetensors: save: path must not be NULL or empty");
    char label[340];
    snprintf(label, sizeof label, "safetensors: %.300s", path);

    wr_plan plan;
    mt_status st = make_plan(label, items, n_items, metadata, n_metadata,
                             &plan);
    if (st != MT_OK) return st;   /* nothing created yet */

    wr_sink s = {.fd = -1};
    s.stage = mt_alloc(STAGE_BYTES, 64);
    if (!s.stage) {
        plan_free(&plan);
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    }
    io_atomic file;
    st = mt_io_atomic_begin(label, path, &file);
    if (st == MT_OK) {
        s.fd = file.fd;
        if (!emit_all(&s, &plan) && !s.err) s.err = EIO;
        st = mt_io_atomic_finish(label, &file, s.err);
    }
    mt_dealloc(s.stage);
    plan_free(&plan);
    return st;
}

/* header.c — parse a safetensors header and enforce every rule of
 * docs/io.md: framing, strict JSON (json.c), the schema of entries and
 * __metadata__, duplicate keys, sizes and the layout of the data section.
 * All of it runs at open; afterwards every entry is known to be in bounds. */
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "st_internal.h"

#define QUOTE_CAP 400
#define SHAPE_CAP 160

/* ---- growable tables -------------------------------------------------------- */

static mt_status grow(const mt_safetensors *f, void **ptr, size_t *cap,
                      size_t elem, size_t need)
{
    if (need <= *cap) return MT_OK;
    size_t nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > SIZE_MAX / 2 / elem)
            return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: header tables too large",
                           f->label);
        nc *= 2;
    }
    void *np = mt_alloc(nc * elem, 16);
    if (!np)
        return mt_fail(MT_ERR_OUT_OF_MEMORY,
                       "%s: out of memory reading the header (%zu bytes)",
                       f->label, nc * elem);
    if (*ptr) {
        memcpy(np, *ptr, *cap * elem);
        mt_dealloc(*ptr);
    }
    *ptr = np;
    *cap = nc;
    return MT_OK;
}

static mt_status push_dim(mt_safetensors *f, uint64_t dim)
{
    void *p = f->dims;
    mt_status st = grow(f, &p, &f->dims_cap, sizeof *f->dims,
                        f->dims_count + 1);
    f->dims = p;
    if (st != MT_OK) return st;
    f->dims[f->dims_count++] = dim;
    return MT_OK;
}

/* ---- schema ------------------------------------------------------------------ */

static bool key_is(const json_token *t, const char *s)
{
    size_t n = strlen(s);
    return t->len == n && memcmp(t->str, s, n) == 0;
}

/* A number that must be an exact u64, or a message saying why not. `what`
 * is e.g. "shape[2]". */
static mt_status read_u64(const mt_safetensors *f, const json_token *t,
                          const char *qname, const char *what,
                          uint64_t *value)
{
    *value = 0;
    if (t->kind != JSON_NUMBER)
        return mt_fail(MT_ERR_FORMAT,
                       "%s: tensor %s: %s must be a non-negative integer, "
                       "found %s", f->label, qname, what,
                       mt_json_kind_name(t->kind));
    int len = t->len > 40 ? 40 : (int)t->len;
    switch (mt_json_number_u64(t, value)) {
    case JSON_U64_OK:
        return MT_OK;
    case JSON_U64_NEGATIVE:
        return mt_fail(MT_ERR_FORMAT,
                       "%s: tensor %s: %s is negative (%.*s)",
                       f->label, qname, what, len, t->str);
    case JSON_U64_FRACTION:
    case JSON_U64_EXPONENT:
        return mt_fail(MT_ERR_FORMAT,
                       "%s: tensor %s: %s must be an integer without '.' or "
                       "exponent, found %.*s", f->label, qname, what, len,
                       t->str);
    case JSON_U64_TOO_LARGE:
    default:
        return mt_fail(MT_ERR_FORMAT,
                       "%s: tensor %s: %s does not fit in 64 bits (%.*s%s)",
                       f->label, qname, what, len, t->str,
                       t->len > 40 ? "..." : "");
    }
}

/* gcd for the bit widths (4, 6, 8, 16, 32, 64) and 8. */
static unsigned gcd8(unsigned bits)
{
    unsigned a = bits, b = 8;
    while (b) {
        unsigned t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Element count and byte size of an entry, with overflow checks. */
static mt_status entry_sizes(const mt_safetensors *f, st_entry *e,
                             const char *qname)
{
    char shape[SHAPE_CAP];
    /* f->dims is NULL until the first dim (a file of scalars has none) */
    const uint64_t *dims = f->dims ? f->dims + e->dims_at : NULL;
    uint64_t numel = 1;
    bool zero = false;
    for (size_t i = 0; i < e->rank; i++)
        if (dims[i] == 0) zero = true;
    if (zero) {
        numel = 0;
    } else {
        for (size_t i = 0; i < e->rank; i++) {
            if (numel > UINT64_MAX / dims[i])
                return mt_fail(MT_ERR_FORMAT,
                               "%s: tensor %s: element count of shape %s "
                               "overflows 64 bits", f->label, qname,
                               mt_st_shape_str(shape, sizeof shape, dims,
                                               e->rank));
            numel *= dims[i];
        }
    }
    /* bytes = numel * bits / 8, exactly: numel must be a multiple of
     * k = 8 / gcd(bits, 8) (sub-byte dtypes pack whole bytes only). */
    unsigned g = gcd8(e->dtype->bits);
    uint64_t k = 8 / g, per = e->dtype->bits / g;
    if (numel % k != 0)
        return mt_fail(MT_ERR_FORMAT,
                       "%s: tensor %s: %s %s is %llu x %u bits, not a whole "
                       "number of bytes", f->label, qname, e->dtype->name,
                       mt_st_shape_str(shape, sizeof shape, dims, e->rank),
                       (unsigned long long)numel, e->dtype->bits);
    uint64_t units = numel / k;
    if (units > UINT64_MAX / per)
        return mt_fail(MT_ERR_FORMAT,
                       "%s: tensor %s: byte size of %s %s overflows 64 bits",
                       f->label, qname, e->dtype->name,
                       mt_st_shape_str(shape, sizeof shape, dims, e->rank));
    e->numel = numel;
    e->nbytes = units * per;
    return MT_OK;
}

static mt_status parse_entry(mt_safetensors *f, json_parser *p,
                             const json_token *name)
{
    char qname[QUOTE_CAP], shape[SHAPE_CAP];
    mt_st_quote(qname, sizeof qname, name->str, name->len);
    json_token t;
    mt_status st = mt_json_next(p, &t);
    if (st != MT_OK) return st;
    if (t.kind != JSON_OBJECT_BEGIN)
        return mt_fail(MT_ERR_FORMAT,
                       "%s: tensor %s: entry must be an object with dtype, "
                       "shape and data_offsets, found %s", f->label, qname,
                       mt_json_kind_name(t.kind));

    st_entry e;
    memset(&e, 0, sizeof e);
    e.name = name->str;
    e.name_len = name->len;
    bool have_dtype = false, have_shape = false, have_offsets = false;
    for (;;) {
        if ((st = mt_json_next(p, &t)) != MT_OK) return st;
        if (t.kind == JSON_OBJECT_END) break;
        /* t is a KEY */
        if (key_is(&t, "dtype")) {
            if (have_dtype)
                return mt_fail(MT_ERR_FORMAT,
                               "%s: tensor %s: duplicate key 'dtype'",
                               f->label, qname);
            have_dtype = true;
            if ((st = mt_json_next(p, &t)) != MT_OK) return st;
            if (t.kind != JSON_STRING)
                return mt_fail(MT_ERR_FORMAT,
                               "%s: tensor %s: dtype must be a string, "
                               "found %s", f->label, qname,
                               mt_json_kind_name(t.kind));
            e.dtype = mt_st_dtype_lookup(t.str, t.len);
            if (!e.dtype) {
                char qd[QUOTE_CAP];
                return mt_fail(MT_ERR_FORMAT,
                               "%s: tensor %s: unknown dtype %s (known: BOOL "
                               "U8 I8 I16 U16 F16 BF16 I32 U32 F32 F64 I64 "
                               "U64 C64 F8_* F4 F6_*; case-sensitive)",
                               f->label, qname,
                               mt_st_quote(qd, sizeof qd, t.str, t.len));
            }
        } else if (key_is(&t, "shape")) {
            if (have_shape)
                return mt_fail(MT_ERR_FORMAT,
                               "%s: tensor %s: duplicate key 'shape'",
                               f->label, qname);
            have_shape = true;
            if ((st = mt_json_next(p, &t)) != MT_OK) return st;
            if (t.kind != JSON_ARRAY_BEGIN)
                return mt_fail(MT_ERR_FORMAT,
                               "%s: tensor %s: shape must be an array of "
                               "integers, found %s", f->label, qname,
                               mt_json_kind_name(t.kind));
            e.dims_at = f->dims_count;
            for (;;) {
                if ((st = mt_json_next(p, &t)) != MT_OK) return st;
                if (t.kind == JSON_ARRAY_END) break;
                char what[48];
                snprintf(what, sizeof what, "shape[%zu]", e.rank);
                uint64_t dim;
                if ((st = read_u64(f, &t, qname, what, &dim)) != MT_OK)
                    return st;
                if ((st = push_dim(f, dim)) != MT_OK) return st;
                e.rank++;
            }
        } else if (key_is(&t, "data_offsets")) {
            if (have_offsets)
                return mt_fail(MT_ERR_FORMAT,
                               "%s: tensor %s: duplicate key 'data_offsets'",
                               f->label, qname);
            have_offsets = true;
            if ((st = mt_json_next(p, &t)) != MT_OK) return st;
            if (t.kind != JSON_ARRAY_BEGIN)
                return mt_fail(MT_ERR_FORMAT,
                               "%s: tensor %s: data_offsets must be an array "
                               "[BEGIN, END], found %s", f->label, qname,
                               mt_json_kind_name(t.kind));
            size_t k = 0;
            for (;;) {
                if ((st = mt_json_next(p, &t)) != MT_OK) return st;
                if (t.kind == JSON_ARRAY_END) break;
                if (k == 2)
                    return mt_fail(MT_ERR_FORMAT,
                                   "%s: tensor %s: data_offsets has more "
                                   "than 2 entries", f->label, qname);
                uint64_t v;
                if ((st = read_u64(f, &t, qname,
                                   k == 0 ? "data_offsets[0]"
                                          : "data_offsets[1]",
                                   &v)) != MT_OK)
                    return st;
                if (k == 0) e.begin = v; else e.end = v;
                k++;
            }
            if (k != 2)
                return mt_fail(MT_ERR_FORMAT,
                               "%s: tensor %s: data_offsets has %zu "
                               "entr%s, expected 2 [BEGIN, END]", f->label,
                               qname, k, k == 1 ? "y" : "ies");
        } else {
            char qk[QUOTE_CAP];
            return mt_fail(MT_ERR_FORMAT,
                           "%s: tensor %s: unknown key %s (allowed: dtype, "
                           "shape, data_offsets)", f->label, qname,
                           mt_st_quote(qk, sizeof qk, t.str, t.len));
        }
    }
    if (!have_dtype || !have_shape || !have_offsets)
        return mt_fail(MT_ERR_FORMAT, "%s: tensor %s: missing key '%s'",
                       f->label, qname,
                       !have_dtype ? "dtype"
                                   : !have_shape ? "shape" : "data_offsets");

    if ((st = entry_sizes(f, &e, qname)) != MT_OK) return st;
    if (e.end < e.begin)
        return mt_fail(MT_ERR_FORMAT,
                       "%s: tensor %s: data_offsets [%llu, %llu] end before "
                       "they begin", f->label, qname,
                       (unsigned long long)e.begin,
                       (unsigned long long)e.end);
    if (e.end - e.begin != e.nbytes)
        return mt_fail(MT_ERR_FORMAT,
                       "%s: tensor %s: data_offsets [%llu, %llu] hold %llu "
                       "bytes but %s %s needs %llu", f->label, qname,
                       (unsigned long long)e.begin, (unsigned long long)e.end,
                       (unsigned long long)(e.end - e.begin), e.dtype->name,
                       mt_st_shape_str(shape, sizeof shape,
                                       f->dims ? f->dims + e.dims_at : NULL,
                                       e.rank),
                       (unsigned long long)e.nbytes);

    void *pe = f->entries;
    st = grow(f, &pe, &f->entries_cap, sizeof *f->entries, f->count + 1);
    f->entries = pe;
    if (st != MT_OK) return st;
    f->entries[f->count++] = e;
    return MT_OK;
}

static mt_status parse_metadata(mt_safetensors *f, json_parser *p)
{
    json_token t;
    mt_status st = mt_json_next(p, &t);
    if (st != MT_OK) return st;
    if (t.kind != JSON_OBJECT_BEGIN)
        return mt_fail(MT_ERR_FORMAT,
                       "%s: __metadata__ must be an object of strings, "
                       "found %s", f->label, mt_json_kind_name(t.kind));
    for (;;) {
        if ((st = mt_json_next(p, &t)) != MT_OK) return st;
        if (t.kind == JSON_OBJECT_END) break;
        json_token v;
        if ((st = mt_json_next(p, &v)) != MT_OK) return st;
        if (v.kind != JSON_STRING) {
            char qk[QUOTE_CAP];
            return mt_fail(MT_ERR_FORMAT,
                           "%s: __metadata__ value of key %s must be a "
                           "string, found %s", f->label,
                           mt_st_quote(qk, sizeof qk, t.str, t.len),
                           mt_json_kind_name(v.kind));
        }
        void *pm = f->meta;
        st = grow(f, &pm, &f->meta_cap, sizeof *f->meta, f->meta_count + 1);
        f->meta = pm;
        if (st != MT_OK) return st;
        mt_safetensors_kv *kv = &f->meta[f->meta_count++];
        kv->key = t.str;
        kv->key_len = t.len;
        kv->value = v.str;
        kv->value_len = v.len;
    }
    return MT_OK;
}

/* ---- sorting, duplicates and layout ----------------------------------------- */

static int cmp_entry_name(size_t a, size_t b, const void *ctx)
{
    const st_entry *e = ctx;
    return mt_st_bytes_cmp(e[a].name, e[a].name_len, e[b].name, e[b].name_len);
}

static int cmp_entry_offsets(size_t a, size_t b, const void *ctx)
{
    const st_entry *e = ctx;
    if (e[a].begin != e[b].begin) return e[a].begin < e[b].begin ? -1 : 1;
    if (e[a].end != e[b].end) return e[a].end < e[b].end ? -1 : 1;
    return cmp_entry_name(a, b, ctx);
}

static int cmp_meta_key(size_t a, size_t b, const void *ctx)
{
    const mt_safetensors_kv *m = ctx;
    return mt_st_bytes_cmp(m[a].key, m[a].key_len, m[b].key, m[b].key_len);
}

static mt_status alloc_indices(const mt_safetensors *f, size_t n,
                               size_t **idx, size_t **scratch)
{
    *idx = *scratch = NULL;
    size_t m = n ? n : 1;
    if (m > SIZE_MAX / sizeof(size_t))
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: too many entries",
                       f->label);
    *idx = mt_alloc(m * sizeof(size_t), 16);
    *scratch = mt_alloc(m * sizeof(size_t), 16);
    if (!*idx || !*scratch) {
        if (*idx) mt_dealloc(*idx);
        if (*scratch) mt_dealloc(*scratch);
        *idx = *scratch = NULL;
        return mt_fail(MT_ERR_OUT_OF_MEMORY,
                       "%s: out of memory indexing %zu entries", f->label, n);
    }
    for (size_t i = 0; i < n; i++) (*idx)[i] = i;
    return MT_OK;
}

static mt_status check_metadata_keys(mt_safetensors *f)
{
    size_t n = f->meta_count;
    if (n < 2) return MT_OK;
    size_t *idx, *scratch;
    mt_status st = alloc_indices(f, n, &idx, &scratch);
    if (st != MT_OK) return st;
    mt_st_sort_indices(idx, scratch, n, cmp_meta_key, f->meta);
    mt_safetensors_kv *sorted = mt_alloc(n * sizeof *sorted, 16);
    if (!sorted) {
        mt_dealloc(idx);
        mt_dealloc(scratch);
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory", f->label);
    }
    for (size_t i = 0; i < n; i++) sorted[i] = f->meta[idx[i]];
    mt_dealloc(idx);
    mt_dealloc(scratch);
    mt_dealloc(f->meta);
    f->meta = sorted;
    f->meta_cap = n;
    for (size_t i = 1; i < n; i++) {
        if (mt_st_bytes_cmp(sorted[i - 1].key, sorted[i - 1].key_len,
                         sorted[i].key, sorted[i].key_len) == 0) {
            char qk[QUOTE_CAP];
            return mt_fail(MT_ERR_FORMAT, "%s: duplicate __metadata__ key %s",
                           f->label,
                           mt_st_quote(qk, sizeof qk, sorted[i].key,
                                       sorted[i].key_len));
        }
    }
    return MT_OK;
}

/* Put entries in file order, index them by name, reject duplicate names. */
static mt_status index_entries(mt_safetensors *f)
{
    size_t n = f->count;
    size_t *idx, *scratch;
    mt_status st = alloc_indices(f, n, &idx, &scratch);
    if (st != MT_OK) return st;
    mt_st_sort_indices(idx, scratch, n, cmp_entry_offsets, f->entries);
    st_entry *sorted = mt_alloc((n ? n : 1) * sizeof *sorted, 16);
    f->read = mt_alloc((n ? n : 1) * sizeof *f->read, _Alignof(atomic_bool));
    if (!sorted || !f->read) {
        mt_dealloc(sorted);
        mt_dealloc(idx);
        mt_dealloc(scratch);
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory", f->label);
    }
    for (size_t i = 0; i < n; i++)
        atomic_init(&f->read[i], false);
    static const uint64_t no_dims[1] = {0};  /* shape of scalars, never NULL */
    for (size_t i = 0; i < n; i++) {
        sorted[i] = f->entries[idx[i]];
        sorted[i].shape = f->dims ? f->dims + sorted[i].dims_at : no_dims;
    }
    if (f->entries) mt_dealloc(f->entries);
    f->entries = sorted;
    f->entries_cap = n;

    for (size_t i = 0; i < n; i++) idx[i] = i;
    mt_st_sort_indices(idx, scratch, n, cmp_entry_name, f->entries);
    mt_dealloc(scratch);
    f->by_name = idx;
    for (size_t i = 1; i < n; i++) {
        const st_entry *a = &f->entries[idx[i - 1]], *b = &f->entries[idx[i]];
        if (mt_st_bytes_cmp(a->name, a->name_len, b->name, b->name_len) == 0) {
            char qn[QUOTE_CAP];
            return mt_fail(MT_ERR_FORMAT, "%s: duplicate tensor name %s",
                           f->label, mt_st_quote(qn, sizeof qn, b->name,
                                                 b->name_len));
        }
    }
    return MT_OK;
}

/* Rule 13: in file order the tensors tile [0, data_size) exactly. */
static mt_status check_layout(const mt_safetensors *f)
{
    char qa[QUOTE_CAP], qb[QUOTE_CAP];
    uint64_t cursor = 0;
    const st_entry *prev = NULL;
    for (size_t i = 0; i < f->count; i++) {
        const st_entry *e = &f->entries[i];
        if (e->begin != cursor) {
            mt_st_quote(qb, sizeof qb, e->name, e->name_len);
            if (!prev)
                return mt_fail(MT_ERR_FORMAT,
                               "%s: layout: tensor %s begins at data byte "
                               "%llu, but the first tensor must begin at 0 "
                               "(hole)", f->label, qb,
                               (unsigned long long)e->begin);
            mt_st_quote(qa, sizeof qa, prev->name, prev->name_len);
            if (e->begin > cursor)
                return mt_fail(MT_ERR_FORMAT,
                               "%s: layout: hole of %llu bytes between "
                               "tensor %s (ends at %llu) and tensor %s "
                               "(begins at %llu)", f->label,
                               (unsigned long long)(e->begin - cursor), qa,
                               (unsigned long long)cursor, qb,
                               (unsigned long long)e->begin);
            return mt_fail(MT_ERR_FORMAT,
                           "%s: layout: tensor %s [%llu, %llu] overlaps "
                           "tensor %s [%llu, %llu]", f->label, qb,
                           (unsigned long long)e->begin,
                           (unsigned long long)e->end, qa,
                           (unsigned long long)prev->begin,
                           (unsigned long long)prev->end);
        }
        if (e->end != e->begin) prev = e;
        cursor = e->end;
    }
    if (cursor < f->data_size)
        return mt_fail(MT_ERR_FORMAT,
                       "%s: layout: the tensors end at data byte %llu but "
                       "the data section holds %llu bytes (%llu trailing "
                       "bytes)", f->label, (unsigned long long)cursor,
                       (unsigned long long)f->data_size,
                       (unsigned long long)(f->data_size - cursor));
    if (cursor > f->data_size) {
        mt_st_quote(qa, sizeof qa, prev->name, prev->name_len);
        return mt_fail(MT_ERR_FORMAT,
                       "%s: layout: tensor %s ends at data byte %llu, past "
                       "the end of the %llu-byte data section (truncated "
                       "file?)", f->label, qa, (unsigned long long)cursor,
                       (unsigned long long)f->data_size);
    }
    return MT_OK;
}

/* ---- entry point ------------------------------------------------------------- */

static uint64_t read_le64(const uint8_t *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

/* What a file that is not safetensors is, by its magic number, for the
 * files people pass instead of one; NULL if unknown. */
static const char *foreign_format(const uint8_t *b, size_t size)
{
    if (size >= 4 && memcmp(b, "PK\x03\x04", 4) == 0)
        return "a zip archive (torch.save's .pt/.pth, or a Keras .keras file)";
    if (size >= 8 && memcmp(b, "\x89HDF\r\n\x1a\n", 8) == 0)
        return "an HDF5 file (Keras' .h5 or .weights.h5)";
    // a pickle's third byte is an opcode, never 0; a truncated safetensors
    // file whose header length is 0x280 (or 0x380 …) starts 80 02 00 … '{'
    if (size >= 3 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5 && b[2] != 0 &&
        (size < 9 || b[8] != '{'))
        return "a Python pickle (torch.save's legacy format)";
    if (size >= 4 && memcmp(b, "GGUF", 4) == 0)
        return "a GGUF file";
    return NULL;
}

mt_status mt_st_header_load(mt_safetensors *f)
{
    const uint8_t *b = f->map.base;
    size_t size = f->map.size;

    /* framing (rules 1-3, 6) */
    if (size < 8)
        return mt_fail(MT_ERR_FORMAT,
                       "%s: file is %zu bytes, shorter than the 8-byte "
                       "header length", f->label, size);
    uint64_t n = read_le64(b);
    const char *foreign = foreign_format(b, size);
    if (foreign && (n > ST_MAX_HEADER || n > size - 8))
        return mt_fail(MT_ERR_FORMAT,
                       "%s: not a safetensors file: it is %s; save the weights "
                       "as safetensors (safetensors.torch.save_file(model."
                       "state_dict(), path); docs/porting-a-pytorch-model.md)",
                       f->label, foreign);
    if (n > ST_MAX_HEADER)
        return mt_fail(MT_ERR_FORMAT,
                       "%s: header length %llu exceeds the limit of %u bytes",
                       f->label, (unsigned long long)n, ST_MAX_HEADER);
    if (n > size - 8)
        return mt_fail(MT_ERR_FORMAT,
                       "%s: header length %llu runs past the end of the file "
                       "(%zu bytes follow the length)", f->label,
                       (unsigned long long)n, size - 8);
    if (n == 0)
        return mt_fail(MT_ERR_FORMAT, "%s: header length is 0 (the header "
                       "must be a JSON object)", f->label);
    const uint8_t *hdr = b + 8;
    size_t hlen = (size_t)n;
    mt_st_map_header_ahead(&f->map, 8 + hlen);
    if (hdr[0] != '{') {
        char d[16];
        if (hdr[0] >= 0x20 && hdr[0] < 0x7f)
            snprintf(d, sizeof d, "'%c'", (char)hdr[0]);
        else
            snprintf(d, sizeof d, "byte 0x%02x", (unsigned)hdr[0]);
        return mt_fail(MT_ERR_FORMAT,
                       "%s: header must start with '{', found %s", f->label,
                       d);
    }
    size_t bad;
    if (!mt_st_utf8_valid(hdr, hlen, &bad))
        return mt_fail(MT_ERR_FORMAT,
                       "%s: header is not valid UTF-8 (header byte %zu: "
                       "0x%02x)", f->label, bad, (unsigned)hdr[bad]);
    f->header_len = n;
    f->data = b + 8 + hlen;
    f->data_size = (uint64_t)(size - 8 - hlen);

    /* decoded strings never need more than the header's own bytes */
    f->strings_cap = hlen + 1;
    f->strings = mt_alloc(f->strings_cap, 16);
    if (!f->strings)
        return mt_fail(MT_ERR_OUT_OF_MEMORY,
                       "%s: out of memory for a %zu-byte header", f->label,
                       hlen);

    /* JSON and schema (rules 4-12) */
    json_parser p;
    mt_json_init(&p, f->label, hdr, hlen, f->strings, f->strings_cap);
    json_token t;
    mt_status st = mt_json_next(&p, &t);
    if (st != MT_OK) return st;
    /* t is OBJECT_BEGIN: the first byte is '{' */
    for (;;) {
        if ((st = mt_json_next(&p, &t)) != MT_OK) return st;
        if (t.kind == JSON_OBJECT_END) break;
        if (key_is(&t, "__metadata__")) {
            if (f->has_metadata)
                return mt_fail(MT_ERR_FORMAT,
                               "%s: duplicate key '__metadata__'", f->label);
            f->has_metadata = true;
            st = parse_metadata(f, &p);
        } else {
            st = parse_entry(f, &p, &t);
        }
        if (st != MT_OK) return st;
    }
    if ((st = mt_json_next(&p, &t)) != MT_OK) return st;  /* JSON_EOF */

    /* duplicates (rule 7) and layout (rule 13) */
    if ((st = check_metadata_keys(f)) != MT_OK) return st;
    if ((st = index_entries(f)) != MT_OK) return st;
    return check_layout(f);
}

void mt_st_header_release(mt_safetensors *f)
{
    if (f->strings) mt_dealloc(f->strings);
    if (f->dims) mt_dealloc(f->dims);
    if (f->entries) mt_dealloc(f->entries);
    if (f->by_name) mt_dealloc(f->by_name);
    if (f->read) mt_dealloc(f->read);
    if (f->meta) mt_dealloc(f->meta);
    f->strings = NULL;
    f->dims = NULL;
    f->entries = NULL;
    f->by_name = NULL;
    f->read = NULL;
    f->meta = NULL;
    f->count = f->meta_count = 0;
}

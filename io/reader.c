/* reader.c — open/close, listing, lookup and tensors of a safetensors file.
 * Validation lives in header.c; this file only serves what it built. */
#include <stdio.h>
#include <string.h>

#include "st_internal.h"

#define QUOTE_CAP 400

/* ---- open / close ------------------------------------------------------------ */

static mt_status new_handle(const char *name, mt_safetensors **out)
{
    mt_safetensors *f = mt_alloc(sizeof *f, 16);
    if (!f)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "safetensors: %s: out of memory",
                       name);
    memset(f, 0, sizeof *f);
    /* the label used in every message: "safetensors: <name>" */
    size_t len = strlen(name);
    if (len > 300) len = 300;
    f->label = mt_alloc(len + 16, 1);
    if (!f->label) {
        mt_dealloc(f);
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "safetensors: %s: out of memory",
                       name);
    }
    memcpy(f->label, "safetensors: ", 13);
    memcpy(f->label + 13, name, len);
    f->label[13 + len] = '\0';
    *out = f;
    return MT_OK;
}

static void free_handle(mt_safetensors *f)
{
    mt_st_header_release(f);
    mt_st_unmap(&f->map);
    if (f->label) mt_dealloc(f->label);
    mt_dealloc(f);
}

static mt_status finish_open(mt_safetensors *f, mt_safetensors **out)
{
    mt_status st = mt_st_header_load(f);
    mt_st_map_header_done(&f->map);
    if (st != MT_OK) {
        free_handle(f);
        return st;
    }
    *out = f;
    return MT_OK;
}

static mt_status check_host(const char *name)
{
    if (!mt_st_host_little_endian())
        return mt_fail(MT_ERR_UNSUPPORTED,
                       "safetensors: %s: big-endian hosts are not supported "
                       "(safetensors data is little-endian)", name);
    return MT_OK;
}

mt_status mt_safetensors_open(const char *path, mt_safetensors **out)
{
    if (out) *out = NULL;
    if (!path || !out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "safetensors: open: path and out must not be NULL");
    mt_status st = check_host(path);
    if (st != MT_OK) return st;
    mt_safetensors *f = NULL;
    if ((st = new_handle(path, &f)) != MT_OK) return st;
    if ((st = mt_st_map_file(path, f->label, &f->map)) != MT_OK) {
        free_handle(f);
        return st;
    }
    return finish_open(f, out);
}

mt_status mt_safetensors_open_memory(const void *data, size_t size,
                                     mt_safetensors **out)
{
    if (out) *out = NULL;
    if (!out || (!data && size))
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "safetensors: open_memory: out must not be NULL, "
                       "data must not be NULL when size > 0");
    mt_status st = check_host("<memory>");
    if (st != MT_OK) return st;
    mt_safetensors *f = NULL;
    if ((st = new_handle("<memory>", &f)) != MT_OK) return st;
    f->map.base = data;
    f->map.size = size;
    f->map.kind = ST_MAP_USER;
    return finish_open(f, out);
}

void mt_safetensors_close(mt_safetensors *f)
{
    if (f) free_handle(f);
}

/* ---- listing ------------------------------------------------------------------ */

size_t mt_safetensors_count(const mt_safetensors *f)
{
    return f ? f->count : 0;
}

size_t mt_safetensors_unread(const mt_safetensors *f, size_t *indices, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; f && i < f->count; i++)
        if (!atomic_load_explicit(&f->read[i], memory_order_relaxed)) {
            if (indices && n < cap)
                indices[n] = i;
            n++;
        }
    return n;
}

uint64_t mt_safetensors_header_size(const mt_safetensors *f)
{
    return f ? f->header_len : 0;
}

uint64_t mt_safetensors_data_offset(const mt_safetensors *f)
{
    return f ? 8 + f->header_len : 0;
}

mt_status mt_safetensors_info(const mt_safetensors *f, size_t index,
                              mt_safetensors_entry *entry)
{
    if (!f || !entry)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "safetensors: info: NULL argument");
    if (index >= f->count)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "%s: info: index %zu out of range (%zu tensors)",
                       f->label, index, f->count);
    const st_entry *e = &f->entries[index];
    memset(entry, 0, sizeof *entry);
    entry->name = e->name;
    entry->name_len = e->name_len;
    entry->dtype_name = e->dtype->name;
    entry->storable = e->dtype->mt >= 0;
    entry->dtype = entry->storable ? (mt_dtype)e->dtype->mt : MT_DTYPE_COUNT;
    entry->bits = e->dtype->bits;
    entry->rank = e->rank;
    entry->shape = e->shape;
    entry->numel = e->numel;
    entry->nbytes = e->nbytes;
    entry->begin = e->begin;
    entry->end = e->end;
    entry->file_offset = 8 + f->header_len + e->begin;
    entry->data = f->data + e->begin;
    return MT_OK;
}

mt_status mt_safetensors_find_n(const mt_safetensors *f, const char *name,
                                size_t len, size_t *index)
{
    if (!f || !name || !index)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "safetensors: find: NULL argument");
    size_t lo = 0, hi = f->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const st_entry *e = &f->entries[f->by_name[mid]];
        int c = mt_st_bytes_cmp(e->name, e->name_len, name, len);
        if (c == 0) {
            *index = f->by_name[mid];
            return MT_OK;
        }
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    /* Name the neighbour in sort order that shares the longer prefix: a
     * mistyped or renumbered layer (Keras' dense_3 for dense_2,
     * sequential_1 for sequential) sorts next to the right one. */
    const st_entry *near = NULL;
    size_t best = 0;
    for (size_t k = lo > 0 ? lo - 1 : lo; k <= lo && k < f->count; k++) {
        const st_entry *e = &f->entries[f->by_name[k]];
        size_t p = 0;
        while (p < len && p < e->name_len && e->name[p] == name[p])
            p++;
        if (p > best) {
            best = p;
            near = e;
        }
    }
    char q[QUOTE_CAP], n[QUOTE_CAP];
    if (!near)
        return mt_fail(MT_ERR_NOT_FOUND, "%s: no tensor named %s (%zu tensors)",
                       f->label, mt_st_quote(q, sizeof q, name, len), f->count);
    if (best <= 60)
        return mt_fail(MT_ERR_NOT_FOUND, "%s: no tensor named %s (%zu tensors; the nearest "
                       "name is %s)", f->label, mt_st_quote(q, sizeof q, name, len), f->count,
                       mt_st_quote(n, sizeof n, near->name, near->name_len));
    /* A quote shows 80 bytes: past that both would read alike, so the
     * tails from a little before the first differing byte are shown too
     * (started on a UTF-8 character boundary). */
    size_t from = best - 20;
    while (from > 0 && ((unsigned char)name[from] & 0xc0) == 0x80)
        from--;
    char qt[QUOTE_CAP], nt[QUOTE_CAP];
    return mt_fail(MT_ERR_NOT_FOUND, "%s: no tensor named %s (%zu tensors; the nearest "
                   "name is %s; from byte %zu they read %s and %s)", f->label,
                   mt_st_quote(q, sizeof q, name, len), f->count,
                   mt_st_quote(n, sizeof n, near->name, near->name_len), from,
                   mt_st_quote(qt, sizeof qt, name + from, len - from),
                   mt_st_quote(nt, sizeof nt, near->name + from, near->name_len - from));
}

mt_status mt_safetensors_find(const mt_safetensors *f, const char *name,
                              size_t *index)
{
    if (!name)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "safetensors: find: NULL name");
    return mt_safetensors_find_n(f, name, strlen(name), index);
}

/* ---- tensors ------------------------------------------------------------------- */

/* Can this entry become an mt_tensor at all? Fills shape. */
static mt_status tensor_shape(const mt_safetensors *f, const st_entry *e,
                              int64_t shape[MT_MAX_RANK], const char *op)
{
    char q[QUOTE_CAP];
    if (e->dtype->mt < 0)
        return mt_fail(MT_ERR_DTYPE,
                       "%s: %s: tensor %s has dtype %s, which minitensor "
                       "cannot store (it can still be listed with "
                       "mt_safetensors_info)", f->label, op,
                       mt_st_quote(q, sizeof q, e->name, e->name_len),
                       e->dtype->name);
    if (e->rank > MT_MAX_RANK)
        return mt_fail(MT_ERR_SHAPE,
                       "%s: %s: tensor %s has rank %zu; minitensor tensors "
                       "have at most %d dims", f->label, op,
                       mt_st_quote(q, sizeof q, e->name, e->name_len), e->rank,
                       MT_MAX_RANK);
    /* mt_tensor dims, numel and strides are int64_t: the product of the
     * nonzero dims must fit (it bounds every prefix and suffix product).
     * [2^40, 2^40, 0] is a valid empty safetensors entry, not an mt_tensor. */
    int64_t run = 1;
    for (size_t i = 0; i < e->rank; i++) {
        uint64_t d = e->shape[i];
        if (d > (uint64_t)INT64_MAX || (d != 0 && run > INT64_MAX / (int64_t)d)) {
            char s[160];
            return mt_fail(MT_ERR_OVERFLOW,
                           "%s: %s: tensor %s: shape %s does not fit "
                           "minitensor's int64 dims (dim %zu overflows)",
                           f->label, op,
                           mt_st_quote(q, sizeof q, e->name, e->name_len),
                           mt_st_shape_str(s, sizeof s, e->shape, e->rank), i);
        }
        if (d != 0) run *= (int64_t)d;
        shape[i] = (int64_t)d;
    }
    return MT_OK;
}

static void name_tensor(mt_tensor *t, const st_entry *e)
{
    char name[MT_NAME_MAX];
    size_t n = e->name_len < MT_NAME_MAX - 1 ? e->name_len : MT_NAME_MAX - 1;
    memcpy(name, e->name, n);
    name[n] = '\0';
    mt_tensor_name_set(t, name);
}

/* Entry e was read (relaxed: a flag, read by mt_safetensors_unread). */
static void mark_read(const mt_safetensors *f, const st_entry *e)
{
    atomic_store_explicit(&f->read[e - f->entries], true, memory_order_relaxed);
}

static mt_status get_entry(const mt_safetensors *f, const st_entry *e,
                           mt_tensor **out)
{
    int64_t shape[MT_MAX_RANK];
    mt_status st = tensor_shape(f, e, shape, "get");
    if (st != MT_OK) return st;
    mt_dtype dt = (mt_dtype)e->dtype->mt;
    const uint8_t *p = f->data + e->begin;
    size_t esize = e->dtype->bits / 8;
    mt_tensor *t = NULL;
    if (e->numel == 0 || (uintptr_t)p % esize == 0)
        st = mt_tensor_wrap(dt, (int)e->rank, shape,
                            (void *)(uintptr_t)p, &t);
    else
        st = mt_tensor_from_data(dt, (int)e->rank, shape, p, &t);
    if (st != MT_OK) return st;
    name_tensor(t, e);
    mark_read(f, e);
    *out = t;
    return MT_OK;
}

static mt_status get_f32_entry(const mt_safetensors *f, const st_entry *e,
                               mt_tensor **out)
{
    if (e->dtype->mt == MT_DTYPE_F32) return get_entry(f, e, out);
    int64_t shape[MT_MAX_RANK];
    mt_status st = tensor_shape(f, e, shape, "get_f32");
    if (st != MT_OK) return st;
    mt_tensor *t = NULL;
    st = mt_tensor_zeros(MT_DTYPE_F32, (int)e->rank, shape, &t);
    if (st != MT_OK) return st;
    /* numel fits: mt_tensor_zeros allocated numel floats */
    if (e->numel)
        mt_st_convert_to_f32(t->data, f->data + e->begin,
                             (mt_dtype)e->dtype->mt, (size_t)e->numel);
    name_tensor(t, e);
    mark_read(f, e);
    *out = t;
    return MT_OK;
}

static mt_status lookup(const mt_safetensors *f, const char *name,
                        mt_tensor **out, const st_entry **e)
{
    if (out) *out = NULL;
    if (!f || !name || !out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "safetensors: get: NULL argument");
    size_t i;
    mt_status st = mt_safetensors_find(f, name, &i);
    if (st != MT_OK) return st;
    *e = &f->entries[i];
    return MT_OK;
}

static mt_status lookup_at(const mt_safetensors *f, size_t index,
                           mt_tensor **out, const st_entry **e)
{
    if (out) *out = NULL;
    if (!f || !out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "safetensors: get: NULL argument");
    if (index >= f->count)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "%s: get: index %zu out of range (%zu tensors)",
                       f->label, index, f->count);
    *e = &f->entries[index];
    return MT_OK;
}

mt_status mt_safetensors_get(const mt_safetensors *f, const char *name,
                             mt_tensor **out)
{
    const st_entry *e = NULL;
    mt_status st = lookup(f, name, out, &e);
    return st != MT_OK ? st : get_entry(f, e, out);
}

mt_status mt_safetensors_get_at(const mt_safetensors *f, size_t index,
                                mt_tensor **out)
{
    const st_entry *e = NULL;
    mt_status st = lookup_at(f, index, out, &e);
    return st != MT_OK ? st : get_entry(f, e, out);
}

mt_status mt_safetensors_get_f32(const mt_safetensors *f, const char *name,
                                 mt_tensor **out)
{
    const st_entry *e = NULL;
    mt_status st = lookup(f, name, out, &e);
    return st != MT_OK ? st : get_f32_entry(f, e, out);
}

mt_status mt_safetensors_get_f32_at(const mt_safetensors *f, size_t index,
                                    mt_tensor **out)
{
    const st_entry *e = NULL;
    mt_status st = lookup_at(f, index, out, &e);
    return st != MT_OK ? st : get_f32_entry(f, e, out);
}

mt_status mt_safetensors_get_checked(const mt_safetensors *f,
                                     const char *name, mt_dtype expected,
                                     int rank, const int64_t *shape,
                                     mt_tensor **out)
{
    const st_entry *e = NULL;
    mt_status st = lookup(f, name, out, &e);
    if (st != MT_OK) return st;
    if (rank < 0 || rank > MT_MAX_RANK || (rank > 0 && !shape) ||
        (unsigned)expected >= MT_DTYPE_COUNT) {
        char q[QUOTE_CAP];
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "%s: get_checked: bad expectation for tensor %s "
                       "(rank %d, dtype %d)", f->label,
                       mt_st_quote(q, sizeof q, e->name, e->name_len), rank,
                       (int)expected);
    }
    bool dtype_ok = e->dtype->mt == (int)expected;
    bool shape_ok = e->rank == (size_t)rank;
    for (int i = 0; shape_ok && i < rank; i++)
        shape_ok = shape[i] >= 0 && e->shape[i] == (uint64_t)shape[i];
    if (!dtype_ok || !shape_ok) {
        char q[QUOTE_CAP], want[160], have[160];
        size_t o = 0;
        want[o++] = '[';
        for (int i = 0; i < rank && o < sizeof want - 28; i++)
            o += (size_t)snprintf(want + o, sizeof want - o, "%s%lld",
                                  i ? "," : "", (long long)shape[i]);
        want[o++] = ']';
        want[o] = '\0';
        mt_st_shape_str(have, sizeof have, e->shape, e->rank);
        return mt_fail(dtype_ok ? MT_ERR_SHAPE : MT_ERR_DTYPE,
                       "%s: tensor %s: expected %s %s, found %s %s",
                       f->label, mt_st_quote(q, sizeof q, e->name, e->name_len),
                       mt_dtype_name(expected), want, e->dtype->name, have);
    }
    return get_entry(f, e, out);
}

/* ---- metadata ---------------------------------------------------------------- */

bool mt_safetensors_has_metadata(const mt_safetensors *f)
{
    return f && f->has_metadata;
}

size_t mt_safetensors_metadata_count(const mt_safetensors *f)
{
    return f ? f->meta_count : 0;
}

mt_status mt_safetensors_metadata_at(const mt_safetensors *f, size_t index,
                                     mt_safetensors_kv *kv)
{
    if (!f || !kv)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "safetensors: metadata_at: NULL argument");
    if (index >= f->meta_count)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "%s: metadata_at: index %zu out of range (%zu pairs)",
                       f->label, index, f->meta_count);
    *kv = f->meta[index];
    return MT_OK;
}

mt_status mt_safetensors_metadata_get(const mt_safetensors *f,
                                      const char *key, const char **value,
                                      size_t *value_len)
{
    if (!f || !key || !value)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "safetensors: metadata_get: NULL argument");
    size_t len = strlen(key), lo = 0, hi = f->meta_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const mt_safetensors_kv *kv = &f->meta[mid];
        int c = mt_st_bytes_cmp(kv->key, kv->key_len, key, len);
        if (c == 0) {
            *value = kv->value;
            if (value_len) *value_len = kv->value_len;
            return MT_OK;
        }
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    char q[QUOTE_CAP];
    return mt_fail(MT_ERR_NOT_FOUND, "%s: no __metadata__ key %s", f->label,
                   mt_st_quote(q, sizeof q, key, len));
}

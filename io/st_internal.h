/* st_internal.h (io-private) — what the safetensors modules share.
 *
 * Nothing here is public API. Functions are marked MT_IO_INTERNAL (hidden
 * visibility): they link into the static library (the white-box tests use
 * them) but are not exported from the shared library.
 */
#ifndef MT_IO_ST_INTERNAL_H
#define MT_IO_ST_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minitensor/error.h"
#include "minitensor/memory.h"
#include "minitensor/safetensors.h"
#include "minitensor/tensor.h"

#if defined(__GNUC__) || defined(__clang__)
#define MT_IO_INTERNAL __attribute__((visibility("hidden")))
#else
#define MT_IO_INTERNAL
#endif

/* Every heap byte of io/ comes from mt_alloc/mt_dealloc (memory.h), so
 * that a custom mt_allocator sees it. */

/* ---- limits (see docs/io.md) ---------------------------------------------- */

#define ST_MAX_HEADER 100000000u /* the Rust crate's MAX_HEADER_SIZE */
#define ST_MAX_DEPTH 128         /* JSON nesting bound (serde_json's) */

/* ---- the safetensors dtype table -------------------------------------------
 * One row per dtype name the format defines. */
typedef struct st_dtype_info {
    const char *name;    /* exact, case-sensitive */
    unsigned bits;       /* bits per element */
    int mt;              /* the mt_dtype, or -1 if minitensor cannot store it */
    int rust_order;      /* position in the Rust crate's Dtype enum (writer order) */
} st_dtype_info;

MT_IO_INTERNAL const st_dtype_info *mt_st_dtype_lookup(const char *name,
                                                       size_t len);
MT_IO_INTERNAL const st_dtype_info *mt_st_dtype_of_mt(mt_dtype dtype);

/* ---- small helpers (util.c) ----------------------------------------------- */

/* True on a little-endian host (the only kind the format can be mapped on). */
MT_IO_INTERNAL bool mt_st_host_little_endian(void);

/* Strict UTF-8 check (no overlongs, no surrogates, <= U+10FFFF). Returns
 * true if valid; otherwise *bad is the offset of the first bad byte. */
MT_IO_INTERNAL bool mt_st_utf8_valid(const uint8_t *s, size_t n, size_t *bad);

/* True if the valid UTF-8 character s[0..seq) is a C1 control or a bidi
 * override (terminals act on them: never echoed raw). */
MT_IO_INTERNAL bool mt_st_utf8_control(const uint8_t *s, size_t seq);

/* Write `s` (len bytes) into buf as 'name' for messages: quoted, bytes
 * below 0x20, 0x7f, bytes that are not part of a valid UTF-8 character and
 * the bytes of C1 controls and bidi overrides as \xNN (a message is always
 * valid UTF-8 and prints as itself), cut to about 80 bytes with "...". */
MT_IO_INTERNAL const char *mt_st_quote(char *buf, size_t cap, const char *s,
                                       size_t len);

/* Write "[2,3]" (u64 dims) into buf, cut with "..." if it does not fit. */
MT_IO_INTERNAL const char *mt_st_shape_str(char *buf, size_t cap,
                                           const uint64_t *dims, size_t rank);

/* Stable bottom-up merge sort of an index array (no recursion).
 * scratch holds n entries. cmp returns <0, 0, >0. */
typedef int (*st_cmp_fn)(size_t a, size_t b, const void *ctx);
MT_IO_INTERNAL void mt_st_sort_indices(size_t *idx, size_t *scratch, size_t n,
                                       st_cmp_fn cmp, const void *ctx);

/* Byte-wise comparison of two length-delimited strings (Rust's str order). */
MT_IO_INTERNAL int mt_st_bytes_cmp(const char *a, size_t alen, const char *b,
                                   size_t blen);

/* ---- the mapping (mapping.c) ----------------------------------------------- */

typedef enum st_map_kind {
    ST_MAP_NONE = 0,
    ST_MAP_MMAP,   /* mmap'ed read-only; munmap on close */
    ST_MAP_HEAP,   /* read into an mt_alloc buffer (no mmap on this host) */
    ST_MAP_USER    /* the caller's buffer; not ours to free */
} st_map_kind;

typedef struct st_mapping {
    const uint8_t *base;
    size_t size;
    st_map_kind kind;
} st_mapping;

/* Map `path` read-only (or read it where mmap is unavailable). Touches no
 * page of the file. Messages start with `label`. */
MT_IO_INTERNAL mt_status mt_st_map_file(const char *path, const char *label,
                                        st_mapping *map);
MT_IO_INTERNAL void mt_st_unmap(st_mapping *map);

/* While the header is parsed, a fresh mapping has read-around disabled:
 * header_ahead() asks for the first `len` bytes (8 + N) in one go,
 * header_done() restores the default for reading tensors. No-ops for
 * memory buffers and where mmap is unavailable. */
MT_IO_INTERNAL void mt_st_map_header_ahead(const st_mapping *map, size_t len);
MT_IO_INTERNAL void mt_st_map_header_done(const st_mapping *map);

/* ---- the parsed file (header.c builds it, reader.c serves it) ------------- */

typedef struct st_entry {
    const char *name;        /* decoded, NUL-terminated, in the string arena */
    size_t name_len;
    const st_dtype_info *dtype;
    size_t rank;
    size_t dims_at;          /* index of the first dim in the dims pool */
    const uint64_t *shape;   /* set once the pool stops growing */
    uint64_t numel;
    uint64_t nbytes;
    uint64_t begin, end;     /* data_offsets */
} st_entry;

struct mt_safetensors {
    st_mapping map;
    char *label;             /* "safetensors: <path>" for messages */
    uint64_t header_len;     /* N */
    const uint8_t *data;     /* map.base + 8 + N */
    uint64_t data_size;

    char *strings;           /* decoded names, keys and values */
    size_t strings_cap, strings_used;
    uint64_t *dims;
    size_t dims_count, dims_cap;

    st_entry *entries;       /* sorted by (begin, end, name): file order */
    size_t count, entries_cap;
    size_t *by_name;         /* entry indices sorted by name */
    atomic_bool *read;       /* per entry: a get has read it (mt_safetensors_unread) */

    bool has_metadata;
    mt_safetensors_kv *meta; /* sorted by key */
    size_t meta_count, meta_cap;
};

/* Parse and validate the header at f->map (every rule in docs/io.md) and
 * fill the tables of f. f->label is set. */
MT_IO_INTERNAL mt_status mt_st_header_load(mt_safetensors *f);

/* Release the tables (not the mapping, not the label). */
MT_IO_INTERNAL void mt_st_header_release(mt_safetensors *f);

/* ---- conversion (convert.c) ------------------------------------------------ */

/* dst[i] = (float)element i of src (n elements of dtype, little-endian, any
 * alignment). dtype must be storable. */
MT_IO_INTERNAL void mt_st_convert_to_f32(float *dst, const uint8_t *src,
                                         mt_dtype dtype, size_t n);

#endif

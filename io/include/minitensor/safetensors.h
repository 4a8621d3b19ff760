/* minitensor/safetensors.h — read and write safetensors files.
 *
 * Reading:
 *
 *     mt_safetensors *st;
 *     if (mt_safetensors_open("model.safetensors", &st) != MT_OK) {
 *         fprintf(stderr, "%s\n", mt_last_error());  // names file, rule, tensor
 *         return 1;
 *     }
 *     mt_tensor *w;
 *     if (mt_safetensors_get_checked(st, "fc1.weight", MT_DTYPE_F32, 2,
 *                                    (int64_t[]){784, 128}, &w) != MT_OK) …
 *     …                           // use w
 *     mt_tensor_free(w);          // every tensor you get, before…
 *     mt_safetensors_close(st);   // …the file goes away
 *
 * The file is memory-mapped read-only and validated completely when it is
 * opened (docs/io.md lists every rule and message): after a successful open,
 * every tensor listed can be read and no access will run past the file.
 * Opening costs time proportional to the header, not to the data: no data
 * page is touched until you read a tensor.
 *
 * BORROWED TENSORS. mt_safetensors_get*() return, where the dtype and the
 * alignment allow it, a zero-copy tensor whose data points into the mapping
 * (ownership MT_OWNERSHIP_BORROWED). It is valid only until
 * mt_safetensors_close(): free it (mt_tensor_free) before closing, or copy it
 * with mt_tensor_contiguous() if it must outlive the file. Its data is
 * READ-ONLY: the mapping is PROT_READ, so writing through it crashes. Other
 * tensors are OWNED copies; free them the same way. Code that does not check
 * t->ownership should treat every tensor from a file as borrowed.
 *
 * If another process truncates the file while it is mapped, touching the
 * lost pages raises SIGBUS (true of every mmap reader). Replace files with
 * mt_safetensors_save(), which renames a new file into place and never
 * modifies the old one.
 *
 * Limitations: little-endian hosts only (open fails with MT_ERR_UNSUPPORTED
 * on a big-endian host). Where mmap is unavailable (wasm32/WASI) open reads
 * the whole file into memory. A handle may be read from several threads at
 * once; tensors you get from it follow tensor.h's threading rules.
 *
 * Writing: mt_safetensors_save() validates every input, then writes a
 * temporary file in the target's directory, fsyncs it and renames it over
 * the target: a failure leaves no partial file and the old file untouched.
 */
#ifndef MINITENSOR_SAFETENSORS_H
#define MINITENSOR_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minitensor/error.h"
#include "minitensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An open safetensors file or buffer (opaque). */
typedef struct mt_safetensors mt_safetensors;

/* What the header says about one tensor. Pointers stay valid until
 * mt_safetensors_close(). */
typedef struct mt_safetensors_entry {
    const char *name;        /* UTF-8, NUL-terminated, but may itself contain
                                NUL bytes ("\u0000"): use name_len */
    size_t name_len;
    const char *dtype_name;  /* "F32", "BF16", "F8_E4M3", "F4", … */
    bool storable;           /* true if minitensor has this dtype … */
    mt_dtype dtype;          /* … and this is it (else MT_DTYPE_COUNT) */
    unsigned bits;           /* bits per element: 4, 6, 8, 16, 32 or 64 */
    size_t rank;             /* 0 for a scalar; may exceed MT_MAX_RANK */
    const uint64_t *shape;   /* rank dims, outermost first */
    uint64_t numel;          /* product of dims (1 for a scalar) */
    uint64_t nbytes;         /* end - begin */
    uint64_t begin, end;     /* "data_offsets", relative to the data section */
    uint64_t file_offset;    /* where the bytes start in the file */
    const void *data;        /* the bytes: little-endian, NOT aligned in general */
} mt_safetensors_entry;

/* A metadata key/value pair (__metadata__ holds string -> string).
 * Reading: NUL-terminated strings that may contain NUL bytes; the lengths
 * are exact. Writing: a length of 0 means strlen(). */
typedef struct mt_safetensors_kv {
    const char *key;
    const char *value;
    size_t key_len;
    size_t value_len;
} mt_safetensors_kv;

/* ---- opening ---------------------------------------------------------------- */

/* Open and validate the file at `path` (mmap, read-only). On failure *out is
 * NULL and mt_last_error() says "safetensors: PATH: <what is wrong>":
 * MT_ERR_IO (cannot open/map/read; not a regular file), MT_ERR_FORMAT (a
 * rule of docs/io.md is broken, sizes that overflow included),
 * MT_ERR_OUT_OF_MEMORY, MT_ERR_UNSUPPORTED (big-endian host, or a file
 * larger than the address space). */
mt_status mt_safetensors_open(const char *path, mt_safetensors **out);

/* The same over a whole file image already in memory, without copying it
 * (embedded weights). The caller keeps `data` alive and unmodified until
 * mt_safetensors_close(); borrowed tensors point into it. Messages name the
 * file "<memory>". */
mt_status mt_safetensors_open_memory(const void *data, size_t size,
                                     mt_safetensors **out);

/* Unmap and free. Every borrowed tensor from f becomes invalid. NULL is
 * ignored. */
void mt_safetensors_close(mt_safetensors *f);

/* ---- listing ---------------------------------------------------------------- */

/* Number of tensors (0 for NULL). */
size_t mt_safetensors_count(const mt_safetensors *f);

/* The tensors no mt_safetensors_get* call has read since f was opened, as
 * PyTorch's load_state_dict(strict=True) reports "unexpected keys": after
 * building a model from f, a tensor left here is one the model does not
 * use (a layer not loaded, a BatchNorm's statistics under a prefix read as
 * another kind of layer, a checkpoint of another model), or a buffer it
 * does not need (GPT-2's attn.bias masks). Returns how many there are and
 * writes the first min(that, cap) indices, in file order (for
 * mt_safetensors_info), to indices (NULL with cap 0: count only). 0 for
 * NULL f. A get that fails does not count as a read; gets may run on other
 * threads meanwhile. */
size_t mt_safetensors_unread(const mt_safetensors *f, size_t *indices, size_t cap);

/* Describe tensor `index` (0 <= index < count). Tensors are numbered in file
 * order: by data_offsets, ties (empty tensors) by name.
 * MT_ERR_INVALID_ARGUMENT for NULL arguments or index out of range. */
mt_status mt_safetensors_info(const mt_safetensors *f, size_t index,
                              mt_safetensors_entry *entry);

/* The index of the tensor called `name` (a C string), in O(log count).
 * MT_ERR_NOT_FOUND (message names the tensor) if there is none. */
mt_status mt_safetensors_find(const mt_safetensors *f, const char *name,
                              size_t *index);

/* The same for a name of `len` bytes that may contain NUL bytes. */
mt_status mt_safetensors_find_n(const mt_safetensors *f, const char *name,
                                size_t len, size_t *index);

/* Header length N, and the file offset of the data section (8 + N). */
uint64_t mt_safetensors_header_size(const mt_safetensors *f);
uint64_t mt_safetensors_data_offset(const mt_safetensors *f);

/* ---- tensors ----------------------------------------------------------------- */

/* The tensor `name` with its stored dtype and shape, named after it (name
 * truncated to MT_NAME_MAX-1 bytes). Zero-copy BORROWED (see above) if the
 * bytes are aligned to the element size, else an OWNED copy. Free it with
 * mt_tensor_free() before mt_safetensors_close().
 * Fails with MT_ERR_NOT_FOUND; MT_ERR_DTYPE if minitensor cannot store the
 * dtype (F8_*, C64, F4, F6_*); MT_ERR_SHAPE if rank > MT_MAX_RANK;
 * MT_ERR_OVERFLOW if a dim exceeds INT64_MAX; MT_ERR_OUT_OF_MEMORY. */
mt_status mt_safetensors_get(const mt_safetensors *f, const char *name,
                             mt_tensor **out);

/* The same by index (names with NUL bytes, or a walk over the file). */
mt_status mt_safetensors_get_at(const mt_safetensors *f, size_t index,
                                mt_tensor **out);

/* The tensor as F32: an F32 tensor as mt_safetensors_get() returns it
 * (zero-copy when aligned); F16, BF16 exactly, F64 rounded to nearest,
 * integers by value (rounded to nearest float), BOOL as 0/1 — a new OWNED
 * tensor. MT_ERR_DTYPE for dtypes minitensor cannot store. */
mt_status mt_safetensors_get_f32(const mt_safetensors *f, const char *name,
                                 mt_tensor **out);
mt_status mt_safetensors_get_f32_at(const mt_safetensors *f, size_t index,
                                    mt_tensor **out);

/* mt_safetensors_get(), after checking that the tensor has exactly dtype
 * `expected` and shape `shape` (rank entries). A mismatch fails with
 * MT_ERR_DTYPE or MT_ERR_SHAPE and a message naming the tensor, the expected
 * and the actual dtype and shape: "safetensors: m.st: tensor 'fc1.weight':
 * expected F32 [784,128], found F16 [128,784]". */
mt_status mt_safetensors_get_checked(const mt_safetensors *f,
                                     const char *name, mt_dtype expected,
                                     int rank, const int64_t *shape,
                                     mt_tensor **out);

/* ---- metadata ---------------------------------------------------------------- */

/* True if the header has a "__metadata__" object (even an empty one). */
bool mt_safetensors_has_metadata(const mt_safetensors *f);

/* Number of metadata pairs (0 if none). */
size_t mt_safetensors_metadata_count(const mt_safetensors *f);

/* Pair `index`, in byte order of the keys. MT_ERR_INVALID_ARGUMENT if out of
 * range. */
mt_status mt_safetensors_metadata_at(const mt_safetensors *f, size_t index,
                                     mt_safetensors_kv *kv);

/* The value for the C-string `key`; value_len may be NULL.
 * MT_ERR_NOT_FOUND if the key is absent. */
mt_status mt_safetensors_metadata_get(const mt_safetensors *f,
                                      const char *key, const char **value,
                                      size_t *value_len);

/* ---- writing ----------------------------------------------------------------- */

/* One tensor to write. name_len 0 means strlen(name). Any dtype, rank 0…
 * MT_MAX_RANK, zero-size and non-contiguous tensors (written in element
 * order). */
typedef struct mt_safetensors_item {
    const char *name;
    size_t name_len;
    const mt_tensor *tensor;
} mt_safetensors_item;

/* Write `items` and `metadata` (may be NULL with n_metadata 0) to `path`.
 *
 * Layout (byte-compatible with the Rust crate): header '{'-first, compact
 * JSON, "__metadata__" first (keys in byte order) when n_metadata > 0,
 * space-padded to a multiple of 8; data sorted by dtype (widest first, the
 * crate's order) then name, no gaps — so every tensor is aligned to its
 * element size in the file.
 *
 * All inputs are validated before any file is created (NULLs, names not
 * UTF-8, duplicate names or keys, "__metadata__" as a tensor name, bad
 * dtype/rank/shape/strides, sizes that overflow): MT_ERR_INVALID_ARGUMENT,
 * MT_ERR_OVERFLOW. The bytes then go to a new temporary file next to
 * `path`, which is fsynced and renamed over `path` (the directory is then
 * fsynced): MT_ERR_IO on failure, with the system's reason, in which case
 * the temporary file is removed and an existing file at `path` is
 * untouched. The machinery is mt_file_write_atomic's (minitensor/file.h):
 * a FIFO, device or directory at `path` is refused (MT_ERR_IO "not a
 * regular file"); an existing file keeps its mode (and owner and group
 * where the process may set them), a new one gets 0666 & ~umask; if `path`
 * is a symlink, the link itself is replaced; temporary files left by
 * killed saves of the same target are removed; any legal file name works
 * (the temporary name is shortened to fit NAME_MAX). */
mt_status mt_safetensors_save(const char *path,
                              const mt_safetensors_item *items, size_t n_items,
                              const mt_safetensors_kv *metadata,
                              size_t n_metadata);

/* The same file image in memory: *out (64-byte aligned, free it with
 * mt_safetensors_buffer_free) holds *out_size bytes. */
mt_status mt_safetensors_serialize(const mt_safetensors_item *items,
                                   size_t n_items,
                                   const mt_safetensors_kv *metadata,
                                   size_t n_metadata, void **out,
                                   size_t *out_size);

/* Free a buffer from mt_safetensors_serialize(). NULL is ignored. */
void mt_safetensors_buffer_free(void *buffer);

#ifdef __cplusplus
}
#endif
#endif

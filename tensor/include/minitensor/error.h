/* minitensor/error.h — how every minitensor function reports failure.
 *
 * Every public function that can fail returns an mt_status. MT_OK (0) means
 * success; anything else means nothing was written to the caller's outputs
 * (out-pointers are left NULL, output tensors of *_into functions are left
 * untouched unless the function says otherwise) and nothing was leaked.
 *
 * After a failure, mt_last_error() returns a one-line message naming the
 * operation, the shapes/dtypes and, where known, the tensor names:
 *
 *     if (mt_matmul(a, b, &c) != MT_OK)
 *         fprintf(stderr, "%s\n", mt_last_error());
 *     // -> "matmul: inner dimensions differ: [2,3] x [4,5]"
 *
 * The message is thread-local and stays valid until the next failing call on
 * the same thread. minitensor never calls abort() or exit() on caller input.
 */
#ifndef MINITENSOR_ERROR_H
#define MINITENSOR_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mt_status {
    MT_OK = 0,
    MT_ERR_INVALID_ARGUMENT, /* NULL pointer, bad option, out-of-range dim */
    MT_ERR_SHAPE,            /* shapes do not fit the operation */
    MT_ERR_DTYPE,            /* dtype not supported by the operation */
    MT_ERR_OVERFLOW,         /* a size computation would overflow */
    MT_ERR_OUT_OF_MEMORY,    /* an allocation failed */
    MT_ERR_IO,               /* open/read/write/rename failed */
    MT_ERR_FORMAT,           /* a file or buffer is malformed */
    MT_ERR_NOT_FOUND,        /* a named tensor/key does not exist */
    MT_ERR_UNSUPPORTED,      /* valid request this build/host cannot do */
    MT_STATUS_COUNT
} mt_status;

/* "MT_ERR_SHAPE" etc.; "MT_STATUS_UNKNOWN" for values out of range. */
const char *mt_status_name(mt_status status);

/* The message of the last failure on this thread ("" if none yet).
 * Never NULL. Owned by minitensor; copy it if you need it later. */
const char *mt_last_error(void);

/* Clear the message (mt_last_error() returns "" afterwards). */
void mt_clear_error(void);

/* Record a printf-style message as this thread's last error and return
 * `status` — for code built on minitensor (your own layers, loaders) to
 * report failures the same way: `return mt_fail(MT_ERR_SHAPE, "…");`.
 * Messages longer than 512 bytes are truncated. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
mt_status mt_fail(mt_status status, const char *fmt, ...);

#ifdef __cplusplus
}
#endif
#endif

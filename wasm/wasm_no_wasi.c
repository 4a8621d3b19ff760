/* wasm_no_wasi.c — keeps WASI's getenv out of minitensor-mnist.wasm.
 *
 * The module must import nothing. tensor/backend.c (MT_BACKEND,
 * MT_NUM_THREADS) and tensor/native/gemm_native.c (MT_NATIVE_KERNEL) call
 * getenv, and wasi-libc's imports environ_get, environ_sizes_get and
 * proc_exit. A module has no environment: this getenv finds nothing, so the
 * library uses its defaults (and the module sets backend and threads
 * explicitly anyway). A libc definition is only pulled from libc.a when
 * nothing else defines it, so this one wins at link time; module_malloc.c
 * and module_format.c replace malloc and vsnprintf the same way.
 */
#include <stdlib.h>

char *getenv(const char *name)
{
    (void)name;
    return NULL;
}

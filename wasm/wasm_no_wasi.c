/* wasm_no_wasi.c — keeps WASI out of minitensor-mnist.wasm.
 *
 * The module must import nothing. Two libc paths the library reaches would
 * import WASI functions, and this file (with a link option) replaces them:
 *
 *   getenv        tensor/backend.c (MT_BACKEND, MT_NUM_THREADS) and
 *                 tensor/native/gemm_native.c (MT_NATIVE_KERNEL) call it;
 *                 wasi-libc's getenv imports environ_get, environ_sizes_get
 *                 and proc_exit. A module has no environment: this getenv
 *                 finds nothing, so the library uses its defaults (and the
 *                 module sets backend and threads explicitly anyway).
 *   vsnprintf     (mt_fail's messages) pulls wasi-libc's vfprintf.o, whose
 *                 "long double not supported" path writes to stderr
 *                 (fd_write, fd_seek, fd_close). Linking the long-double
 *                 variant first (-lc-printscan-long-double, wasm/meson.build)
 *                 has no such path.
 *
 * A libc definition is only pulled from libc.a when something needs it, so
 * this definition wins at link time; no library source is changed.
 */
#include <stdlib.h>

char *getenv(const char *name)
{
    (void)name;
    return NULL;
}

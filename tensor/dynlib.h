/* dynlib.h (internal) — a BLAS library opened at run time (dlopen), so that
 * programs that never select it do not load it (nor its libgfortran,
 * libgomp, libquadmath) at start-up. Not on wasm32 (no dlopen there).
 */
#ifndef MT_DYNLIB_H
#define MT_DYNLIB_H

#include <stdbool.h>
#include <stddef.h>

/* One function to resolve: its name and where to store its address (a
 * pointer to a function-pointer variable of the right type). */
typedef struct mt_dynlib_symbol {
    const char *name;
    void *address;
} mt_dynlib_symbol;

/* Which library, where to find it, and what to tell the user if it is not
 * there. The file opened is getenv(env) if set and non-empty, else soname. */
typedef struct mt_dynlib {
    const char *what;    /* "OpenBLAS" */
    const char *env;     /* "MT_OPENBLAS_LIBRARY" */
    const char *soname;  /* "libopenblas.so.0" */
    const char *package; /* the Debian package that installs soname */
} mt_dynlib;

/* Opens lib (RTLD_NOW | RTLD_LOCAL: its symbols never bind anything but
 * these lookups) and resolves all `count` symbols. True on success; the
 * library then stays loaded for the life of the process. On failure nothing
 * stays loaded, no address is written, and error (size bytes) holds one
 * sentence: the library, the file tried, dlerror's text, the package to
 * install and the variable that names another file. Not thread-safe: call
 * under pthread_once. */
bool mt_dynlib_open(const mt_dynlib *lib, const mt_dynlib_symbol *symbols, int count,
                    char *error, size_t size);

#endif

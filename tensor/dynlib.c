/* dynlib.c — opening a BLAS library at run time (see dynlib.h). */
#define _GNU_SOURCE /* dl_iterate_phdr */
#include <assert.h>
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynlib.h"

enum { MAX_SYMBOLS = 16 };

/* dl_iterate_phdr visits the program first: does it name an interpreter? */
static int note_interp(struct dl_phdr_info *info, size_t size, void *dynamic)
{
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_INTERP)
            *(bool *)dynamic = true;
    return 1; /* stop after the program */
}

/* True if this program was linked statically (no PT_INTERP: static and
 * static-pie). glibc's dlopen there loads a second libc.so for the BLAS
 * library and its threads crash (OpenBLAS segfaults in its constructor). */
static bool program_is_static(void)
{
    bool dynamic = false;
    dl_iterate_phdr(note_interp, &dynamic);
    return !dynamic;
}

bool mt_dynlib_open(const mt_dynlib *lib, const mt_dynlib_symbol *symbols, int count,
                    char *error, size_t size)
{
    const char *env = getenv(lib->env);
    const char *file = env && *env ? env : lib->soname;
    if (program_is_static()) {
        snprintf(error, size, "%s: cannot load %s into a statically linked program "
                 "(link the program dynamically to use %s)", lib->what, file, lib->what);
        return false;
    }
    void *handle = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *why = dlerror();
        snprintf(error, size, "%s: cannot load %s: %s (on Debian: apt install %s; "
                 "%s=FILE names another library file)", lib->what, file,
                 why ? why : "unknown error", lib->package, lib->env);
        return false;
    }
    void *found[MAX_SYMBOLS];
    assert(count <= MAX_SYMBOLS);
    for (int i = 0; i < count; i++) {
        (void)dlerror();
        found[i] = dlsym(handle, symbols[i].name);
        if (!found[i]) {
            const char *why = dlerror();
            snprintf(error, size, "%s: %s has no %s: %s (is it %s? %s=FILE names "
                     "another library file)", lib->what, file, symbols[i].name,
                     why ? why : "NULL address", lib->what, lib->env);
            dlclose(handle);
            return false;
        }
    }
    /* POSIX guarantees a dlsym'd function address round-trips through
     * void *; memcpy says so without ISO C's object/function pointer cast. */
    for (int i = 0; i < count; i++)
        memcpy(symbols[i].address, &found[i], sizeof found[i]);
    return true;
}

/* wasi_tmp.h — mkstemp and mkdtemp for the wasm32 test builds, which the
 * suites use for their scratch files under /tmp. wasi-libc leaves them out
 * ("WASI has no temp directories"), but under Node's WASI with "/"
 * preopened (cross/wasi-run.mjs) /tmp is an ordinary directory. Force-
 * included into every test file by tests/wasm/meson.build. */
#ifndef MT_WASI_TMP_H
#define MT_WASI_TMP_H

int mkstemp(char *template_);
char *mkdtemp(char *template_);

#endif

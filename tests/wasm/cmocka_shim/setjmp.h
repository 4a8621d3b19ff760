/* setjmp.h — an empty stand-in for the wasm32 test builds only. wasi-libc
 * has no setjmp.h, and cmocka's users include it before <cmocka.h> by
 * cmocka's convention; the shim's cmocka.h (beside this file) needs
 * nothing from it. Any use of jmp_buf/setjmp in a test fails to compile. */
#ifndef MT_CMOCKA_SHIM_SETJMP_H
#define MT_CMOCKA_SHIM_SETJMP_H
#endif

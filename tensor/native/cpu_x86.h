/* cpu_x86.h (internal) — may this x86-64 CPU run an ISA extension?
 *
 * MT_X86_HAS(AVX2, "avx2"): glibc's answer where it has one
 * (<sys/platform/x86.h>, glibc >= 2.33: the features ld.so already read at
 * start-up, including whether the OS saves the vector state), else the
 * compiler's __builtin_cpu_supports. Not the builtin everywhere: linking
 * it adds libgcc's constructor, which runs a dozen cpuid instructions at
 * the start of every program, and in a VM each cpuid traps to the
 * hypervisor (~5 us each on the Zen 4 VM: ~60 us of `mnist predict`).
 */
#ifndef MT_CPU_X86_H
#define MT_CPU_X86_H

#if defined(__has_include)
#if __has_include(<sys/platform/x86.h>)
#include <sys/platform/x86.h>
#define MT_X86_HAS(glibc_name, gcc_name) (CPU_FEATURE_ACTIVE(glibc_name) != 0)
#endif
#endif
#ifndef MT_X86_HAS
#define MT_X86_HAS(glibc_name, gcc_name) (__builtin_cpu_init(), __builtin_cpu_supports(gcc_name))
#endif

#endif

/* cache.c — the data cache sizes the CPU reports, for the GEMM blocking.
 *
 * Linux: sysfs (/sys/devices/system/cpu/cpu0/cache/index*: level, type,
 * size, shared_cpu_list). x86-64 without it: cpuid leaf 4 (Intel) or
 * 0x8000001D (AMD, "cache topology"); both describe each cache as ways ×
 * partitions × line size × sets and how many logical CPUs may share it.
 * wasm32 and anything else: unknown (0), and gemm_native.c keeps the
 * kernel's own constants.
 */
#define _DEFAULT_SOURCE /* O_CLOEXEC under -std=c11 */
#include <stdio.h>
#include <string.h>
#if defined(__linux__)
#include <fcntl.h>
#include <unistd.h>
#endif

#include "native.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define MT_CACHE_CPUID 1
#endif

#if defined(MT_CACHE_CPUID) || defined(__linux__)
/* Files one cache into out: data or unified caches of level 1..3 only.
 * shared is how many logical CPUs share it (>= 1), ways its associativity
 * (0 if unknown). */
static void record(mt_native_caches *out, int level, bool data_or_unified,
                   int64_t bytes, int64_t shared, int64_t ways)
{
    if (!data_or_unified || bytes <= 0)
        return;
    if (level == 1 && !out->l1d) {
        out->l1d = bytes;
        out->l1d_way = ways > 0 ? bytes / ways : 0;
    }
    else if (level == 2 && !out->l2)
        out->l2 = bytes;
    else if (level == 3 && !out->l3)
        out->l3 = bytes / (shared > 0 ? shared : 1);
}
#endif

#ifdef MT_CACHE_CPUID
// false if the CPU does not have the leaf
static bool from_cpuid_leaf(unsigned leaf, mt_native_caches *out)
{
    if ((unsigned)__get_cpuid_max(leaf & 0x80000000u, NULL) < leaf)
        return false;
    for (unsigned i = 0; i < 16; i++) {
        unsigned a, b, c, d;
        __cpuid_count(leaf, i, a, b, c, d);
        unsigned type = a & 31; // 0 no more caches, 1 data, 2 code, 3 unified
        if (type == 0)
            break;
        int64_t bytes = (int64_t)((b >> 22) + 1) * (((b >> 12) & 0x3ff) + 1) *
                        ((b & 0xfff) + 1) * ((int64_t)c + 1);
        record(out, (int)((a >> 5) & 7), type == 1 || type == 3, bytes,
               (int64_t)((a >> 14) & 0xfff) + 1, (int64_t)(b >> 22) + 1);
    }
    return out->l1d > 0;
}
#endif

#if defined(__linux__)
/* The first line of a small sysfs file into buf (NUL-terminated); false if
 * unreadable. open/read, not stdio: this runs at the first matmul of every
 * process, and each fopen costs a buffer allocation and an fstat besides. */
static bool sysfs_read(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    return true;
}

// "32K", "1024K", "32M" -> bytes; 0 if unreadable
static int64_t sysfs_number(const char *path, bool size)
{
    char buf[64];
    if (!sysfs_read(path, buf, sizeof buf))
        return 0;
    int64_t v = 0;
    const char *p = buf;
    for (; *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (*p - '0');
    if (size && *p == 'K')
        v *= 1024;
    else if (size && *p == 'M')
        v *= 1024 * 1024;
    return v;
}

// CPUs in a list like "0-3,8-11"
static int64_t sysfs_cpu_count(const char *path)
{
    char buf[256];
    if (!sysfs_read(path, buf, sizeof buf))
        return 1;
    int64_t count = 0, lo = -1, v = -1;
    for (const char *p = buf; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            v = (v < 0 ? 0 : v * 10) + (*p - '0');
        } else if (*p == '-') {
            lo = v;
            v = -1;
        } else if (v >= 0) { // ',' or '\n' ends a number or a range
            count += lo >= 0 ? v - lo + 1 : 1;
            lo = v = -1;
        }
    }
    if (v >= 0)
        count += lo >= 0 ? v - lo + 1 : 1;
    return count > 0 ? count : 1;
}

/* Reads only what record() uses: nothing more of an instruction cache, the
 * associativity of level 1 only and the sharing CPUs of level 3 only (each
 * sysfs file costs ~9 us on a VM). */
static void from_sysfs(mt_native_caches *out)
{
    for (int i = 0; i < 8; i++) {
        char path[128], type[32];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        if (!sysfs_read(path, type, sizeof type))
            break;
        if (strncmp(type, "Data", 4) && strncmp(type, "Unified", 7))
            continue;
        char base[80];
        snprintf(base, sizeof base, "/sys/devices/system/cpu/cpu0/cache/index%d/", i);
        snprintf(path, sizeof path, "%slevel", base);
        int level = (int)sysfs_number(path, false);
        snprintf(path, sizeof path, "%ssize", base);
        int64_t bytes = sysfs_number(path, true);
        snprintf(path, sizeof path, "%sshared_cpu_list", base);
        int64_t shared = level == 3 ? sysfs_cpu_count(path) : 1;
        snprintf(path, sizeof path, "%sways_of_associativity", base);
        record(out, level, true, bytes, shared, level == 1 ? sysfs_number(path, false) : 0);
    }
}
#endif

mt_native_caches mt_native_caches_sysfs(void)
{
    mt_native_caches c = {0};
#if defined(__linux__)
    from_sysfs(&c);
#endif
    return c;
}

mt_native_caches mt_native_caches_cpuid(void)
{
    mt_native_caches c = {0};
#ifdef MT_CACHE_CPUID
    if (from_cpuid_leaf(4, &c))
        return c;
    c = (mt_native_caches){0};
    if (!from_cpuid_leaf(0x8000001Du, &c))
        c = (mt_native_caches){0};
#endif
    return c;
}

/* sysfs first where there is one: its shared_cpu_list counts the CPUs
 * that really share the L3, where cpuid gives the width of an APIC-ID
 * field (an Intel leaf 4 may say 64 for a 24-core L3). cpuid when sysfs
 * is missing (some containers). */
#ifndef __wasm__
mt_native_caches mt_native_caches_detect(void)
{
    mt_native_caches c = mt_native_caches_sysfs();
    return c.l1d > 0 ? c : mt_native_caches_cpuid();
}
#endif

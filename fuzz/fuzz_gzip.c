/* fuzz_gzip.c — libFuzzer target: the streaming gzip reader (io_gz) over
 * arbitrary bytes, read in chunks whose sizes come from the input itself
 * (so reads end inside members, at their ends, between them), with the
 * output bounded as the IDX reader bounds it. Build and run with
 * fuzz/run.sh SECONDS gzip. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "formats_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUT_CAP (1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* first byte: the chunk-size pattern; the rest: the gzip stream */
    unsigned pattern = data[0];
    io_source src = {.fd = -1, .mem = data + 1, .size = size - 1, .label = "fuzz"};
    io_gz *gz;
    if (mt_io_gz_open(&src, 1 << 16, &gz) != MT_OK)
        return 0;
    static unsigned char out[OUT_CAP];
    size_t total = 0;
    for (unsigned i = 0; total < OUT_CAP; i++) {
        size_t want = ((pattern >> (i % 8)) & 1) ? 1 + (i * 7919u) % 4096 : 1;
        if (want > OUT_CAP - total)
            want = OUT_CAP - total;
        size_t got;
        if (mt_io_gz_read(gz, out + total, want, &got) != MT_OK)
            break;
        if (got > want)
            abort();
        total += got;
        if (got < want)
            break;   /* the end */
    }
    mt_io_gz_close(gz);
    return 0;
}

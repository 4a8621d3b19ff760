/* fuzz_idx.c — libFuzzer target: arbitrary bytes as an IDX file, parsed
 * in place (mt_idx_parse) and read as a stream, plain or gzip
 * (mt_io_idx_read, what mt_idx_load does with a file). The two must agree on
 * plain input; every byte of an accepted file is touched. Build and run
 * with fuzz/run.sh SECONDS idx. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "formats_internal.h"
#include "minitensor/idx.h"
#include "minitensor/memory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned touch(const mt_idx *idx)
{
    uint64_t n = 1;
    for (int d = 0; d < idx->rank; d++)
        n *= (uint64_t)idx->dim[d];
    unsigned sum = 0;
    for (uint64_t i = 0; i < n; i++)
        sum += idx->data[i];
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mt_idx parsed;
    mt_status p = mt_idx_parse(data, size, "fuzz", &parsed);
    if (p == MT_OK) {
        size_t header = 4 + 4 * (size_t)parsed.rank;
        if (parsed.data != data + header)
            abort();
        (void)touch(&parsed);
    }
    io_source src = {.fd = -1, .mem = data, .size = size, .label = "fuzz"};
    unsigned char *bytes;
    size_t n;
    mt_status r = mt_io_idx_read(&src, &bytes, &n);
    if (r == MT_OK) {
        mt_idx streamed;
        if (mt_idx_parse(bytes, n, "fuzz", &streamed) != MT_OK)
            abort();   /* what the stream accepted, the parser accepts */
        (void)touch(&streamed);
        if (!mt_io_is_gzip(data, size) && (p != MT_OK || n != size))
            abort();   /* plain input: both readers agree */
        mt_dealloc(bytes);
    } else if (!mt_io_is_gzip(data, size) && p == MT_OK) {
        abort();
    }
    return 0;
}

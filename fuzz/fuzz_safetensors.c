/* fuzz_safetensors.c — libFuzzer target: arbitrary bytes opened from memory,
 * then every tensor walked through every accessor and re-serialized
 * (st_walk.h). Build and run with fuzz/run.sh SECONDS. */
#include <stddef.h>
#include <stdint.h>

#include "st_walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_walk(data, size);
    return 0;
}

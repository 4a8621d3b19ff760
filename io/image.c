/* image.c — load an image file, choosing the decoder by its signature. */
#include <string.h>

#include "formats_internal.h"
#include "minitensor/image.h"
#include "minitensor/memory.h"

mt_status mt_image_load(const char *path, uint8_t matte, mt_image *img)
{
    static const unsigned char png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (!path || !img)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "image_load: %s is NULL",
                       path ? "img" : "path");
    memset(img, 0, sizeof *img);
    unsigned char *bytes;
    size_t size;
    mt_status s = mt_io_read_file(path, MT_IMAGE_MAX_FILE, "an image", &bytes, &size);
    if (s)
        return s;
    if (size >= 2 && bytes[0] == 'P' && (bytes[1] == '2' || bytes[1] == '5'))
        s = mt_pgm_decode(bytes, size, path, img);
    else if (size >= 8 && memcmp(bytes, png_magic, 8) == 0)
        s = mt_png_decode(bytes, size, path, matte, img);
    else
        s = mt_fail(MT_ERR_FORMAT, "%s: not a PGM (P2/P5) or PNG image%s", path,
                    size ? "" : " (empty file)");
    mt_dealloc(bytes);
    return s;
}

void mt_image_free(mt_image *img)
{
    if (!img)
        return;
    mt_dealloc(img->pixels);
    memset(img, 0, sizeof *img);
}

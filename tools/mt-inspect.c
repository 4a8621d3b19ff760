/* mt-inspect — list the tensors and metadata of a safetensors file.
 *
 *   mt-inspect FILE          a table: name, dtype, shape, bytes, offsets;
 *                            then the metadata
 *   mt-inspect --json FILE   the same as JSON:
 *       {"tensors": [{"name": …, "dtype": …, "shape": […],
 *                     "data_offsets": [b, e]}, …],
 *        "metadata": {…} or null}
 *
 * The file is validated completely first (the library's rules, docs/io.md).
 * Exit status: 0 listed, 1 invalid or unreadable file ("mt-inspect: FILE:
 * <reason>" on stderr), 2 usage error.
 */
#include <stdio.h>
#include <string.h>

#include "minitensor/safetensors.h"
#include "minitensor/version.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mt-inspect [--json] FILE\n"
            "\n"
            "List the tensors (name, dtype, shape, bytes, data offsets) and the\n"
            "metadata of a safetensors file, after validating all of it.\n"
            "\n"
            "  --json     print JSON: {\"tensors\": [{\"name\", \"dtype\", \"shape\",\n"
            "             \"data_offsets\"}, ...], \"metadata\": {...} or null}\n"
            "  --help     show this help\n"
            "  --version  show the minitensor version\n"
            "\n"
            "Exit status: 0 ok, 1 invalid or unreadable file, 2 usage error.\n");
}

/* ---- text output -------------------------------------------------------------- */

/* The bytes of a C1 control (U+0080..U+009F: U+009B is a terminal's CSI)
 * or a bidi override (U+202A..U+202E, U+2066..U+2069) starting at s[i], or
 * 0: printed as \xNN, never raw, so that a name cannot move the cursor or
 * print as another name. */
static size_t control_len(const char *s, size_t i, size_t n)
{
    const unsigned char *u = (const unsigned char *)s + i;
    if (n - i >= 2 && u[0] == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f)
        return 2;
    if (n - i >= 3 && u[0] == 0xe2 &&
        ((u[1] == 0x80 && u[2] >= 0xaa && u[2] <= 0xae) ||
         (u[1] == 0x81 && u[2] >= 0xa6 && u[2] <= 0xa9)))
        return 3;
    return 0;
}

/* Bytes as they are, except control characters as \xNN. Returns the width
 * printed (in bytes; UTF-8 continuation bytes do not count). */
static size_t put_text(FILE *out, const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t k = control_len(s, i, n);
        if (k) {
            for (size_t j = 0; j < k; j++)
                fprintf(out, "\\x%02x", (unsigned char)s[i + j]);
            w += 4 * k;
            i += k - 1;
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(out, "\\x%02x", c);
            w += 4;
        } else {
            fputc(c, out);
            if ((c & 0xc0) != 0x80) w++;
        }
    }
    return w;
}

static size_t text_width(const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t k = control_len(s, i, n);
        if (k) {
            w += 4 * k;
            i += k - 1;
        } else if (c < 0x20 || c == 0x7f) {
            w += 4;
        } else if ((c & 0xc0) != 0x80) {
            w++;
        }
    }
    return w;
}

static size_t shape_text(char *buf, size_t cap, const mt_safetensors_entry *e)
{
    size_t o = 0;
    buf[o++] = '[';
    for (size_t d = 0; d < e->rank; d++) {
        char num[32];
        int w = snprintf(num, sizeof num, "%s%llu", d ? ", " : "",
                         (unsigned long long)e->shape[d]);
        if (o + (size_t)w + 6 >= cap) {
            memcpy(buf + o, ", ...", 5);
            o += 5;
            break;
        }
        memcpy(buf + o, num, (size_t)w);
        o += (size_t)w;
    }
    buf[o++] = ']';
    buf[o] = '\0';
    return o;
}

static void pad(FILE *out, size_t n)
{
    while (n--) fputc(' ', out);
}

static void print_table(FILE *out, const char *path, const mt_safetensors *f)
{
    size_t n = mt_safetensors_count(f);
    /* column widths, capped: a huge name overflows its own row only */
    const size_t max_name = 60, max_shape = 40;
    size_t wname = 4, wshape = 5;
    uint64_t total = 0;
    char shape[512];
    for (size_t i = 0; i < n; i++) {
        mt_safetensors_entry e;
        mt_safetensors_info(f, i, &e);
        size_t w = text_width(e.name, e.name_len);
        if (w > wname) wname = w < max_name ? w : max_name;
        w = shape_text(shape, sizeof shape, &e);
        if (w > wshape) wshape = w < max_shape ? w : max_shape;
        total += e.nbytes;
    }
    fprintf(out, "%s: %zu tensor%s, header %llu bytes, data %llu bytes at "
            "offset %llu\n\n", path, n, n == 1 ? "" : "s",
            (unsigned long long)mt_safetensors_header_size(f),
            (unsigned long long)total,
            (unsigned long long)mt_safetensors_data_offset(f));
    fprintf(out, "%-*s  %-11s  %-*s  %12s  %12s  %12s\n", (int)wname, "name",
            "dtype", (int)wshape, "shape", "bytes", "begin", "end");
    for (size_t i = 0; i < n; i++) {
        mt_safetensors_entry e;
        mt_safetensors_info(f, i, &e);
        size_t w = put_text(out, e.name, e.name_len);
        pad(out, w < wname ? wname - w : 0);
        fprintf(out, "  %-11s  ", e.dtype_name);
        size_t ws = shape_text(shape, sizeof shape, &e);
        fputs(shape, out);
        pad(out, ws < wshape ? wshape - ws : 0);
        fprintf(out, "  %12llu  %12llu  %12llu\n",
                (unsigned long long)e.nbytes, (unsigned long long)e.begin,
                (unsigned long long)e.end);
    }
    if (!mt_safetensors_has_metadata(f)) {
        fprintf(out, "\nmetadata: none\n");
        return;
    }
    size_t nm = mt_safetensors_metadata_count(f);
    fprintf(out, "\nmetadata (%zu):\n", nm);
    for (size_t i = 0; i < nm; i++) {
        mt_safetensors_kv kv;
        mt_safetensors_metadata_at(f, i, &kv);
        fputs("  ", out);
        put_text(out, kv.key, kv.key_len);
        fputs(": ", out);
        put_text(out, kv.value, kv.value_len);
        fputc('\n', out);
    }
}

/* ---- JSON output ---------------------------------------------------------------- */

/* A JSON string: \" \\ escaped, control characters (NUL too) as \u00XX,
 * UTF-8 as is (the library validated it). */
static void put_json_string(FILE *out, const char *s, size_t n)
{
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            fputc('\\', out);
            fputc(c, out);
        } else if (c < 0x20) {
            fprintf(out, "\\u%04x", c);
        } else {
            fputc(c, out);
        }
    }
    fputc('"', out);
}

static void print_json(FILE *out, const mt_safetensors *f)
{
    size_t n = mt_safetensors_count(f);
    fputs("{\"tensors\": [", out);
    for (size_t i = 0; i < n; i++) {
        mt_safetensors_entry e;
        mt_safetensors_info(f, i, &e);
        fputs(i ? ",\n  {\"name\": " : "\n  {\"name\": ", out);
        put_json_string(out, e.name, e.name_len);
        fprintf(out, ", \"dtype\": \"%s\", \"shape\": [", e.dtype_name);
        for (size_t d = 0; d < e.rank; d++)
            fprintf(out, "%s%llu", d ? ", " : "",
                    (unsigned long long)e.shape[d]);
        fprintf(out, "], \"data_offsets\": [%llu, %llu]}",
                (unsigned long long)e.begin, (unsigned long long)e.end);
    }
    fputs(n ? "\n],\n\"metadata\": " : "],\n\"metadata\": ", out);
    if (!mt_safetensors_has_metadata(f)) {
        fputs("null}\n", out);
        return;
    }
    size_t nm = mt_safetensors_metadata_count(f);
    fputc('{', out);
    for (size_t i = 0; i < nm; i++) {
        mt_safetensors_kv kv;
        mt_safetensors_metadata_at(f, i, &kv);
        fputs(i ? ", " : "", out);
        put_json_string(out, kv.key, kv.key_len);
        fputs(": ", out);
        put_json_string(out, kv.value, kv.value_len);
    }
    fputs("}}\n", out);
}

/* ---- main ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    bool json = false;
    const char *path = NULL;
    bool options = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options && a[0] == '-' && a[1] != '\0') {
            if (!strcmp(a, "--")) {
                options = false;
            } else if (!strcmp(a, "--json")) {
                json = true;
            } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
                usage(stdout);
                return 0;
            } else if (!strcmp(a, "--version")) {
                printf("mt-inspect (minitensor) %s\n", mt_version());
                return 0;
            } else {
                fprintf(stderr, "mt-inspect: unknown option '%s'\n", a);
                usage(stderr);
                return 2;
            }
        } else if (path) {
            fprintf(stderr, "mt-inspect: one FILE at a time\n");
            usage(stderr);
            return 2;
        } else {
            path = a;
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }

    mt_safetensors *f;
    if (mt_safetensors_open(path, &f) != MT_OK) {
        /* the library says "safetensors: PATH: reason"; keep the reason */
        const char *msg = mt_last_error();
        char prefix[4200];
        snprintf(prefix, sizeof prefix, "safetensors: %.300s: ", path);
        if (!strncmp(msg, prefix, strlen(prefix))) msg += strlen(prefix);
        fprintf(stderr, "mt-inspect: %s: %s\n", path, msg);
        return 1;
    }
    if (json)
        print_json(stdout, f);
    else
        print_table(stdout, path, f);
    mt_safetensors_close(f);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "mt-inspect: error writing the output\n");
        return 1;
    }
    return 0;
}

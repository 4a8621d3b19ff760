/* test_safetensors_malformed.c — every rule of docs/io.md broken once.
 *
 * Each case is a hand-made file (8-byte length, header, data) that must fail
 * at open with its own status and message. Cases are opened from memory;
 * a sample is also written to disk and opened by path (same outcome).
 * The fuzzer's regression inputs (fuzz/regressions/, argv[1]) are replayed
 * through the same walk the fuzz target does.
 */
#define _POSIX_C_SOURCE 200809L
#include "test_util.h"

#include <dirent.h>
#include <unistd.h>

#include "st_walk.h"   /* fuzz/st_walk.h: open + visit every tensor */

static const char *regressions_dir;

typedef struct bad_case {
    const char *name;
    const char *header;      /* JSON header (NULL: use raw) */
    size_t data_len;         /* zero bytes appended after the header */
    const uint8_t *raw;      /* a whole file, for framing cases */
    size_t raw_len;
    mt_status status;
    const char *needle;      /* substring of the message */
} bad_case;

#define E(name) "{\"" name "\":"
#define T(dt, shape, b, e)                                                   \
    "{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e \
    "]}"
#define ONE T("F32", "[1]", 0, 4)

static const uint8_t raw_7[] = {1, 0, 0, 0, 0, 0, 0};
static const uint8_t raw_too_big[] = {0x01, 0xe1, 0xf5, 0x05, 0, 0, 0, 0,
                                      '{', '}'};  /* 100000001 */
static const uint8_t raw_u64_max[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                      0xff, 0xff, '{', '}'};
static const uint8_t raw_past_end[] = {10, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
static const uint8_t raw_zero_len[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 2};
static const uint8_t raw_bad_utf8[] = {
    8, 0, 0, 0, 0, 0, 0, 0, '{', '"', 0xff, '"', ':', '1', '}', ' '};
static const uint8_t raw_overlong[] = {
    8, 0, 0, 0, 0, 0, 0, 0, '{', '"', 0xc0, 0xaf, '"', ':', '}', ' '};
static const uint8_t raw_surrogate_utf8[] = {
    8, 0, 0, 0, 0, 0, 0, 0, '{', '"', 0xed, 0xa0, 0x80, '"', ':', '}'};
static const uint8_t raw_nul_pad[] = {
    8, 0, 0, 0, 0, 0, 0, 0, '{', '}', 0, 0, 0, 0, 0, 0};
static const uint8_t raw_leading_bom[] = {
    8, 0, 0, 0, 0, 0, 0, 0, 0xef, 0xbb, 0xbf, '{', '}', ' ', ' ', ' '};

/* The first 16 bytes of files people pass instead of safetensors, as
 * PyTorch 1.13 and Keras 3.11 write them: torch.save(state_dict) (zip),
 * torch.save(..., _use_new_zipfile_serialization=False) (pickle),
 * model.save_weights("m.weights.h5") (HDF5), model.save("m.keras") (zip). */
static const uint8_t raw_torch_zip[] = {0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0x08, 0x08,
                                        0, 0, 0, 0, 0, 0, 0, 0};
static const uint8_t raw_torch_pickle[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                           0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e, 0x80};
/* a safetensors file of a 640-byte (0x280) header, cut after 12 bytes: it
 * starts 80 02 as a pickle does, but is truncated safetensors */
static const uint8_t raw_cut_0x280[] = {0x80, 0x02, 0, 0, 0, 0, 0, 0, '{', '"', 'w', '"'};
static const uint8_t raw_keras_h5[] = {0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a,
                                       0, 0, 0, 0, 0, 0x08, 0x08, 0};
static const uint8_t raw_keras_zip[] = {0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 0,
                                        0, 0, 0, 0, 0x21, 0, 0x59, 0x05};

static const bad_case cases[] = {
    /* ---- framing (rules 1-3, 6) ---- */
    {"empty file", NULL, 0, (const uint8_t *)"", 0, MT_ERR_FORMAT,
     "file is 0 bytes, shorter than the 8-byte header length"},
    {"7 bytes", NULL, 0, raw_7, sizeof raw_7, MT_ERR_FORMAT,
     "file is 7 bytes, shorter than the 8-byte header length"},
    {"header length over the cap", NULL, 0, raw_too_big, sizeof raw_too_big,
     MT_ERR_FORMAT, "header length 100000001 exceeds the limit of 100000000"},
    {"header length u64 max", NULL, 0, raw_u64_max, sizeof raw_u64_max,
     MT_ERR_FORMAT, "header length 18446744073709551615 exceeds the limit"},
    {"header past end of file", NULL, 0, raw_past_end, sizeof raw_past_end,
     MT_ERR_FORMAT, "header length 10 runs past the end of the file (2 bytes"},
    {"torch.save zip", NULL, 0, raw_torch_zip, sizeof raw_torch_zip, MT_ERR_FORMAT,
     "not a safetensors file: it is a zip archive (torch.save's .pt/.pth"},
    {"torch.save pickle", NULL, 0, raw_torch_pickle, sizeof raw_torch_pickle,
     MT_ERR_FORMAT, "not a safetensors file: it is a Python pickle"},
    {"truncated, header length 0x280", NULL, 0, raw_cut_0x280, sizeof raw_cut_0x280,
     MT_ERR_FORMAT, "header length 640 runs past the end of the file (4 bytes"},
    {"keras weights.h5", NULL, 0, raw_keras_h5, sizeof raw_keras_h5, MT_ERR_FORMAT,
     "not a safetensors file: it is an HDF5 file (Keras' .h5"},
    {".keras zip", NULL, 0, raw_keras_zip, sizeof raw_keras_zip, MT_ERR_FORMAT,
     "it is a zip archive (torch.save's .pt/.pth, or a Keras .keras file)"},
    {"header length 0", NULL, 0, raw_zero_len, sizeof raw_zero_len,
     MT_ERR_FORMAT, "header length is 0"},
    {"invalid UTF-8", NULL, 0, raw_bad_utf8, sizeof raw_bad_utf8,
     MT_ERR_FORMAT, "header is not valid UTF-8 (header byte 2: 0xff)"},
    {"overlong UTF-8", NULL, 0, raw_overlong, sizeof raw_overlong,
     MT_ERR_FORMAT, "header is not valid UTF-8 (header byte 2: 0xc0)"},
    {"UTF-8 encoded surrogate", NULL, 0, raw_surrogate_utf8,
     sizeof raw_surrogate_utf8, MT_ERR_FORMAT,
     "header is not valid UTF-8 (header byte 2: 0xed)"},
    {"byte-order mark", NULL, 0, raw_leading_bom, sizeof raw_leading_bom,
     MT_ERR_FORMAT, "header must start with '{', found byte 0xef"},
    {"leading space", " {}", 0, NULL, 0, MT_ERR_FORMAT,
     "header must start with '{', found ' '"},
    {"root is an array", "[]", 0, NULL, 0, MT_ERR_FORMAT,
     "header must start with '{', found '['"},
    {"NUL padding after the root", NULL, 0, raw_nul_pad, sizeof raw_nul_pad,
     MT_ERR_FORMAT, "unexpected byte 0x00 after the root object"},
    {"text after the root", "{} x", 0, NULL, 0, MT_ERR_FORMAT,
     "at byte 3: unexpected 'x' after the root object"},
    {"second root object", "{}{}", 0, NULL, 0, MT_ERR_FORMAT,
     "unexpected '{' after the root object"},

    /* ---- strict JSON (rules 4, 5) ---- */
    {"trailing comma in object", E("a") ONE ",}", 4, NULL, 0, MT_ERR_FORMAT,
     "trailing comma before '}'"},
    {"trailing comma in array", E("a") T("F32", "[1,]", 0, 4) "}", 4, NULL, 0,
     MT_ERR_FORMAT, "trailing comma before ']'"},
    {"line comment", "{// c\n}", 0, NULL, 0, MT_ERR_FORMAT,
     "comments are not allowed"},
    {"block comment after value", E("a") ONE "/* c */}", 4, NULL, 0,
     MT_ERR_FORMAT, "comments are not allowed"},
    {"single-quoted key", "{'a':1}", 0, NULL, 0, MT_ERR_FORMAT,
     "single-quoted strings are not allowed"},
    {"single-quoted value", E("a") "{\"dtype\":'F32'}}", 0, NULL, 0,
     MT_ERR_FORMAT, "single-quoted strings are not allowed"},
    {"NaN", E("a") T("F32", "[NaN]", 0, 4) "}", 4, NULL, 0, MT_ERR_FORMAT,
     "NaN and Infinity are not JSON numbers"},
    {"-Infinity", E("a") T("F32", "[-Infinity]", 0, 4) "}", 4, NULL, 0,
     MT_ERR_FORMAT, "NaN and Infinity are not JSON numbers"},
    {"leading zero", E("a") T("F32", "[01]", 0, 4) "}", 4, NULL, 0,
     MT_ERR_FORMAT, "leading zeros are not allowed"},
    {"plus sign", E("a") T("F32", "[+1]", 0, 4) "}", 4, NULL, 0,
     MT_ERR_FORMAT, "a number must start with '-' or a digit"},
    {"bare minus", E("a") T("F32", "[-]", 0, 4) "}", 4, NULL, 0,
     MT_ERR_FORMAT, "expected a digit after '-'"},
    {"fraction without digits", E("a") T("F32", "[1.]", 0, 4) "}", 4, NULL, 0,
     MT_ERR_FORMAT, "expected a digit after '.'"},
    {"exponent without digits", E("a") T("F32", "[1e]", 0, 4) "}", 4, NULL, 0,
     MT_ERR_FORMAT, "expected a digit in the exponent"},
    {"bad literal", "{\"__metadata__\":tru}", 0, NULL, 0, MT_ERR_FORMAT,
     "invalid literal (expected true)"},
    {"raw tab in a name", "{\"a\tb\":" ONE "}", 4, NULL, 0, MT_ERR_FORMAT,
     "raw control character 0x09 in a string"},
    {"raw newline in a value", "{\"__metadata__\":{\"k\":\"a\nb\"}}", 0, NULL,
     0, MT_ERR_FORMAT, "raw control character 0x0a in a string"},
    {"invalid escape", "{\"a\\x41\":" ONE "}", 4, NULL, 0, MT_ERR_FORMAT,
     "invalid escape '\\' followed by 'x'"},
    {"short \\u escape", "{\"a\\u12G4\":" ONE "}", 4, NULL, 0, MT_ERR_FORMAT,
     "\\u must be followed by 4 hex digits"},
    {"lone high surrogate", "{\"a\\ud800\":" ONE "}", 4, NULL, 0,
     MT_ERR_FORMAT, "lone surrogate \\ud800"},
    {"high surrogate + non-surrogate", "{\"a\\ud800\\u0041\":" ONE "}", 4,
     NULL, 0, MT_ERR_FORMAT, "lone surrogate \\ud800"},
    {"lone low surrogate", "{\"\\udc00\":" ONE "}", 4, NULL, 0, MT_ERR_FORMAT,
     "lone surrogate \\udc00"},
    {"unterminated string", "{\"abc", 0, NULL, 0, MT_ERR_FORMAT,
     "at byte 1: unterminated string"},
    {"missing colon", "{\"a\" " ONE "}", 4, NULL, 0, MT_ERR_FORMAT,
     "expected ':' after an object key, found '{'"},
    {"missing comma", E("a") ONE " \"b\":" T("F32", "[1]", 4, 8) "}", 8, NULL,
     0, MT_ERR_FORMAT, "expected ',' or '}', found '\"'"},
    {"key is not a string", "{1:2}", 0, NULL, 0, MT_ERR_FORMAT,
     "expected a string key, found '1'"},
    {"missing value", "{\"a\":}", 0, NULL, 0, MT_ERR_FORMAT,
     "expected a value, found '}'"},
    {"unexpected end", "{\"a\":", 0, NULL, 0, MT_ERR_FORMAT,
     "unexpected end of header"},
    {"unclosed root", E("a") ONE, 4, NULL, 0, MT_ERR_FORMAT,
     "unexpected end of header"},

    /* ---- schema (rules 6-10) ---- */
    {"deep nesting as an entry",
     "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
     0, NULL, 0, MT_ERR_FORMAT,
     "tensor 'a': entry must be an object with dtype, shape and "
     "data_offsets, found array"},
    {"entry is a number", "{\"a\":1}", 0, NULL, 0, MT_ERR_FORMAT,
     "tensor 'a': entry must be an object"},
    {"duplicate tensor name", E("a") ONE ",\"a\":" T("F32", "[1]", 4, 8) "}", 8,
     NULL, 0, MT_ERR_FORMAT, "duplicate tensor name 'a'"},
    {"duplicate name after unescaping",
     E("w") ONE ",\"\\u0077\":" T("F32", "[1]", 4, 8) "}", 8, NULL, 0,
     MT_ERR_FORMAT, "duplicate tensor name 'w'"},
    {"duplicate name with NUL", "{\"a\\u0000b\":" ONE ",\"a\\u0000b\":"
     T("F32", "[1]", 4, 8) "}", 8, NULL, 0, MT_ERR_FORMAT,
     "duplicate tensor name 'a\\x00b'"},
    /* U+009B (a terminal's CSI) and U+202E (right-to-left override) are
     * valid UTF-8 and were echoed raw: "\u009b2J" cleared the screen */
    {"duplicate name with terminal controls",
     "{\"a\\u009b2J\\u202eb\":" ONE ",\"a\\u009b2J\\u202eb\":" T("F32", "[1]", 4, 8) "}",
     8, NULL, 0, MT_ERR_FORMAT, "duplicate tensor name 'a\\xc2\\x9b2J\\xe2\\x80\\xaeb'"},
    {"duplicate dtype key (escaped)",
     E("a") "{\"dtype\":\"F32\",\"dt\\u0079pe\":\"F32\",\"shape\":[1],"
     "\"data_offsets\":[0,4]}}", 4, NULL, 0, MT_ERR_FORMAT,
     "tensor 'a': duplicate key 'dtype'"},
    {"duplicate shape key",
     E("a") "{\"dtype\":\"F32\",\"shape\":[1],\"shape\":[1],"
     "\"data_offsets\":[0,4]}}", 4, NULL, 0, MT_ERR_FORMAT,
     "tensor 'a': duplicate key 'shape'"},
    {"duplicate data_offsets key",
     E("a") "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],"
     "\"data_offsets\":[0,4]}}", 4, NULL, 0, MT_ERR_FORMAT,
     "tensor 'a': duplicate key 'data_offsets'"},
    {"duplicate __metadata__", "{\"__metadata__\":{},\"__metadata__\":{}}", 0,
     NULL, 0, MT_ERR_FORMAT, "duplicate key '__metadata__'"},
    {"duplicate metadata key",
     "{\"__metadata__\":{\"k\":\"1\",\"j\":\"2\",\"\\u006b\":\"3\"}}", 0, NULL,
     0, MT_ERR_FORMAT, "duplicate __metadata__ key 'k'"},
    {"__metadata__ is an array", "{\"__metadata__\":[]}", 0, NULL, 0,
     MT_ERR_FORMAT, "__metadata__ must be an object of strings, found array"},
    {"__metadata__ is null", "{\"__metadata__\":null}", 0, NULL, 0,
     MT_ERR_FORMAT, "__metadata__ must be an object of strings, found null"},
    {"metadata value is a number", "{\"__metadata__\":{\"k\":1}}", 0, NULL, 0,
     MT_ERR_FORMAT, "__metadata__ value of key 'k' must be a string, found "
     "number"},
    {"metadata value is an object", "{\"__metadata__\":{\"k\":{}}}", 0, NULL,
     0, MT_ERR_FORMAT, "value of key 'k' must be a string, found object"},
    {"missing dtype", E("a") "{\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     NULL, 0, MT_ERR_FORMAT, "tensor 'a': missing key 'dtype'"},
    {"missing shape", E("a") "{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4,
     NULL, 0, MT_ERR_FORMAT, "tensor 'a': missing key 'shape'"},
    {"missing data_offsets", E("a") "{\"dtype\":\"F32\",\"shape\":[1]}}", 4,
     NULL, 0, MT_ERR_FORMAT, "tensor 'a': missing key 'data_offsets'"},
    {"unknown key", E("a") "{\"dtype\":\"F32\",\"shape\":[1],"
     "\"data_offsets\":[0,4],\"offsets\":[0,4]}}", 4, NULL, 0, MT_ERR_FORMAT,
     "tensor 'a': unknown key 'offsets' (allowed: dtype, shape, "
     "data_offsets)"},
    {"control: a valid file", E("a") T("F32", "[1]", 0, 4) "}", 4, NULL, 0,
     MT_OK, NULL},
    {"dtype is a number", E("a") "{\"dtype\":32,\"shape\":[1],"
     "\"data_offsets\":[0,4]}}", 4, NULL, 0, MT_ERR_FORMAT,
     "tensor 'a': dtype must be a string, found number"},
    {"lower-case dtype", E("a") T("f32", "[1]", 0, 4) "}", 4, NULL, 0,
     MT_ERR_FORMAT, "tensor 'a': unknown dtype 'f32'"},
    {"unknown dtype", E("a") T("F8_E3M4", "[1]", 0, 1) "}", 1, NULL, 0,
     MT_ERR_FORMAT, "tensor 'a': unknown dtype 'F8_E3M4'"},
    {"shape is not an array", E("a") T("F32", "4", 0, 4) "}", 4, NULL, 0,
     MT_ERR_FORMAT, "tensor 'a': shape must be an array of integers, found "
     "number"},
    {"nested shape", E("a") T("F32", "[[1]]", 0, 4) "}", 4, NULL, 0,
     MT_ERR_FORMAT, "tensor 'a': shape[0] must be a non-negative integer, "
     "found array"},
    {"string dim", E("a") T("F32", "[\"1\"]", 0, 4) "}", 4, NULL, 0,
     MT_ERR_FORMAT, "shape[0] must be a non-negative integer, found string"},
    {"negative dim", E("a") T("F32", "[2,-1]", 0, 4) "}", 4, NULL, 0,
     MT_ERR_FORMAT, "tensor 'a': shape[1] is negative (-1)"},
    {"minus zero dim", E("a") T("F32", "[-0]", 0, 0) "}", 0, NULL, 0,
     MT_ERR_FORMAT, "tensor 'a': shape[0] is negative (-0)"},
    {"fractional dim", E("a") T("F32", "[4.0]", 0, 16) "}", 16, NULL, 0,
     MT_ERR_FORMAT, "shape[0] must be an integer without '.' or exponent, "
     "found 4.0"},
    {"exponent dim", E("a") T("F32", "[4e0]", 0, 16) "}", 16, NULL, 0,
     MT_ERR_FORMAT, "found 4e0"},
    {"dim above u64", E("a") T("F32", "[18446744073709551616]", 0, 4) "}", 4,
     NULL, 0, MT_ERR_FORMAT,
     "shape[0] does not fit in 64 bits (18446744073709551616)"},
    {"data_offsets not an array", E("a") "{\"dtype\":\"F32\",\"shape\":[1],"
     "\"data_offsets\":\"0-4\"}}", 4, NULL, 0, MT_ERR_FORMAT,
     "tensor 'a': data_offsets must be an array [BEGIN, END], found string"},
    {"one offset", E("a") "{\"dtype\":\"F32\",\"shape\":[1],"
     "\"data_offsets\":[4]}}", 4, NULL, 0, MT_ERR_FORMAT,
     "tensor 'a': data_offsets has 1 entry, expected 2"},
    {"three offsets", E("a") "{\"dtype\":\"F32\",\"shape\":[1],"
     "\"data_offsets\":[0,4,4]}}", 4, NULL, 0, MT_ERR_FORMAT,
     "tensor 'a': data_offsets has more than 2 entries"},
    {"negative offset", E("a") T("F32", "[1]", -4, 0) "}", 4, NULL, 0,
     MT_ERR_FORMAT, "tensor 'a': data_offsets[0] is negative (-4)"},
    {"offset above u64", E("a") T("F32", "[1]", 0, 18446744073709551620) "}",
     4, NULL, 0, MT_ERR_FORMAT, "data_offsets[1] does not fit in 64 bits"},

    /* ---- sizes (rules 11, 12) ---- */
    {"element count overflow",
     E("a") T("U8", "[4294967296,4294967296,2]", 0, 0) "}", 0, NULL, 0,
     MT_ERR_FORMAT, "tensor 'a': element count of shape "
     "[4294967296,4294967296,2] overflows 64 bits"},
    {"byte size overflow",
     E("a") T("F32", "[4611686018427387904]", 0, 0) "}", 0, NULL, 0,
     MT_ERR_FORMAT, "tensor 'a': byte size of F32 [4611686018427387904] "
     "overflows 64 bits"},
    {"byte size wraps to the offsets",  /* 2^62 x 4 = 2^64 = 0 mod 2^64 */
     E("a") T("F32", "[4611686018427387904,1]", 0, 0) "}", 0, NULL, 0,
     MT_ERR_FORMAT, "overflows 64 bits"},
    {"F4 with an odd count", E("a") T("F4", "[3]", 0, 1) "}", 1, NULL, 0,
     MT_ERR_FORMAT, "tensor 'a': F4 [3] is 3 x 4 bits, not a whole number of "
     "bytes"},
    {"F6 not a whole byte", E("a") T("F6_E3M2", "[2]", 0, 1) "}", 1, NULL, 0,
     MT_ERR_FORMAT, "F6_E3M2 [2] is 2 x 6 bits"},
    {"end before begin", E("a") T("F32", "[0]", 4, 0) "}", 4, NULL, 0,
     MT_ERR_FORMAT, "tensor 'a': data_offsets [4, 0] end before they begin"},
    {"size mismatch", E("a") T("F32", "[2,2]", 0, 12) "}", 12, NULL, 0,
     MT_ERR_FORMAT, "tensor 'a': data_offsets [0, 12] hold 12 bytes but F32 "
     "[2,2] needs 16"},
    {"scalar needs its element", E("s") T("F64", "[]", 0, 0) "}", 0, NULL, 0,
     MT_ERR_FORMAT, "tensor 's': data_offsets [0, 0] hold 0 bytes but F64 [] "
     "needs 8"},

    /* ---- layout (rule 13) ---- */
    {"hole at the start", E("a") T("F32", "[1]", 4, 8) "}", 8, NULL, 0,
     MT_ERR_FORMAT, "layout: tensor 'a' begins at data byte 4, but the first "
     "tensor must begin at 0"},
    {"hole between tensors",
     E("a") ONE ",\"b\":" T("F32", "[1]", 8, 12) "}", 12, NULL, 0,
     MT_ERR_FORMAT, "layout: hole of 4 bytes between tensor 'a' (ends at 4) "
     "and tensor 'b' (begins at 8)"},
    {"overlap", E("a") T("F32", "[2]", 0, 8) ",\"b\":" T("F32", "[1]", 4, 8)
     "}", 8, NULL, 0, MT_ERR_FORMAT,
     "layout: tensor 'b' [4, 8] overlaps tensor 'a' [0, 8]"},
    {"two names on the same bytes",
     E("a") ONE ",\"b\":" ONE "}", 4, NULL, 0, MT_ERR_FORMAT,
     "layout: tensor 'b' [0, 4] overlaps tensor 'a' [0, 4]"},
    {"trailing bytes", E("a") ONE "}", 8, NULL, 0, MT_ERR_FORMAT,
     "layout: the tensors end at data byte 4 but the data section holds 8 "
     "bytes (4 trailing bytes)"},
    {"data but no tensors", "{}", 3, NULL, 0, MT_ERR_FORMAT,
     "the tensors end at data byte 0 but the data section holds 3 bytes"},
    {"truncated data", E("a") ONE ",\"b\":" T("F32", "[2]", 4, 12) "}", 10,
     NULL, 0, MT_ERR_FORMAT,
     "layout: tensor 'b' ends at data byte 12, past the end of the 10-byte "
     "data section (truncated file?)"},
    {"offsets far past the end", E("a") T("U8", "[1]", 18446744073709551614,
     18446744073709551615) "}", 1, NULL, 0, MT_ERR_FORMAT,
     "tensor 'a' begins at data byte 18446744073709551614"},
};

#define N_CASES (sizeof cases / sizeof cases[0])

static uint8_t *build_case(const bad_case *c, size_t *size)
{
    if (!c->header) {
        uint8_t *b = malloc(c->raw_len ? c->raw_len : 1);
        memcpy(b, c->raw, c->raw_len);
        *size = c->raw_len;
        return b;
    }
    size_t n = strlen(c->header);
    *size = 8 + n + c->data_len;
    uint8_t *b = calloc(1, *size);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(b + 8, c->header, n);
    return b;
}

static void run_case(void **state)
{
    const bad_case *c = *state;
    size_t size;
    uint8_t *buf = build_case(c, &size);
    mt_safetensors *f = (mt_safetensors *)1;
    mt_status st = mt_safetensors_open_memory(buf, size, &f);
    if (c->status == MT_OK) {        /* a valid control case */
        if (st != MT_OK) {
            print_error("control case failed: %s\n", mt_last_error());
            fail();
        }
        mt_safetensors_close(f);
        free(buf);
        return;
    }
    if (st != c->status || !strstr(mt_last_error(), c->needle)) {
        print_error("case \"%s\": got %s \"%s\"\n  expected %s containing "
                    "\"%s\"\n", c->name, mt_status_name(st), mt_last_error(),
                    mt_status_name(c->status), c->needle);
        free(buf);
        fail();
    }
    /* every message names the operation and the file */
    assert_true(strncmp(mt_last_error(), "safetensors: <memory>: ", 23) == 0);
    assert_null(f);
    free(buf);
}

/* The same rules through a path: message names the file. */
static void test_by_path(void **state)
{
    (void)state;
    char dir[] = "/tmp/mt_st_bad_XXXXXX";
    assert_non_null(mkdtemp(dir));
    for (size_t i = 0; i < N_CASES; i += 7) {
        if (cases[i].status == MT_OK) continue;
        size_t size;
        uint8_t *buf = build_case(&cases[i], &size);
        char path[128];
        snprintf(path, sizeof path, "%s/case%zu.safetensors", dir, i);
        FILE *fp = fopen(path, "wb");
        assert_non_null(fp);
        if (size) assert_int_equal(fwrite(buf, 1, size, fp), size);
        fclose(fp);
        mt_safetensors *f;
        char prefix[200];
        snprintf(prefix, sizeof prefix, "safetensors: %s: ", path);
        assert_fails(mt_safetensors_open(path, &f), cases[i].status,
                     cases[i].needle);
        assert_true(strncmp(mt_last_error(), prefix, strlen(prefix)) == 0);
        unlink(path);
        free(buf);
    }
    rmdir(dir);
}

/* A header of 100,000 '[' (and of 100,000 '{"a":') is a clean error. */
static void test_deep_headers(void **state)
{
    (void)state;
    enum { N = 100000 };
    size_t size = 8 + 1 + 5 * (size_t)N;
    uint8_t *b = malloc(size);
    uint64_t n = size - 8;
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(n >> (8 * i));
    b[8] = '{';
    for (int i = 0; i < N; i++) memcpy(b + 9 + 5 * i, "\"a\":{", 5);
    mt_safetensors *f;
    assert_fails(mt_safetensors_open_memory(b, size, &f), MT_ERR_FORMAT,
                 "tensor 'a': unknown key 'a'");
    memset(b + 8, '[', size - 8);
    assert_fails(mt_safetensors_open_memory(b, size, &f), MT_ERR_FORMAT,
                 "header must start with '{', found '['");
    free(b);
}

/* Replay the fuzzer's regression inputs: none may crash, leak or hang. */
static void test_fuzz_regressions(void **state)
{
    (void)state;
    if (!regressions_dir) skip();
    DIR *d = opendir(regressions_dir);
    assert_non_null(d);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", regressions_dir, e->d_name);
        FILE *fp = fopen(path, "rb");
        if (!fp) continue;
        uint8_t *buf = malloc(1 << 20);
        size_t n = fread(buf, 1, 1 << 20, fp);
        fclose(fp);
        st_walk(buf, n);
        free(buf);
        files++;
    }
    closedir(d);
    print_message("replayed %d regression inputs\n", files);
}

int main(int argc, char **argv)
{
    if (argc > 1) regressions_dir = argv[1];
    static struct CMUnitTest tests[N_CASES + 3];
    size_t k = 0;
    for (size_t i = 0; i < N_CASES; i++) {
        tests[k] = (struct CMUnitTest){cases[i].name, run_case, NULL, NULL,
                                       (void *)&cases[i]};
        k++;
    }
    tests[k++] = (struct CMUnitTest){"by path", test_by_path, NULL, NULL,
                                     NULL};
    tests[k++] = (struct CMUnitTest){"deep headers", test_deep_headers, NULL,
                                     NULL, NULL};
    tests[k++] = (struct CMUnitTest){"fuzz regressions",
                                     test_fuzz_regressions, NULL, NULL, NULL};
    return _cmocka_run_group_tests("safetensors_malformed", tests, k, NULL,
                                   NULL);
}

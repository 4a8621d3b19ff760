/* json.h (io-private) — a strict, iterative, depth-bounded JSON pull parser.
 *
 * RFC 8259 and nothing more: no comments, trailing commas, single quotes,
 * NaN/Infinity, leading zeros, raw control characters in strings, invalid
 * escapes or lone surrogates; only JSON whitespace after the root value.
 * The caller pulls one token at a time; containers are tracked on a fixed
 * stack of ST_MAX_DEPTH entries (no recursion, so no input can overflow the
 * C stack). Strings are decoded (escapes resolved, "\u0000" kept) into an
 * arena the caller provides, which never needs more bytes than the input.
 * The parser never reads outside [text, text + len), whatever the bytes.
 */
#ifndef MT_IO_JSON_H
#define MT_IO_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "st_internal.h"

typedef enum json_kind {
    JSON_OBJECT_BEGIN,
    JSON_OBJECT_END,
    JSON_ARRAY_BEGIN,
    JSON_ARRAY_END,
    JSON_KEY,       /* an object key; the ':' after it is consumed */
    JSON_STRING,
    JSON_NUMBER,
    JSON_TRUE,
    JSON_FALSE,
    JSON_NULL,
    JSON_EOF        /* the root value ended and only whitespace followed */
} json_kind;

typedef struct json_token {
    json_kind kind;
    const char *str;   /* KEY/STRING: decoded bytes, NUL-terminated, in the
                          arena; NUMBER: the raw text (not terminated) */
    size_t len;
    size_t pos;        /* offset of the token in the text */
} json_token;

typedef struct json_parser {
    const uint8_t *s;
    size_t n, pos;
    char *arena;             /* decoded strings go here */
    size_t arena_cap, arena_used;
    const char *label;       /* message prefix, e.g. "safetensors: m.st" */
    int need;                /* what the grammar expects next */
    int depth;
    uint8_t stack[ST_MAX_DEPTH];  /* 1 = object, 0 = array */
} json_parser;

/* Parse text[0..len). arena must have room for len + 1 bytes in total
 * (decoded strings plus their NULs never need more). */
MT_IO_INTERNAL void mt_json_init(json_parser *p, const char *label,
                                 const uint8_t *text, size_t len, char *arena,
                                 size_t arena_cap);

/* The next token. MT_ERR_FORMAT with a message naming the byte offset and
 * the rule on malformed input; the parser must not be used afterwards. */
MT_IO_INTERNAL mt_status mt_json_next(json_parser *p, json_token *tok);

/* Why a number token is not an exact u64. */
typedef enum json_u64_status {
    JSON_U64_OK = 0,
    JSON_U64_NEGATIVE,
    JSON_U64_FRACTION,    /* has a '.' */
    JSON_U64_EXPONENT,    /* has an 'e' / 'E' */
    JSON_U64_TOO_LARGE    /* > 18446744073709551615 */
} json_u64_status;

/* Read a JSON_NUMBER token as an exact unsigned 64-bit integer. */
MT_IO_INTERNAL json_u64_status mt_json_number_u64(const json_token *tok,
                                                  uint64_t *value);

/* "object", "array", "string", "number", "true", "false", "null". */
MT_IO_INTERNAL const char *mt_json_kind_name(json_kind kind);

#endif

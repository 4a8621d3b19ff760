/* json.c — the strict JSON pull parser of safetensors headers (see json.h).
 *
 * A small state machine: `need` says what the grammar allows next, the
 * stack says which containers are open. Every read is bounds-checked against
 * p->n; nothing depends on the input being valid UTF-8 for memory safety. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

enum {
    NEED_VALUE,         /* root, after ':' or after ',' in an array */
    NEED_VALUE_OR_END,  /* after '[' */
    NEED_KEY,           /* after ',' in an object */
    NEED_KEY_OR_END,    /* after '{' */
    NEED_COMMA_OR_END,  /* after a value inside a container */
    NEED_EOF,           /* after the root value */
    NEED_NOTHING        /* EOF was returned */
};

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 3, 4)))
#endif
static mt_status json_error(const json_parser *p, size_t pos,
                            const char *fmt, ...)
{
    char detail[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return mt_fail(MT_ERR_FORMAT, "%s: invalid JSON in header at byte %zu: %s",
                   p->label, pos, detail);
}

/* "'x'" for printable ASCII, "byte 0xNN" otherwise. */
static const char *char_desc(char *buf, size_t cap, uint8_t c)
{
    if (c >= 0x20 && c < 0x7f)
        snprintf(buf, cap, "'%c'", (char)c);
    else
        snprintf(buf, cap, "byte 0x%02x", (unsigned)c);
    return buf;
}

void mt_json_init(json_parser *p, const char *label, const uint8_t *text,
                  size_t len, char *arena, size_t arena_cap)
{
    memset(p, 0, sizeof *p);
    p->s = text;
    p->n = len;
    p->arena = arena;
    p->arena_cap = arena_cap;
    p->label = label;
    p->need = NEED_VALUE;
}

const char *mt_json_kind_name(json_kind kind)
{
    switch (kind) {
    case JSON_OBJECT_BEGIN: return "object";
    case JSON_ARRAY_BEGIN: return "array";
    case JSON_STRING: return "string";
    case JSON_KEY: return "key";
    case JSON_NUMBER: return "number";
    case JSON_TRUE: return "true";
    case JSON_FALSE: return "false";
    case JSON_NULL: return "null";
    case JSON_OBJECT_END: return "'}'";
    case JSON_ARRAY_END: return "']'";
    case JSON_EOF: return "end of header";
    }
    return "?";
}

static void skip_ws(json_parser *p)
{
    while (p->pos < p->n) {
        uint8_t c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int hex_digit(uint8_t c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Four hex digits at s[at..at+4) -> *cp; false if short or not hex. */
static bool read_hex4(const json_parser *p, size_t at, uint32_t *cp)
{
    if (at > p->n || p->n - at < 4) return false;
    uint32_t v = 0;
    for (size_t i = 0; i < 4; i++) {
        int d = hex_digit(p->s[at + i]);
        if (d < 0) return false;
        v = v * 16 + (uint32_t)d;
    }
    *cp = v;
    return true;
}

/* Room for k more bytes (+ the final NUL) in the arena? The arena is sized
 * so that this always holds; the check keeps a bug from becoming an
 * overflow. */
static bool arena_room(const json_parser *p, size_t o, size_t k)
{
    return p->arena_cap - p->arena_used > o + k;
}

static mt_status parse_string(json_parser *p, json_token *tok)
{
    size_t start = p->pos;
    char *out = p->arena + p->arena_used;
    size_t o = 0;
    p->pos++;  /* the opening quote */
    for (;;) {
        if (p->pos >= p->n)
            return json_error(p, start, "unterminated string");
        uint8_t c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20)
            return json_error(p, p->pos,
                              "raw control character 0x%02x in a string "
                              "(must be escaped)", (unsigned)c);
        if (c != '\\') {
            if (!arena_room(p, o, 1))
                return json_error(p, p->pos, "string arena exhausted");
            out[o++] = (char)c;
            p->pos++;
            continue;
        }
        size_t esc = p->pos;
        if (p->n - p->pos < 2)
            return json_error(p, start, "unterminated string");
        uint8_t e = p->s[p->pos + 1];
        char simple = 0;
        switch (e) {
        case '"': simple = '"'; break;
        case '\\': simple = '\\'; break;
        case '/': simple = '/'; break;
        case 'b': simple = '\b'; break;
        case 'f': simple = '\f'; break;
        case 'n': simple = '\n'; break;
        case 'r': simple = '\r'; break;
        case 't': simple = '\t'; break;
        case 'u': break;
        default: {
            char d[16];
            return json_error(p, esc, "invalid escape '\\' followed by %s",
                              char_desc(d, sizeof d, e));
        }
        }
        if (e != 'u') {
            if (!arena_room(p, o, 1))
                return json_error(p, p->pos, "string arena exhausted");
            out[o++] = simple;
            p->pos += 2;
            continue;
        }
        uint32_t cp;
        if (!read_hex4(p, p->pos + 2, &cp))
            return json_error(p, esc, "\\u must be followed by 4 hex digits");
        p->pos += 6;
        if (cp >= 0xdc00 && cp <= 0xdfff)
            return json_error(p, esc, "lone surrogate \\u%04x", (unsigned)cp);
        if (cp >= 0xd800 && cp <= 0xdbff) {
            uint32_t lo;
            if (p->n - p->pos < 6 || p->s[p->pos] != '\\' ||
                p->s[p->pos + 1] != 'u' || !read_hex4(p, p->pos + 2, &lo) ||
                lo < 0xdc00 || lo > 0xdfff)
                return json_error(p, esc, "lone surrogate \\u%04x",
                                  (unsigned)cp);
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            p->pos += 6;
        }
        if (!arena_room(p, o, 4))
            return json_error(p, esc, "string arena exhausted");
        if (cp < 0x80) {
            out[o++] = (char)cp;
        } else if (cp < 0x800) {
            out[o++] = (char)(0xc0 | (cp >> 6));
            out[o++] = (char)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            out[o++] = (char)(0xe0 | (cp >> 12));
            out[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            out[o++] = (char)(0x80 | (cp & 0x3f));
        } else {
            out[o++] = (char)(0xf0 | (cp >> 18));
            out[o++] = (char)(0x80 | ((cp >> 12) & 0x3f));
            out[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            out[o++] = (char)(0x80 | (cp & 0x3f));
        }
    }
    out[o] = '\0';
    p->arena_used += o + 1;
    tok->str = out;
    tok->len = o;
    tok->pos = start;
    return MT_OK;
}

static bool is_digit(const json_parser *p, size_t at)
{
    return at < p->n && p->s[at] >= '0' && p->s[at] <= '9';
}

static mt_status parse_number(json_parser *p, json_token *tok)
{
    size_t start = p->pos;
    if (p->s[p->pos] == '-') p->pos++;
    if (p->pos >= p->n)
        return json_error(p, start, "expected a digit after '-'");
    uint8_t c = p->s[p->pos];
    if (c == '0') {
        p->pos++;
        if (is_digit(p, p->pos))
            return json_error(p, start, "leading zeros are not allowed");
    } else if (c >= '1' && c <= '9') {
        while (is_digit(p, p->pos)) p->pos++;
    } else if (c == 'I') {
        return json_error(p, start, "NaN and Infinity are not JSON numbers");
    } else {
        return json_error(p, start, "expected a digit after '-'");
    }
    if (p->pos < p->n && p->s[p->pos] == '.') {
        p->pos++;
        if (!is_digit(p, p->pos))
            return json_error(p, p->pos, "expected a digit after '.'");
        while (is_digit(p, p->pos)) p->pos++;
    }
    if (p->pos < p->n && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->n && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
            p->pos++;
        if (!is_digit(p, p->pos))
            return json_error(p, p->pos, "expected a digit in the exponent");
        while (is_digit(p, p->pos)) p->pos++;
    }
    tok->kind = JSON_NUMBER;
    tok->str = (const char *)p->s + start;
    tok->len = p->pos - start;
    tok->pos = start;
    return MT_OK;
}

static bool match_literal(json_parser *p, const char *lit)
{
    size_t len = strlen(lit);
    if (p->n - p->pos < len || memcmp(p->s + p->pos, lit, len) != 0)
        return false;
    p->pos += len;
    return true;
}

/* After a complete value (scalar or container end). */
static void value_done(json_parser *p)
{
    p->need = p->depth == 0 ? NEED_EOF : NEED_COMMA_OR_END;
}

static mt_status push(json_parser *p, uint8_t is_object, json_token *tok)
{
    if (p->depth >= ST_MAX_DEPTH)
        return json_error(p, p->pos, "nesting deeper than %d levels",
                          ST_MAX_DEPTH);
    p->stack[p->depth++] = is_object;
    tok->kind = is_object ? JSON_OBJECT_BEGIN : JSON_ARRAY_BEGIN;
    tok->str = NULL;
    tok->len = 0;
    tok->pos = p->pos;
    p->pos++;
    p->need = is_object ? NEED_KEY_OR_END : NEED_VALUE_OR_END;
    return MT_OK;
}

static mt_status pop(json_parser *p, json_token *tok)
{
    p->depth--;
    tok->kind = p->stack[p->depth] ? JSON_OBJECT_END : JSON_ARRAY_END;
    tok->str = NULL;
    tok->len = 0;
    tok->pos = p->pos;
    p->pos++;
    value_done(p);
    return MT_OK;
}

/* Explain a byte that cannot start a value. */
static mt_status bad_value(json_parser *p, bool after_comma)
{
    char d[16];
    if (p->pos >= p->n)
        return json_error(p, p->pos, "unexpected end of header");
    uint8_t c = p->s[p->pos];
    if (after_comma && c == ']')
        return json_error(p, p->pos, "trailing comma before ']'");
    if (c == '\'')
        return json_error(p, p->pos, "single-quoted strings are not allowed");
    if (c == '/')
        return json_error(p, p->pos, "comments are not allowed");
    if (c == 'N' || c == 'I')
        return json_error(p, p->pos, "NaN and Infinity are not JSON numbers");
    if (c == '+' || c == '.')
        return json_error(p, p->pos, "a number must start with '-' or a digit");
    return json_error(p, p->pos, "expected a value, found %s",
                      char_desc(d, sizeof d, c));
}

static mt_status parse_value(json_parser *p, json_token *tok, bool after_comma)
{
    mt_status st;
    if (p->pos >= p->n) return bad_value(p, after_comma);
    uint8_t c = p->s[p->pos];
    switch (c) {
    case '{': return push(p, 1, tok);
    case '[': return push(p, 0, tok);
    case '"':
        st = parse_string(p, tok);
        if (st != MT_OK) return st;
        tok->kind = JSON_STRING;
        value_done(p);
        return MT_OK;
    case 't': case 'f': case 'n': {
        size_t start = p->pos;
        json_kind k = c == 't' ? JSON_TRUE : c == 'f' ? JSON_FALSE : JSON_NULL;
        const char *lit = c == 't' ? "true" : c == 'f' ? "false" : "null";
        if (!match_literal(p, lit))
            return json_error(p, start, "invalid literal (expected %s)", lit);
        tok->kind = k;
        tok->str = NULL;
        tok->len = 0;
        tok->pos = start;
        value_done(p);
        return MT_OK;
    }
    default:
        if (c == '-' || (c >= '0' && c <= '9')) {
            st = parse_number(p, tok);
            if (st != MT_OK) return st;
            value_done(p);
            return MT_OK;
        }
        return bad_value(p, after_comma);
    }
}

static mt_status parse_key(json_parser *p, json_token *tok, bool after_comma)
{
    char d[16];
    if (p->pos >= p->n)
        return json_error(p, p->pos, "unexpected end of header");
    uint8_t c = p->s[p->pos];
    if (c != '"') {
        if (after_comma && c == '}')
            return json_error(p, p->pos, "trailing comma before '}'");
        if (c == '\'')
            return json_error(p, p->pos,
                              "single-quoted strings are not allowed");
        if (c == '/')
            return json_error(p, p->pos, "comments are not allowed");
        return json_error(p, p->pos, "expected a string key, found %s",
                          char_desc(d, sizeof d, c));
    }
    mt_status st = parse_string(p, tok);
    if (st != MT_OK) return st;
    tok->kind = JSON_KEY;
    skip_ws(p);
    if (p->pos >= p->n || p->s[p->pos] != ':') {
        if (p->pos >= p->n)
            return json_error(p, p->pos, "unexpected end of header");
        return json_error(p, p->pos, "expected ':' after an object key, "
                          "found %s", char_desc(d, sizeof d, p->s[p->pos]));
    }
    p->pos++;
    p->need = NEED_VALUE;
    return MT_OK;
}

mt_status mt_json_next(json_parser *p, json_token *tok)
{
    char d[16];
    skip_ws(p);
    switch (p->need) {
    case NEED_VALUE:
        return parse_value(p, tok, false);
    case NEED_VALUE_OR_END:
        if (p->pos < p->n && p->s[p->pos] == ']') return pop(p, tok);
        return parse_value(p, tok, false);
    case NEED_KEY_OR_END:
        if (p->pos < p->n && p->s[p->pos] == '}') return pop(p, tok);
        return parse_key(p, tok, false);
    case NEED_KEY:
        return parse_key(p, tok, true);
    case NEED_COMMA_OR_END: {
        uint8_t is_object = p->stack[p->depth - 1];
        uint8_t closer = is_object ? '}' : ']';
        if (p->pos >= p->n)
            return json_error(p, p->pos, "unexpected end of header");
        uint8_t c = p->s[p->pos];
        if (c == closer) return pop(p, tok);
        if (c != ',') {
            if (c == '/')
                return json_error(p, p->pos, "comments are not allowed");
            return json_error(p, p->pos, "expected ',' or '%c', found %s",
                              (char)closer, char_desc(d, sizeof d, c));
        }
        p->pos++;
        skip_ws(p);
        if (is_object) return parse_key(p, tok, true);
        return parse_value(p, tok, true);
    }
    case NEED_EOF:
        if (p->pos < p->n) {
            if (p->s[p->pos] == '/')
                return json_error(p, p->pos, "comments are not allowed");
            return json_error(p, p->pos,
                              "unexpected %s after the root object "
                              "(only spaces may follow it)",
                              char_desc(d, sizeof d, p->s[p->pos]));
        }
        p->need = NEED_NOTHING;
        /* fall through */
    default:
        tok->kind = JSON_EOF;
        tok->str = NULL;
        tok->len = 0;
        tok->pos = p->pos;
        return MT_OK;
    }
}

json_u64_status mt_json_number_u64(const json_token *tok, uint64_t *value)
{
    const char *s = tok->str;
    size_t n = tok->len;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') return JSON_U64_FRACTION;
        if (s[i] == 'e' || s[i] == 'E') return JSON_U64_EXPONENT;
    }
    if (n > 0 && s[0] == '-') return JSON_U64_NEGATIVE;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return JSON_U64_TOO_LARGE;
        v = v * 10 + d;
    }
    *value = v;
    return JSON_U64_OK;
}

/* utf8.h — UTF-8 to code points and back, for the vocabulary and the text
 * files (strict: no overlong forms, no surrogates, nothing above U+10FFFF). */
#ifndef CHARLM_UTF8_H
#define CHARLM_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decode the code point at s[*pos] (n bytes in all) and advance *pos.
 * False, with *pos unchanged, if the bytes there are not valid UTF-8. */
bool utf8_next(const char *s, size_t n, size_t *pos, uint32_t *cp);

/* Encode cp (a valid code point) into buf; returns its length, 1..4. */
size_t utf8_put(uint32_t cp, char buf[4]);

#endif

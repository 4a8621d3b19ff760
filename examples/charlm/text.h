/* text.h — text files as token ids: a whole text (eval) or one sequence per
 * line (logits). Errors name the file, the line and the character. */
#ifndef CHARLM_TEXT_H
#define CHARLM_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* The whole file at `path` into *data (malloc'd, free it), *size bytes. */
mt_status charlm_read_file(const char *path, char **data, size_t *size);

/* Tokens of `text` (UTF-8, size bytes) into *tokens (malloc'd), *n of them.
 * `what` names the text in messages ("FILE", "--prompt"). A character not in
 * the vocabulary, or bytes that are not UTF-8, fail with MT_ERR_FORMAT and
 * "WHAT: line L, character K: …". */
mt_status charlm_tokenize(const charlm_model *m, const char *text, size_t size,
                          const char *what, int32_t **tokens, int64_t *n);

/* One sequence per line: every line ended by '\n', all of the same length
 * L (1 <= L <= block_size, in code points). *tokens (malloc'd) is
 * [*lines, *length]. Errors name the line. */
mt_status charlm_tokenize_lines(const charlm_model *m, const char *text, size_t size,
                                const char *what, int32_t **tokens, int64_t *lines,
                                int64_t *length);

#endif

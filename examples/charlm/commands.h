/* commands.h — charlm's three commands. Each prints its own one-line error
 * ("charlm: …") and returns the exit status: 0 success, 1 failure. */
#ifndef CHARLM_COMMANDS_H
#define CHARLM_COMMANDS_H

#include <stdint.h>

#include "decode.h"

/* Print the prompt, then stream `tokens` sampled characters to stdout. */
int charlm_generate(const charlm_model *m, const charlm_generate_options *o);

/* Logits [lines, L, vocab] (little-endian float32) of TEXT_FILE's lines into
 * OUT_FILE. */
int charlm_logits(const charlm_model *m, const char *text_path, const char *out_path);

/* Loss in nats and bits per character over TEXT_FILE. */
int charlm_eval(const charlm_model *m, const char *text_path);

#endif

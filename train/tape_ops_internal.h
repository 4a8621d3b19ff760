/* tape_ops_internal.h — helpers the op files of the differentiable op set
 * share (ops_unary.c, ops_linear.c, ops_reduce.c, ops_view.c, …); not
 * installed. */
#ifndef MT_TAPE_OPS_INTERNAL_H
#define MT_TAPE_OPS_INTERNAL_H

#include <stdio.h>

#include "tape_internal.h"

/* Fails with "op: <the last message>": the message is copied out first, as
 * formatting the error buffer into itself is undefined (mt_fail writes
 * there). */
static inline mt_status tape_fail_prefixed(mt_status s, const char *op)
{
    char message[512];
    snprintf(message, sizeof message, "%s", mt_last_error());
    return mt_fail(s, "%s: %s", op, message);
}

/* dz = g · act'(z) elementwise, y = act(z); all four contiguous, one shape;
 * act a valid activation other than NONE. */
TAPE_INTERNAL void mt_tape_activation_backward(mt_activation act, const mt_tensor *z,
                                               const mt_tensor *y, const mt_tensor *g,
                                               mt_tensor *dz);

#endif

/* tape_internal.h — what the tape's op files share; not installed. */
#ifndef MT_TAPE_INTERNAL_H
#define MT_TAPE_INTERNAL_H

#include "minitensor/arena.h"
#include "minitensor/view.h"
#include "minitensor/autograd.h"
#include "../tensor/internal.h"

/* Shared by train/ sources, linked into the static library (tests), not
 * exported from the shared one. */
#if defined(__GNUC__) || defined(__clang__)
#define TAPE_INTERNAL __attribute__((visibility("hidden")))
#else
#define TAPE_INTERNAL
#endif

typedef struct tape_node tape_node;

/* Adds the node's contribution to the gradients of its inputs; called only
 * when the output's gradient is live. */
typedef mt_status (*backward_fn)(mt_tape *tape, const tape_node *node);

struct tape_node {
    const char *op;
    backward_fn backward;
    mt_value *out;
    mt_value *in[3];          /* NULL where absent (an optional bias) */
    const mt_tensor *saved;   /* what the backward needs besides in/out */
    const mt_tensor *saved2;
    float f;                  /* a scalar argument (scale, p, smoothing) */
    int64_t i;                /* an integer argument (dim, reduction) */
    mt_activation act;
};

/* A value and the tensor structs its views need, allocated together. */
typedef struct value_slot {
    mt_value value;
    mt_tensor data_view;
} value_slot;

struct mt_tape {
    mt_arena *arena;               /* values' data, gradients, scratch */
    tape_node *nodes;
    size_t n_nodes, cap_nodes;
    struct slot_chunk *chunks;     /* value slots, reused after a reset */
    struct slot_chunk *chunk;
    size_t chunk_used;
    bool training;
    bool grad_enabled;
    bool walked;                   /* backward has run since the last reset */
    uint64_t generation;           /* resets so far: tells stale values apart */
};

/* A new value on the tape (zeroed slot); NULL on allocation failure (message
 * set). */
TAPE_INTERNAL value_slot *mt_tape_slot(mt_tape *tape, const char *op);

/* A new value whose data is a fresh zeroed contiguous F32 tensor of shape. */
TAPE_INTERNAL mt_status mt_tape_value(mt_tape *tape, const char *op, int rank,
                                      const int64_t *shape, mt_value **out);

/* A zeroed F32 scratch tensor of shape, valid until the next reset. */
TAPE_INTERNAL mt_status mt_tape_scratch(mt_tape *tape, const char *op, int rank,
                                        const int64_t *shape, mt_tensor **out);

/* Records node (copied) if any input requires a gradient; sets
 * node->out->requires_grad accordingly. */
TAPE_INTERNAL mt_status mt_tape_record(mt_tape *tape, const tape_node *node);

/* Checks shared by every mt_tape_* entry point: tape and out not NULL, the
 * tape not walked, every in[i] a value mt_tape_owns. */
TAPE_INTERNAL mt_status mt_tape_check(const char *op, const mt_tape *tape,
                                      const mt_value *const *in, int n_in, mt_value **out);

/* v (named `name` in the message) may feed an op on tape: a parameter, or a
 * value of this tape made since its last reset. */
TAPE_INTERNAL mt_status mt_tape_owns(const char *op, const mt_tape *tape, const mt_value *v,
                                     const char *name);

/* Gradient contributions. mt_grad_target gives the tensor to write v's new
 * contribution into: v's own gradient when it holds nothing yet, else a
 * scratch tensor that mt_grad_commit then adds. Both do nothing useful (and
 * mt_grad_target sets *dst NULL) when v needs no gradient. */
TAPE_INTERNAL mt_status mt_grad_target(mt_tape *tape, mt_value *v, mt_tensor **dst);
TAPE_INTERNAL mt_status mt_grad_commit(mt_tape *tape, mt_value *v, mt_tensor *dst);

/* dst = src summed over the dims where dst broadcasts to src's shape
 * (NumPy alignment from the right). */
TAPE_INTERNAL void mt_sum_to_shape(const mt_tensor *src, mt_tensor *dst);

/* v's gradient += src reduced to v's shape (a no-op if v needs none). */
TAPE_INTERNAL mt_status mt_grad_add_reduced(mt_tape *tape, mt_value *v, const mt_tensor *src);

#endif

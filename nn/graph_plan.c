/* graph_plan.c — a graph's epilogues fused and every output placed in one
 * workspace (reused by liveness) once per batch size; passes that never
 * touch the heap. */
#include <stdio.h>
#include <string.h>

#include "graph_internal.h"
#include "minitensor/memory.h"
#include "minitensor/view.h"

enum { ALIGN = 64 };

/* A batch whose activations (all computed outputs) would take more than
 * this goes through the layers in passes of fewer samples, so that each
 * layer reads its input from cache rather than memory; the outputs are
 * gathered. Measured on the Fashion CNN (146 KiB of activations per image,
 * so 14 per pass; bench_fashion --batches 256): one thread 11.7K -> 13.6K
 * images/s, two threads 15.0K -> 20.1K; 1, 4 and 8 MiB did as well as 2 on
 * one thread, 8 MiB worse on two (17.0K). */
enum { PASS_BYTES = 2 * 1024 * 1024 };

/* ---- fusion: an epilogue runs inside the layer before it ----------------------------- */

/* The one node reading `id`'s output, or -1 if there are none or several. */
static int only_consumer(const mt_graph *g, int id)
{
    if (g->nodes[id].consumers != 1)
        return -1;
    for (int k = id + 1; k < g->count; k++)
        for (int j = 0; j < g->nodes[k].n_in; j++)
            if (g->nodes[k].in[j] == id)
                return k;
    return -1;
}

static bool same_shape(const mt_shape *a, const mt_shape *b)
{
    if (a->rank != b->rank || a->dtype != b->dtype)
        return false;
    for (int d = 0; d < a->rank; d++)
        if (a->dim[d] != b->dim[d])
            return false;
    return true;
}

/* A user layer's absorb, absorb_next or freeze that succeeds must give a
 * layer. */
static mt_status check_made(const mt_graph *g, mt_status s, int i, const mt_layer *made,
                            const char *what)
{
    if (s == MT_ERR_UNSUPPORTED)
        return s;
    if (s)
        return mt_nn_graph_node_error(g, s, i, ": ");
    if (!made)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: node '%s' (%s): its %s returned "
                       "MT_OK without a layer", g->sequential_style ? "sequential" : "graph",
                       g->nodes[i].name, g->nodes[i].layer->name, what);
    return MT_OK;
}

/* Node i absorbs the chain of epilogues (or, through absorb_next, other
 * layers) after it, while its output has one reader, is not an output, and
 * its layer accepts them. A scale or shift (a BatchNorm) is folded into
 * the layer's weights, a copy: only in a frozen model, whose weights do not
 * change; unfrozen, a change of the weights must reach the next pass, and
 * the BatchNorm runs on its own. */
static mt_status fuse_after(mt_graph *g, int i)
{
    int tail = i;
    const mt_layer *run = g->nodes[i].layer;
    for (;;) {
        int c = g->nodes[tail].is_output ? -1 : only_consumer(g, tail);
        if (c < 0)
            return MT_OK;
        nn_node *cn = &g->nodes[c];
        mt_layer_epilogue e = {0};
        mt_layer *fused = NULL;
        mt_status s;
        if (cn->n_in != 1)
            return MT_OK;
        mt_clear_error();
        if (cn->layer->vt->as_epilogue && cn->layer->vt->as_epilogue(cn->layer, &e)) {
            /* an epilogue keeps its input's shape (one that does not is run
             * on its own, where its output is checked) */
            if (!run->vt->absorb || !same_shape(&cn->shape, &g->nodes[tail].shape) ||
                ((e.scale || e.shift) && !g->frozen))
                return MT_OK;
            s = run->vt->absorb(run, &e, &fused);
            s = check_made(g, s, i, fused, "absorb");
        } else if (run->vt->absorb_next) {   /* a shape-changing fusion */
            s = run->vt->absorb_next(run, cn->layer, &fused);
            s = check_made(g, s, i, fused, "absorb_next");
        } else {
            return MT_OK;
        }
        if (s == MT_ERR_UNSUPPORTED)
            return MT_OK;
        if (s)
            return s;
        mt_layer_free(g->nodes[i].fused);
        g->nodes[i].fused = fused;
        run = fused;
        cn->absorbed_by = i;
        tail = c;
    }
}

/* Node i (with the epilogues it absorbed) and the next layer reading its
 * output, directly or through shape-keeping views (Dropout), run as one
 * layer when i's layer can absorb that one (vt->absorb_next: Linear ->
 * Linear, the hidden activations staying in cache). Every node in between
 * must have one reader and not be an output. */
static mt_status fuse_next(mt_graph *g, int i)
{
    const mt_layer *run = g->nodes[i].fused ? g->nodes[i].fused : g->nodes[i].layer;
    if (!run->vt->absorb_next)
        return MT_OK;
    int tail = i;
    for (int k = i + 1; k < g->count; k++)
        if (g->nodes[k].absorbed_by == i)
            tail = k;
    int c = tail;
    for (;;) {
        c = g->nodes[c].is_output ? -1 : only_consumer(g, c);
        if (c < 0 || g->nodes[c].n_in != 1 || g->nodes[c].absorbed_by >= 0)
            return MT_OK;
        const nn_node *cn = &g->nodes[c];
        if (!(cn->layer->vt->flags & MT_LAYER_FLAG_VIEW))
            break;
        if (!same_shape(&cn->shape, &g->nodes[cn->in[0]].shape))
            return MT_OK;
    }
    nn_node *next = &g->nodes[c];
    mt_layer *fused = NULL;
    mt_clear_error();
    mt_status s = run->vt->absorb_next(run, next->fused ? next->fused : next->layer, &fused);
    s = check_made(g, s, i, fused, "absorb_next");
    if (s == MT_ERR_UNSUPPORTED)
        return MT_OK;
    if (s)
        return s;
    mt_layer_free(g->nodes[i].fused);
    g->nodes[i].fused = fused;
    for (int k = c + 1; k < g->count; k++)   /* next's epilogues */
        if (g->nodes[k].absorbed_by == c)
            g->nodes[k].absorbed_by = i;
    for (int k = tail; k != c;) {            /* the views, and next */
        k = only_consumer(g, k);
        g->nodes[k].absorbed_by = i;
    }
    return MT_OK;
}

/* Node i's layer (with what it absorbed) replaced by its frozen form, if
 * it has one (vt->freeze). */
static mt_status freeze_node(mt_graph *g, int i)
{
    nn_node *n = &g->nodes[i];
    const mt_layer *run = n->fused ? n->fused : n->layer;
    if (!run->vt->freeze)
        return MT_OK;
    mt_layer *frozen = NULL;
    mt_clear_error();
    mt_status s = run->vt->freeze(run, &frozen);
    s = check_made(g, s, i, frozen, "freeze");
    if (s == MT_ERR_UNSUPPORTED)
        return MT_OK;
    if (s)
        return s;
    mt_layer_free(n->fused);
    n->fused = frozen;
    return MT_OK;
}

static mt_status compile(mt_graph *g)
{
    for (int k = 0; k < g->count; k++) {
        nn_node *n = &g->nodes[k];
        mt_layer_free(n->fused);
        n->fused = NULL;
        n->absorbed_by = -1;
        n->consumers = 0;
    }
    for (int k = 0; k < g->count; k++)
        for (int j = 0; j < g->nodes[k].n_in; j++)
            g->nodes[g->nodes[k].in[j]].consumers++;
    for (int k = 0; k < g->count; k++) {
        nn_node *n = &g->nodes[k];
        mt_status s;
        if (n->layer && n->absorbed_by < 0 && (s = fuse_after(g, k)))
            return s;
    }
    for (int k = 0; k < g->count; k++) {
        nn_node *n = &g->nodes[k];
        mt_status s;
        if (n->layer && n->absorbed_by < 0 && (s = fuse_next(g, k)))
            return s;
    }
    for (int k = 0; g->frozen && k < g->count; k++) {
        nn_node *n = &g->nodes[k];
        mt_status s;
        if (n->layer && n->absorbed_by < 0 && (s = freeze_node(g, k)))
            return s;
    }
    for (int k = 0; k < g->count; k++) {
        nn_node *n = &g->nodes[k];
        if (!n->layer)
            n->storage = -1;
        else if (n->absorbed_by >= 0)
            n->storage = g->nodes[n->absorbed_by].storage;
        else if (n->layer->vt->flags & MT_LAYER_FLAG_VIEW)
            n->storage = g->nodes[n->in[0]].storage;
        else
            n->storage = k;
    }
    g->compiled = true;
    return MT_OK;
}

mt_status mt_graph_freeze(mt_graph *graph)
{
    if (!graph)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "graph_freeze: graph is NULL");
    const bool was = graph->frozen;
    graph->frozen = true;
    graph->planned_n = -1;   // frozen layers may ask for other scratch
    mt_status s = compile(graph);
    if (s) {
        graph->frozen = was;
        graph->compiled = false;
    }
    return s;
}

/* ---- planning --------------------------------------------------------------------------- */

static const mt_layer *runner(const nn_node *n) { return n->fused ? n->fused : n->layer; }

static size_t round_up(size_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

/* Bytes of node id's output of shape s, or MT_ERR_OVERFLOW naming it. */
static mt_status shape_bytes(const mt_graph *g, int id, const mt_shape *s, size_t *bytes)
{
    *bytes = 0;
    uint64_t n = mt_dtype_size(s->dtype);
    for (int d = 0; d < s->rank; d++) {
        if (s->dim[d] < 0 || (s->dim[d] > 0 && n > (SIZE_MAX / 2) / (uint64_t)s->dim[d])) {
            char text[160];
            mt_fail(MT_ERR_OVERFLOW, "its output %s %s overflows size_t",
                    mt_nn_shape_text(s, text, sizeof text), mt_dtype_name(s->dtype));
            return mt_nn_graph_node_error(g, MT_ERR_OVERFLOW, id, ": ");
        }
        n *= (uint64_t)s->dim[d];
    }
    *bytes = round_up((size_t)n);
    return MT_OK;
}

/* Every node's output for a batch of `rows`, into at[which]. */
static mt_status infer_all(mt_graph *g, int64_t rows, int which)
{
    for (int k = 0; k < g->count; k++) {
        nn_node *n = &g->nodes[k];
        mt_status s = MT_OK;
        if (!n->layer) {
            n->at[which] = n->shape;
            n->at[which].dim[0] = rows;
        } else if (n->absorbed_by >= 0) {
            n->at[which] = g->nodes[n->absorbed_by].at[which];
        } else if ((s = mt_nn_graph_infer_node(g, k, runner(n), which, &n->at[which]))) {
            return mt_nn_graph_node_error(g, s, k, " ");
        }
    }
    return MT_OK;
}

/* Does [off, off+size) overlap a buffer live at step k (other than `self`)? */
static bool overlaps(const mt_graph *g, int k, int self, size_t off, size_t size)
{
    for (int j = 0; j <= k; j++) {
        const nn_node *b = &g->nodes[j];
        if (j != self && b->storage == j && b->bytes && b->last_use >= k &&
            off < b->offset + b->bytes && b->offset < off + size)
            return true;
    }
    return false;
}

/* The lowest offset where `size` bytes fit among the buffers live at k. */
static size_t first_fit(const mt_graph *g, int k, int self, size_t size, size_t *top)
{
    size_t best = 0;
    bool found = !overlaps(g, k, self, 0, size);
    for (int j = 0; j <= k && !found; j++) {
        const nn_node *b = &g->nodes[j];
        if (b->storage != j || !b->bytes || b->last_use < k || j == self)
            continue;
        size_t off = b->offset + b->bytes;
        if (!overlaps(g, k, self, off, size) && (!found || off < best)) {
            best = off;
            found = true;
        }
    }
    if (!found) {   /* after everything live */
        for (int j = 0; j <= k; j++) {
            const nn_node *b = &g->nodes[j];
            if (b->storage == j && b->bytes && b->last_use >= k && b->offset + b->bytes > best)
                best = b->offset + b->bytes;
        }
    }
    if (best + size > *top)
        *top = best + size;
    return best;
}

/* *sum += bytes, or MT_ERR_OVERFLOW past SIZE_MAX / 2 (as shape_bytes).
 * Every place lies below the sum of the sizes placed so far, so a sum that
 * fits keeps every offset in range: a batch of broadcast rows (stride 0)
 * can ask for outputs whose sum wraps. */
static mt_status add_bytes(const mt_graph *g, int64_t n, size_t *sum, size_t bytes)
{
    if (bytes > SIZE_MAX / 2 - *sum)
        return mt_fail(MT_ERR_OVERFLOW, "%s: the workspace for a batch of %lld overflows "
                       "size_t", g->sequential_style ? "sequential" : "graph", (long long)n);
    *sum += bytes;
    return MT_OK;
}

/* Place every computed output (sized for at[0]) and every scratch area in
 * the workspace for a batch of `batch`; returns the bytes it spans in *total. */
static mt_status place(mt_graph *g, int64_t batch, size_t *total)
{
    for (int k = 0; k < g->count; k++) {
        nn_node *n = &g->nodes[k];
        n->bytes = n->scratch_bytes = 0;
        n->last_use = k;
    }
    for (int k = 0; k < g->count; k++) {
        const nn_node *n = &g->nodes[k];
        if (!n->layer || n->absorbed_by >= 0)
            continue;
        for (int j = 0; j < n->n_in; j++) {
            int st = g->nodes[n->in[j]].storage;
            if (st >= 0 && g->nodes[st].last_use < k)
                g->nodes[st].last_use = k;
        }
    }
    for (int o = 0; o < g->n_outputs; o++) {
        int st = g->nodes[g->outputs[o]].storage;
        if (st >= 0)
            g->nodes[st].last_use = g->count;
    }
    size_t top = 0, sum = 0;
    for (int k = 0; k < g->count; k++) {
        nn_node *n = &g->nodes[k];
        if (!n->layer || n->absorbed_by >= 0)
            continue;
        const mt_layer *run = runner(n);
        mt_status s;
        if (n->storage == k) {
            size_t bytes;
            if ((s = shape_bytes(g, k, &n->at[0], &bytes)) ||
                (s = add_bytes(g, batch, &sum, bytes)))
                return s;
            n->offset = first_fit(g, k, k, bytes, &top);
            n->bytes = bytes;
        }
        if (run->vt->scratch_bytes) {
            for (int j = 0; j < n->n_in; j++)
                n->in_shapes[j] = g->nodes[n->in[j]].at[0];
            size_t bytes = run->vt->scratch_bytes(run, n->n_in, n->in_shapes);
            bytes = bytes > SIZE_MAX / 2 ? SIZE_MAX : round_up(bytes);   // too many: refused
            if ((s = add_bytes(g, batch, &sum, bytes)))
                return s;
            if (bytes) {
                /* clear of the inputs and of this node's output, all live at k */
                n->scratch_offset = first_fit(g, k, -1, bytes, &top);
                n->scratch_bytes = bytes;
            }
        }
    }
    *total = top;
    return MT_OK;
}

/* Plan batch n: the pass size, every output's place, and (if `allocate`)
 * the workspace and the tensors over it. *needed: the workspace's bytes. */
static mt_status plan(mt_graph *g, int64_t n, bool allocate, size_t *needed)
{
    g->planned_n = -1;
    mt_status s;
    if (!g->compiled && (s = compile(g)))
        return s;
    /* Bytes of all computed outputs for one sample. */
    if ((s = infer_all(g, 1, 0)))
        return s;
    size_t sample = 0;
    for (int k = 0; k < g->count; k++) {
        const nn_node *nd = &g->nodes[k];
        size_t bytes;
        if (nd->layer && nd->storage == k && !(s = shape_bytes(g, k, &nd->at[0], &bytes)))
            sample += bytes;
        if (s)
            return s;
    }
    int64_t rows = PASS_BYTES / (int64_t)(sample ? sample : 1);
    g->pass_rows = rows < 1 ? 1 : rows < n ? rows : n;
    if ((s = infer_all(g, g->pass_rows, 0)))
        return s;
    g->multipass = g->pass_rows < n;
    for (int o = 0; g->multipass && o < g->n_outputs; o++) {
        const mt_shape *out = &g->nodes[g->outputs[o]].at[0];
        g->multipass = out->rank > 0 && out->dim[0] == g->pass_rows;
    }
    if (!g->multipass && g->pass_rows < n) {   /* outputs not split by samples */
        g->pass_rows = n;
        if ((s = infer_all(g, n, 0)))
            return s;
    }
    g->last_rows = g->multipass && n % g->pass_rows ? n % g->pass_rows : g->pass_rows;
    size_t total;
    if ((s = place(g, n, &total)) ||
        (s = infer_all(g, g->last_rows, 1)))   /* fits: fewer rows, fewer bytes */
        return s;
    mt_shape whole[NN_MAX_IO];
    for (int o = 0; g->multipass && o < g->n_outputs; o++) {
        size_t bytes;
        whole[o] = g->nodes[g->outputs[o]].at[0];
        whole[o].dim[0] = n;
        g->whole_offset[o] = total;
        if ((s = shape_bytes(g, g->outputs[o], &whole[o], &bytes)) ||
            (s = add_bytes(g, n, &total, bytes)))
            return s;
    }
    *needed = total;
    if (!allocate)
        return MT_OK;
    if (total > g->block_size) {
        unsigned char *block = mt_alloc(total, ALIGN);
        if (!block)
            return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot allocate a workspace of %zu "
                           "bytes for a batch of %lld",
                           g->sequential_style ? "sequential" : "graph", total, (long long)n);
        mt_dealloc(g->block);
        g->block = block;
        g->block_size = total;
    }
    for (int k = 0; k < g->count; k++) {
        nn_node *nd = &g->nodes[k];
        for (int w = 0; nd->layer && nd->storage == k && w < 2; w++) {
            void *data = nd->bytes ? g->block + nd->offset : NULL;
            if ((s = mt_tensor_wrap_into(nd->at[w].dtype, nd->at[w].rank, nd->at[w].dim,
                                         data, &nd->buf[w])))
                return s;
        }
    }
    for (int o = 0; g->multipass && o < g->n_outputs; o++)
        if ((s = mt_tensor_wrap_into(whole[o].dtype, whole[o].rank, whole[o].dim,
                                     g->block + g->whole_offset[o], &g->whole[o])))
            return s;
    g->planned_n = n;
    return MT_OK;
}

mt_status mt_graph_bytes_needed(mt_graph *graph, int64_t n, size_t *bytes)
{
    if (!graph || !bytes || n < 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "graph_bytes_needed: NULL argument or "
                       "negative batch");
    if (!graph->n_outputs)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "graph: the graph has no outputs");
    return plan(graph, n, false, bytes);
}

size_t mt_graph_workspace_size(const mt_graph *graph) { return graph ? graph->block_size : 0; }

/* ---- running -------------------------------------------------------------------------------- */

static mt_status check_input(const mt_graph *g, int i, const mt_tensor *x, int64_t n)
{
    const nn_node *in = &g->nodes[g->inputs[i]];
    bool ok = x->rank == in->shape.rank && x->shape[0] == n;
    for (int d = 1; ok && d < x->rank; d++)
        ok = x->shape[d] == in->shape.dim[d];
    if (ok && x->dtype == in->shape.dtype)
        return MT_OK;
    char xs[160], want[160] = "[N";
    size_t len = strlen(want);
    for (int d = 1; d < in->shape.rank && len < sizeof want; d++)
        len += (size_t)snprintf(want + len, sizeof want - len, ",%lld",
                                (long long)in->shape.dim[d]);
    mt_tensor_describe(x, xs, sizeof xs);
    if (!ok && n < 0)   /* the first input has no batch dim */
        return mt_fail(MT_ERR_SHAPE, "graph: input '%s' is %s, expected %s]", in->name, xs,
                       want);
    if (!ok)
        return mt_fail(MT_ERR_SHAPE, "graph: input '%s' is %s, expected %s] with N = %lld",
                       in->name, xs, want, (long long)n);
    return mt_fail(MT_ERR_DTYPE, "graph: input '%s' %s is %s, expected %s", in->name, xs,
                   mt_dtype_name(x->dtype), mt_dtype_name(in->shape.dtype));
}

/* One pass through the nodes; the inputs' `cur` are set. `last`: the
 * shorter last pass of a batch. */
static mt_status run_pass(mt_graph *g, bool last)
{
    for (int k = 0; k < g->count; k++) {
        nn_node *n = &g->nodes[k];
        if (n->constant) {   /* [1, sample...] seen as [rows, sample...], no copy */
            mt_status s = mt_expand_into(n->constant, n->at[last].rank, n->at[last].dim,
                                         &n->view);
            if (s)
                return mt_nn_graph_node_error(g, s, k, ": ");
            n->cur = &n->view;
        }
        if (!n->layer)
            continue;
        if (n->absorbed_by >= 0) {
            n->cur = g->nodes[n->absorbed_by].cur;
            continue;
        }
        for (int j = 0; j < n->n_in; j++)
            n->args[j] = g->nodes[n->in[j]].cur;
        const mt_layer *run = runner(n);
        mt_tensor *out = run->vt->flags & MT_LAYER_FLAG_VIEW ? &n->view : &n->buf[last];
        void *scratch = n->scratch_bytes ? g->block + n->scratch_offset : NULL;
        mt_clear_error();
        // an empty output has nothing to compute (its inputs' data and its
        // scratch may be NULL); a view layer still sets its view
        bool empty = !(run->vt->flags & MT_LAYER_FLAG_VIEW) && mt_tensor_numel(out) == 0;
        mt_status s = empty ? MT_OK : run->vt->forward(run, n->n_in, n->args, scratch, out);
        if (s)
            return mt_nn_graph_node_error(g, s, k, ": ");
        n->cur = out;
    }
    return MT_OK;
}

mt_status mt_graph_forward(mt_graph *graph, int n_inputs, const mt_tensor *const *inputs,
                           int n_outputs, const mt_tensor **outputs)
{
    if (!graph || (n_inputs && !inputs) || (n_outputs && !outputs))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "graph_forward: NULL argument");
    mt_graph *g = graph;
    for (int o = 0; o < n_outputs; o++)
        outputs[o] = NULL;
    if (!g->n_inputs && g->n_outputs)   /* an output reads constants alone */
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "graph: the graph has no inputs (the "
                       "batch size comes from the inputs, not from constants)");
    if (n_inputs != g->n_inputs || n_outputs != g->n_outputs || !g->n_outputs)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "graph: given %d inputs and %d outputs, "
                       "the graph has %d and %d%s", n_inputs, n_outputs, g->n_inputs,
                       g->n_outputs, g->n_outputs ? "" : " (mark outputs with graph_output)");
    for (int i = 0; i < n_inputs; i++)
        if (!inputs[i])
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "graph_forward: input %d is NULL", i);
    int64_t n = n_inputs ? (inputs[0]->rank > 0 ? inputs[0]->shape[0] : -1) : 0;
    mt_status s;
    for (int i = 0; i < n_inputs; i++)
        if ((s = check_input(g, i, inputs[i], n)))
            return s;
    return mt_nn_graph_run(g, n, inputs, outputs);
}

/* An output of an earlier pass fed back as an input lies in the workspace,
 * where this pass writes while it may still be read: refused, as the
 * layers would read it half overwritten (silently, or failing on overlap,
 * depending on where the plan put things). */
static mt_status check_not_in_workspace(const mt_graph *g, const mt_tensor *const *inputs)
{
    const uintptr_t lo = (uintptr_t)g->block, hi = lo + g->block_size;
    for (int i = 0; g->block && i < g->n_inputs; i++) {
        const uintptr_t p = (uintptr_t)inputs[i]->data;
        if (p < lo || p >= hi)
            continue;
        if (g->sequential_style)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "sequential: the input lies in the "
                           "model's workspace (an output of an earlier pass, valid until "
                           "the next one): copy it first (mt_tensor_contiguous)");
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "graph: input '%s' lies in the graph's "
                       "workspace (an output of an earlier pass, valid until the next "
                       "one): copy it first (mt_tensor_contiguous)",
                       g->nodes[g->inputs[i]].name);
    }
    return MT_OK;
}

mt_status mt_nn_graph_run(mt_graph *g, int64_t n, const mt_tensor *const *inputs,
                          const mt_tensor **outputs)
{
    const int n_inputs = g->n_inputs, n_outputs = g->n_outputs;
    mt_status s;
    size_t needed;
    if ((s = check_not_in_workspace(g, inputs)))
        return s;
    if (n != g->planned_n && (s = plan(g, n, true, &needed)))
        return s;
    if (!g->multipass) {
        for (int i = 0; i < n_inputs; i++)
            g->nodes[g->inputs[i]].cur = inputs[i];
        if ((s = run_pass(g, false)))
            return s;
        for (int o = 0; o < n_outputs; o++)
            outputs[o] = g->nodes[g->outputs[o]].cur;
        return MT_OK;
    }
    for (int64_t r0 = 0; r0 < n; r0 += g->pass_rows) {
        const int64_t rows = n - r0 < g->pass_rows ? n - r0 : g->pass_rows;
        for (int i = 0; i < n_inputs; i++) {
            nn_node *in = &g->nodes[g->inputs[i]];
            if ((s = mt_narrow_into(inputs[i], 0, r0, rows, &in->view)))
                return s;
            in->cur = &in->view;
        }
        if ((s = run_pass(g, rows < g->pass_rows)))
            return s;
        for (int o = 0; o < n_outputs; o++) {
            mt_tensor dst;
            if ((s = mt_narrow_into(&g->whole[o], 0, r0, rows, &dst)) ||
                (s = mt_tensor_copy_into(g->nodes[g->outputs[o]].cur, &dst)))
                return s;
        }
    }
    for (int o = 0; o < n_outputs; o++)
        outputs[o] = &g->whole[o];
    return MT_OK;
}


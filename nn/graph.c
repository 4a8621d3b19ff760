/* graph.c — layers wired by node ids: shapes checked as nodes are added;
 * epilogues fused and every output placed in one workspace (reused by
 * liveness) once per batch size; passes that never touch the heap. */
#include <stdio.h>
#include <string.h>

#include "graph_internal.h"
#include "minitensor/memory.h"
#include "minitensor/view.h"

enum {
    MAX_IO = 16,          /* graph inputs, graph outputs */
    FROM_LEN = MT_NAME_MAX + 16,
    ALIGN = 64,
};

/* A batch whose activations (all computed outputs) would take more than
 * this goes through the layers in passes of fewer samples, so that each
 * layer reads its input from cache rather than memory; the outputs are
 * gathered. Measured on the Fashion CNN (146 KiB of activations per image,
 * so 14 per pass; bench_fashion --batches 256): one thread 11.7K -> 13.6K
 * images/s, two threads 15.0K -> 20.1K; 1, 4 and 8 MiB did as well as 2 on
 * one thread, 8 MiB worse on two (17.0K). */
enum { PASS_BYTES = 2 * 1024 * 1024 };

typedef struct nn_node {
    char name[MT_NAME_MAX];
    mt_layer *layer;          /* NULL: a graph input */
    mt_layer *fused;          /* layer with the epilogues after it absorbed (owned) */
    int n_in;
    int *in;                  /* producer ids */
    const mt_tensor **args;   /* the producers' outputs during a pass */
    mt_shape *in_shapes;      /* for infer */
    const char **from;        /* how messages name each input */
    char (*from_text)[FROM_LEN];
    mt_shape shape;           /* output for a batch of 1 */
    mt_shape at[2];           /* output for a full pass and for the last pass */
    int absorbed_by;          /* -1, or the node whose (fused) layer computes this */
    int storage;              /* node whose buffer holds the output; -1: the caller's */
    int consumers, last_use;
    bool is_output;
    size_t offset, bytes, scratch_offset, scratch_bytes;
    mt_tensor buf[2];         /* the output for a full and for the last pass */
    mt_tensor view;           /* a view layer's output; an input's rows in a pass */
    const mt_tensor *cur;     /* the output in this pass */
} nn_node;

struct mt_graph {
    nn_node *nodes;
    int count, cap;
    int inputs[MAX_IO], n_inputs;
    int outputs[MAX_IO], n_outputs;
    bool sequential_style;
    bool compiled;
    int64_t planned_n;        /* -1: no plan in the buffers */
    int64_t pass_rows, last_rows;
    unsigned char *block;     /* the workspace */
    size_t block_size;
    size_t whole_offset[MAX_IO];
    mt_tensor whole[MAX_IO];  /* gathered outputs when a batch takes several passes */
    bool multipass;
};

/* ---- building --------------------------------------------------------------------- */

mt_status mt_graph_new(mt_graph **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "graph_new: out is NULL");
    mt_graph *g = mt_alloc(sizeof *g, _Alignof(mt_graph));
    if (!g)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "graph_new: cannot allocate the graph");
    memset(g, 0, sizeof *g);
    g->planned_n = -1;
    *out = g;
    return MT_OK;
}

void nn_graph_sequential_style(mt_graph *g) { g->sequential_style = true; }

void nn_graph_only_output(mt_graph *g, int id)
{
    for (int i = 0; i < g->n_outputs; i++)
        g->nodes[g->outputs[i]].is_output = false;
    g->outputs[0] = id;
    g->n_outputs = 1;
    g->nodes[id].is_output = true;
    g->compiled = false;
    g->planned_n = -1;
}

/* "node 'fc' (linear fc.weight)" or "layer 3 (relu)" into buf. */
static const char *node_label(const mt_graph *g, int id, char *buf, size_t size)
{
    const nn_node *n = &g->nodes[id];
    if (g->sequential_style)
        snprintf(buf, size, "layer %d (%s)", id, n->layer ? n->layer->name : "input");
    else if (n->layer)
        snprintf(buf, size, "node '%s' (%s)", n->name, n->layer->name);
    else
        snprintf(buf, size, "input '%s'", n->name);
    return buf;
}

/* Re-raise the current error with the node's place in front. */
static mt_status node_error(const mt_graph *g, mt_status s, int id, const char *sep)
{
    char why[512], label[2 * MT_NAME_MAX + 32];
    snprintf(why, sizeof why, "%s", mt_last_error());
    return mt_fail(s, "%s: %s%s%s", g->sequential_style ? "sequential" : "graph",
                   node_label(g, id, label, sizeof label), sep, why);
}

/* Room for one more node. */
static mt_status reserve(mt_graph *g, const char *op)
{
    if (g->count < g->cap)
        return MT_OK;
    int cap = g->cap ? 2 * g->cap : 8;
    nn_node *nodes = mt_alloc((size_t)cap * sizeof *nodes, _Alignof(nn_node));
    if (!nodes)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot grow the graph", op);
    if (g->count)
        memcpy(nodes, g->nodes, (size_t)g->count * sizeof *nodes);
    mt_dealloc(g->nodes);
    g->nodes = nodes;
    g->cap = cap;
    return MT_OK;
}

int mt_graph_find(const mt_graph *graph, const char *name)
{
    if (!graph || !name)
        return -1;
    for (int i = 0; i < graph->count; i++)
        if (!strcmp(graph->nodes[i].name, name))
            return i;
    return -1;
}

static mt_status check_name(const mt_graph *g, const char *op, const char *name)
{
    if (!name[0] || strlen(name) >= MT_NAME_MAX)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: node name '%s' is empty or longer "
                       "than %d bytes", op, name, MT_NAME_MAX - 1);
    if (mt_graph_find(g, name) >= 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: there is already a node '%s'", op,
                       name);
    return MT_OK;
}

mt_status mt_graph_input(mt_graph *graph, const char *name, mt_dtype dtype,
                         int sample_rank, const int64_t *sample_shape, int *id)
{
    const char *op = "graph_input";
    if (!graph || !name || (sample_rank > 0 && !sample_shape))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: NULL argument", op);
    mt_status s = check_name(graph, op, name);
    if (s)
        return s;
    if (sample_rank < 0 || sample_rank >= MT_MAX_RANK)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: sample rank %d is not in 0..%d", op,
                       sample_rank, MT_MAX_RANK - 1);
    if ((unsigned)dtype >= MT_DTYPE_COUNT)
        return mt_fail(MT_ERR_DTYPE, "%s: invalid dtype %d", op, (int)dtype);
    for (int d = 0; d < sample_rank; d++)
        if (sample_shape[d] < 1)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: sample dim %d is %lld, expected "
                           ">= 1", op, d, (long long)sample_shape[d]);
    if (graph->n_inputs == MAX_IO)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: a graph takes at most %d inputs", op,
                       MAX_IO);
    if ((s = reserve(graph, op)))
        return s;
    nn_node *n = &graph->nodes[graph->count];
    memset(n, 0, sizeof *n);
    snprintf(n->name, sizeof n->name, "%s", name);
    n->shape.dtype = dtype;
    n->shape.rank = sample_rank + 1;
    n->shape.dim[0] = 1;
    for (int d = 0; d < sample_rank; d++)
        n->shape.dim[d + 1] = sample_shape[d];
    n->absorbed_by = -1;
    n->storage = -1;
    graph->inputs[graph->n_inputs++] = graph->count;
    if (id)
        *id = graph->count;
    graph->count++;
    graph->compiled = false;
    graph->planned_n = -1;
    return MT_OK;
}

/* The node's edge arrays, in one allocation. */
static mt_status alloc_edges(nn_node *n, int k, const char *op)
{
    size_t bytes = (size_t)k * (sizeof(mt_shape) + sizeof(mt_tensor *) + sizeof(char *) +
                                sizeof(int) + FROM_LEN);
    unsigned char *p = mt_alloc(bytes, 16);
    if (!p)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot allocate the node", op);
    memset(p, 0, bytes);
    n->in_shapes = (mt_shape *)p;
    p += (size_t)k * sizeof(mt_shape);
    n->args = (const mt_tensor **)p;
    p += (size_t)k * sizeof(mt_tensor *);
    n->from = (const char **)p;
    p += (size_t)k * sizeof(char *);
    n->in = (int *)p;
    p += (size_t)k * sizeof(int);
    n->from_text = (char (*)[FROM_LEN])p;
    return MT_OK;
}

static void free_node(nn_node *n)
{
    mt_layer_free(n->fused);
    mt_layer_free(n->layer);
    mt_dealloc(n->in_shapes);   /* the start of the edge arrays */
}

/* Infer node id's output for its inputs' shapes at[which] (or, which < 0,
 * their batch-1 shapes) with the layer `run`. */
static mt_status infer_node(mt_graph *g, int id, const mt_layer *run, int which,
                            mt_shape *out)
{
    nn_node *n = &g->nodes[id];
    for (int j = 0; j < n->n_in; j++) {
        const nn_node *p = &g->nodes[n->in[j]];
        n->in_shapes[j] = which < 0 ? p->shape : p->at[which];
    }
    memset(out, 0, sizeof *out);
    return run->vt->infer(run, n->n_in, n->in_shapes, n->from, out);
}

/* Add a layer node; on failure the layer is left to the caller. */
static mt_status add_node(mt_graph *g, const char *name, mt_layer *layer, int k,
                          const int *inputs, int *id)
{
    const char *op = g->sequential_style ? "sequential_add" : "graph_add";
    mt_status s = check_name(g, op, name);
    if (s)
        return s;
    int want = layer->vt->n_inputs;
    if (k < 1 || (want && k != want))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: node '%s' (%s) takes %s%d input%s, "
                       "given %d", op, name, layer->name, want ? "" : "at least ",
                       want ? want : 1, (want ? want : 1) == 1 ? "" : "s", k);
    if (!inputs)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: inputs is NULL", op);
    for (int j = 0; j < k; j++)
        if (inputs[j] < 0 || inputs[j] >= g->count)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: node '%s' (%s): input %d is node "
                           "%d, which does not exist (%d nodes)", op, name, layer->name, j,
                           inputs[j], g->count);
    if ((s = reserve(g, op)))
        return s;
    nn_node *n = &g->nodes[g->count];
    memset(n, 0, sizeof *n);
    if ((s = alloc_edges(n, k, op)))
        return s;
    snprintf(n->name, sizeof n->name, "%s", name);
    n->layer = layer;
    n->n_in = k;
    n->absorbed_by = -1;
    for (int j = 0; j < k; j++) {
        const nn_node *p = &g->nodes[inputs[j]];
        n->in[j] = inputs[j];
        if (g->sequential_style)
            snprintf(n->from_text[j], FROM_LEN, "%s",
                     p->layer ? "the previous layer" : "the input");
        else
            snprintf(n->from_text[j], FROM_LEN, "%s '%s'", p->layer ? "node" : "input",
                     p->name);
        n->from[j] = n->from_text[j];
    }
    if ((s = infer_node(g, g->count, layer, -1, &n->shape))) {
        s = node_error(g, s, g->count, " ");
        n->layer = NULL;
        free_node(n);
        return s;
    }
    layer->in_model = true;
    if (id)
        *id = g->count;
    g->count++;
    g->compiled = false;
    g->planned_n = -1;
    return MT_OK;
}

mt_status mt_graph_add(mt_graph *graph, const char *name, mt_layer *layer, int n,
                       const int *inputs, int *id)
{
    if (!graph || !layer || !name) {
        if (layer && !layer->in_model)
            mt_layer_free(layer);
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "graph_add: %s is NULL",
                       !graph ? "graph" : !layer ? "layer" : "name");
    }
    if (layer->in_model)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "graph_add: node '%s': layer %s already "
                       "belongs to a model", name, layer->name);
    mt_status s = add_node(graph, name, layer, n, inputs, id);
    if (s)
        mt_layer_free(layer);
    return s;
}

mt_status mt_graph_add_named(mt_graph *graph, const char *name, mt_layer *layer, int n,
                             const char *const *inputs, int *id)
{
    int ids[MAX_IO];
    mt_status s = MT_OK;
    if (!graph || !inputs || n < 1 || n > MAX_IO)
        s = mt_fail(MT_ERR_INVALID_ARGUMENT, "graph_add_named: NULL argument or %d inputs "
                    "(1..%d by name)", n, MAX_IO);
    for (int j = 0; !s && j < n; j++)
        if ((ids[j] = mt_graph_find(graph, inputs[j])) < 0)
            s = mt_fail(MT_ERR_NOT_FOUND, "graph_add_named: node '%s': no node named '%s'",
                        name ? name : "", inputs[j] ? inputs[j] : "(null)");
    if (s) {
        if (layer && !layer->in_model)
            mt_layer_free(layer);
        return s;
    }
    return mt_graph_add(graph, name, layer, n, ids, id);
}

mt_status mt_graph_output(mt_graph *graph, int id)
{
    if (!graph || id < 0 || id >= graph->count)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "graph_output: node %d does not exist", id);
    if (graph->nodes[id].is_output)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "graph_output: node '%s' is an output "
                       "already", graph->nodes[id].name);
    if (graph->n_outputs == MAX_IO)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "graph_output: a graph has at most %d "
                       "outputs", MAX_IO);
    graph->outputs[graph->n_outputs++] = id;
    graph->nodes[id].is_output = true;
    graph->compiled = false;
    graph->planned_n = -1;
    return MT_OK;
}

int mt_graph_count(const mt_graph *graph) { return graph ? graph->count : 0; }
int mt_graph_input_count(const mt_graph *graph) { return graph ? graph->n_inputs : 0; }
int mt_graph_output_count(const mt_graph *graph) { return graph ? graph->n_outputs : 0; }

const mt_layer *mt_graph_layer(const mt_graph *graph, int id)
{
    return graph && id >= 0 && id < graph->count ? graph->nodes[id].layer : NULL;
}

mt_status mt_graph_shape_get(const mt_graph *graph, int id, mt_shape *shape)
{
    if (!graph || !shape || id < 0 || id >= graph->count)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "graph_shape_get: no node %d", id);
    *shape = graph->nodes[id].shape;
    return MT_OK;
}

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

/* Node i absorbs the chain of epilogues after it, while its output has one
 * reader, is not an output, and its layer accepts them. */
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
        if (cn->n_in != 1 || !cn->layer->vt->as_epilogue || !run->vt->absorb ||
            !cn->layer->vt->as_epilogue(cn->layer, &e))
            return MT_OK;
        mt_layer *fused = NULL;
        mt_status s = run->vt->absorb(run, &e, &fused);
        if (s == MT_ERR_UNSUPPORTED)
            return MT_OK;
        if (s)
            return node_error(g, s, i, ": ");
        mt_layer_free(g->nodes[i].fused);
        g->nodes[i].fused = fused;
        run = fused;
        cn->absorbed_by = i;
        tail = c;
    }
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

/* ---- planning --------------------------------------------------------------------------- */

static const mt_layer *runner(const nn_node *n) { return n->fused ? n->fused : n->layer; }

static size_t round_up(size_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

/* Bytes of a shape, or MT_ERR_OVERFLOW. */
static mt_status shape_bytes(const mt_shape *s, size_t *bytes)
{
    *bytes = 0;
    uint64_t n = mt_dtype_size(s->dtype);
    for (int d = 0; d < s->rank; d++) {
        if (s->dim[d] < 0 || (s->dim[d] > 0 && n > (SIZE_MAX / 2) / (uint64_t)s->dim[d]))
            return mt_fail(MT_ERR_OVERFLOW, "graph: an output's size overflows size_t");
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
        } else if ((s = infer_node(g, k, runner(n), which, &n->at[which]))) {
            return node_error(g, s, k, " ");
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

/* Place every computed output (sized for at[0]) and every scratch area in
 * the workspace; returns the bytes it spans in *total. */
static mt_status place(mt_graph *g, size_t *total)
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
    size_t top = 0;
    for (int k = 0; k < g->count; k++) {
        nn_node *n = &g->nodes[k];
        if (!n->layer || n->absorbed_by >= 0)
            continue;
        const mt_layer *run = runner(n);
        if (n->storage == k) {
            size_t bytes;
            mt_status s = shape_bytes(&n->at[0], &bytes);
            if (s)
                return s;
            n->offset = first_fit(g, k, k, bytes, &top);
            n->bytes = bytes;
        }
        if (run->vt->scratch_bytes) {
            for (int j = 0; j < n->n_in; j++)
                n->in_shapes[j] = g->nodes[n->in[j]].at[0];
            size_t bytes = round_up(run->vt->scratch_bytes(run, n->n_in, n->in_shapes));
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
        if (nd->layer && nd->storage == k && !(s = shape_bytes(&nd->at[0], &bytes)))
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
    if ((s = place(g, &total)) ||
        (s = infer_all(g, g->last_rows, 1)))   /* fits: fewer rows, fewer bytes */
        return s;
    mt_shape whole[MAX_IO];
    for (int o = 0; g->multipass && o < g->n_outputs; o++) {
        size_t bytes;
        whole[o] = g->nodes[g->outputs[o]].at[0];
        whole[o].dim[0] = n;
        if ((s = shape_bytes(&whole[o], &bytes)))
            return s;
        g->whole_offset[o] = total;
        total += bytes;
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
        mt_status s = run->vt->forward(run, n->n_in, n->args, scratch, out);
        if (s)
            return node_error(g, s, k, ": ");
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
    if (n_inputs != g->n_inputs || n_outputs != g->n_outputs || !g->n_outputs)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "graph: given %d inputs and %d outputs, "
                       "the graph has %d and %d%s", n_inputs, n_outputs, g->n_inputs,
                       g->n_outputs, g->n_outputs ? "" : " (mark outputs with graph_output)");
    for (int i = 0; i < n_inputs; i++)
        if (!inputs[i])
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "graph_forward: input %d is NULL", i);
    int64_t n = n_inputs ? (inputs[0]->rank > 0 ? inputs[0]->shape[0] : -1) : 0;
    mt_status s;
    size_t needed;
    for (int i = 0; i < n_inputs; i++)
        if ((s = check_input(g, i, inputs[i], n)))
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

void mt_graph_free(mt_graph *graph)
{
    if (!graph)
        return;
    for (int k = 0; k < graph->count; k++)
        free_node(&graph->nodes[k]);
    mt_dealloc(graph->nodes);
    mt_dealloc(graph->block);
    mt_dealloc(graph);
}

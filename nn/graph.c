/* graph.c — building a graph: layers wired by node ids (or names), shapes
 * checked as nodes are added. Fusing, planning and running: graph_plan.c. */
#include <stdio.h>
#include <string.h>

#include "graph_internal.h"
#include "minitensor/memory.h"

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

void mt_nn_graph_sequential_style(mt_graph *g) { g->sequential_style = true; }

void mt_nn_graph_only_output(mt_graph *g, int id)
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
        snprintf(buf, size, "%s '%s'", n->constant ? "constant" : "input", n->name);
    return buf;
}

mt_status mt_nn_graph_node_error(const mt_graph *g, mt_status s, int id, const char *sep)
{
    char why[512], label[2 * MT_NAME_MAX + 32];
    /* a user layer may fail without a message (the graph cleared it before
     * the call): say which status rather than repeat an older failure's */
    if (mt_last_error()[0])
        snprintf(why, sizeof why, "%s", mt_last_error());
    else
        snprintf(why, sizeof why, "failed: %s", mt_status_name(s));
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
    int64_t count = 1;   // a sample's elements: a tensor of one must be possible
    for (int d = 0; d < sample_rank; d++) {
        if (sample_shape[d] < 1)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: sample dim %d is %lld, expected "
                           ">= 1", op, d, (long long)sample_shape[d]);
        if (__builtin_mul_overflow(count, sample_shape[d], &count))
            return mt_fail(MT_ERR_OVERFLOW, "%s: the sample shape's element count overflows "
                           "(dim %d is %lld)", op, d, (long long)sample_shape[d]);
    }
    if (graph->n_inputs == NN_MAX_IO)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: a graph takes at most %d inputs", op,
                       NN_MAX_IO);
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

mt_status mt_graph_constant(mt_graph *graph, const char *name, const mt_tensor *value,
                            int *id)
{
    const char *op = "graph_constant";
    if (!graph || !name || !value)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", op,
                       !graph ? "graph" : !name ? "name" : "value");
    mt_status s = check_name(graph, op, name);
    if (s)
        return s;
    char desc[160];
    snprintf(desc, sizeof desc, "%s: constant '%s'", op, name);
    if ((s = mt_nn_check_weight(desc, "value", value)))   // before its shape is read
        return s;
    mt_tensor_describe(value, desc, sizeof desc);
    /* the leading 1 stands for the batch, as in PyTorch's [1, 1, E] class token */
    bool fits = value->rank >= 1 && value->shape[0] == 1;
    for (int d = 1; fits && d < value->rank; d++)
        fits = value->shape[d] >= 1;
    if (!fits)
        return mt_fail(MT_ERR_SHAPE, "%s: constant '%s' is %s, expected [1, sample...] "
                       "(a leading 1 for the batch, dims >= 1)", op, name, desc);
    if ((s = reserve(graph, op)))
        return s;
    nn_node *n = &graph->nodes[graph->count];
    memset(n, 0, sizeof *n);
    if ((s = mt_tensor_contiguous(value, &n->constant)))
        return mt_fail(s, "%s: constant '%s' %s: cannot copy it: %s", op, name, desc,
                       mt_status_name(s));
    snprintf(n->name, sizeof n->name, "%s", name);
    n->shape.dtype = value->dtype;
    n->shape.rank = value->rank;
    for (int d = 0; d < value->rank; d++)
        n->shape.dim[d] = value->shape[d];
    n->absorbed_by = -1;
    n->storage = -1;
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
                                sizeof(int) + NN_FROM_LEN);
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
    n->from_text = (char (*)[NN_FROM_LEN])p;
    return MT_OK;
}

static void free_node(nn_node *n)
{
    mt_tensor_free(n->constant);
    mt_layer_free(n->fused);
    if (n->layer)
        n->layer->in_model = false;   /* mt_layer_free leaves a model's layers alone */
    mt_layer_free(n->layer);
    mt_dealloc(n->in_shapes);   /* the start of the edge arrays */
}

mt_status mt_nn_graph_infer_node(mt_graph *g, int id, const mt_layer *run, int which,
                                 mt_shape *out)
{
    nn_node *n = &g->nodes[id];
    for (int j = 0; j < n->n_in; j++) {
        const nn_node *p = &g->nodes[n->in[j]];
        n->in_shapes[j] = which < 0 ? p->shape : p->at[which];
    }
    memset(out, 0, sizeof *out);
    mt_clear_error();
    mt_status s = run->vt->infer(run, n->n_in, n->in_shapes, n->from, out);
    if (s)
        return s;
    /* a user layer's infer is trusted for nothing the planner needs */
    if ((unsigned)out->dtype >= MT_DTYPE_COUNT)
        return mt_fail(MT_ERR_DTYPE, "infers an invalid dtype %d", (int)out->dtype);
    if (out->rank < 0 || out->rank > MT_MAX_RANK)
        return mt_fail(MT_ERR_SHAPE, "infers rank %d, outside 0..%d", out->rank,
                       MT_MAX_RANK);
    for (int d = 0; d < out->rank; d++)
        if (out->dim[d] < 0)
            return mt_fail(MT_ERR_SHAPE, "infers dim %d = %lld, expected >= 0", d,
                           (long long)out->dim[d]);
    return MT_OK;
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
            snprintf(n->from_text[j], NN_FROM_LEN, "%s",
                     p->layer ? "the previous layer" : "the input");
        else
            snprintf(n->from_text[j], NN_FROM_LEN, "%s '%s'",
                     p->layer ? "node" : p->constant ? "constant" : "input", p->name);
        n->from[j] = n->from_text[j];
    }
    if ((s = mt_nn_graph_infer_node(g, g->count, layer, -1, &n->shape))) {
        s = mt_nn_graph_node_error(g, s, g->count, " ");
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
    int *ids = NULL;
    mt_status s = MT_OK;
    if (!graph || !inputs || n < 1)
        s = mt_fail(MT_ERR_INVALID_ARGUMENT, "graph_add_named: NULL argument or %d inputs", n);
    else if (!(ids = mt_alloc((size_t)n * sizeof *ids, sizeof *ids)))
        s = mt_fail(MT_ERR_OUT_OF_MEMORY, "graph_add_named: node '%s': cannot allocate %d "
                    "input ids", name ? name : "", n);
    for (int j = 0; !s && j < n; j++)
        if ((ids[j] = mt_graph_find(graph, inputs[j])) < 0)
            s = mt_fail(MT_ERR_NOT_FOUND, "graph_add_named: node '%s': no node named '%s'",
                        name ? name : "", inputs[j] ? inputs[j] : "(null)");
    if (s) {
        mt_dealloc(ids);
        if (layer && !layer->in_model)
            mt_layer_free(layer);
        return s;
    }
    s = mt_graph_add(graph, name, layer, n, ids, id);
    mt_dealloc(ids);
    return s;
}

mt_status mt_graph_output(mt_graph *graph, int id)
{
    if (!graph)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "graph_output: graph is NULL");
    if (id < 0 || id >= graph->count)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "graph_output: node %d does not exist", id);
    if (graph->nodes[id].constant)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "graph_output: node '%s' is a constant, the "
                       "same for every sample: mark a node that reads it",
                       graph->nodes[id].name);
    if (graph->nodes[id].is_output)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "graph_output: node '%s' is an output "
                       "already", graph->nodes[id].name);
    if (graph->n_outputs == NN_MAX_IO)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "graph_output: a graph has at most %d "
                       "outputs", NN_MAX_IO);
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
    if (!graph || !shape)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "graph_shape_get: %s is NULL",
                       graph ? "shape" : "graph");
    if (id < 0 || id >= graph->count)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "graph_shape_get: no node %d", id);
    *shape = graph->nodes[id].shape;
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

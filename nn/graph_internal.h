/* graph_internal.h (nn-private) — the graph's structs, shared by its
 * building (graph.c) and its planning and running (graph_plan.c), and what
 * the Sequential builder needs beyond graph.h. */
#ifndef MT_NN_GRAPH_INTERNAL_H
#define MT_NN_GRAPH_INTERNAL_H

#include "layer_internal.h"

enum {
    NN_MAX_IO = 16,       /* graph inputs, graph outputs */
    NN_FROM_LEN = MT_NAME_MAX + 16,
};

typedef struct nn_node {
    char name[MT_NAME_MAX];
    mt_layer *layer;          /* NULL: a graph input or a constant */
    mt_tensor *constant;      /* a constant's value [1, sample...] (the graph's copy) */
    mt_layer *fused;          /* layer with the epilogues after it absorbed (owned) */
    int n_in;
    int *in;                  /* producer ids */
    const mt_tensor **args;   /* the producers' outputs during a pass */
    mt_shape *in_shapes;      /* for infer */
    const char **from;        /* how messages name each input */
    char (*from_text)[NN_FROM_LEN];
    mt_shape shape;           /* output for a batch of 1 */
    mt_shape at[2];           /* output for a full pass and for the last pass */
    int absorbed_by;          /* -1, or the node whose (fused) layer computes this */
    int storage;              /* node whose buffer holds the output; -1: the caller's */
    int consumers, last_use;
    bool is_output;
    size_t offset, bytes, scratch_offset, scratch_bytes;
    mt_tensor buf[2];         /* the output for a full and for the last pass */
    mt_tensor view;           /* a view layer's output; an input's rows in a pass; a
                                 constant broadcast over the pass's rows (stride 0) */
    const mt_tensor *cur;     /* the output in this pass */
} nn_node;

struct mt_graph {
    nn_node *nodes;
    int count, cap;
    int inputs[NN_MAX_IO], n_inputs;
    int outputs[NN_MAX_IO], n_outputs;
    bool sequential_style;
    bool compiled;
    bool frozen;              /* compile() freezes the layers it runs (mt_graph_freeze) */
    int64_t planned_n;        /* -1: no plan in the buffers */
    int64_t pass_rows, last_rows;
    unsigned char *block;     /* the workspace */
    size_t block_size;
    size_t whole_offset[NN_MAX_IO];
    mt_tensor whole[NN_MAX_IO];  /* gathered outputs when a batch takes several passes */
    bool multipass;
};

/* Re-raise the current error with node id's place in front ("graph: node
 * 'fc' (linear w)" or "sequential: layer 2 (linear w)"), then `sep`. */
NN_INTERNAL mt_status mt_nn_graph_node_error(const mt_graph *g, mt_status s, int id,
                                             const char *sep);

/* Infer node id's output with layer `run`, for its inputs' at[which]
 * shapes (which < 0: their batch-1 shapes). */
NN_INTERNAL mt_status mt_nn_graph_infer_node(mt_graph *g, int id, const mt_layer *run,
                                             int which, mt_shape *out);

/* mt_graph_forward after its checks: inputs (as many as declared) checked
 * to be [n, sample...] of the declared dtypes, outputs as many as marked. */
NN_INTERNAL mt_status mt_nn_graph_run(mt_graph *g, int64_t n, const mt_tensor *const *inputs,
                                      const mt_tensor **outputs);

/* Word messages as a Sequential's: "sequential: layer 3 (relu) …", inputs
 * named "the input" and "the previous layer". */
NN_INTERNAL void mt_nn_graph_sequential_style(mt_graph *g);

/* Make node id the only output. */
NN_INTERNAL void mt_nn_graph_only_output(mt_graph *g, int id);

#endif

/* minitensor/graph.h — a model as a graph of layers, with a memory planner.
 *
 * Nodes are inputs, constants or layers; a layer node reads the outputs of
 * earlier nodes (by id or by name), so residual adds, branches,
 * concatenations, a ViT's class token and models with several inputs and
 * outputs are all graphs:
 *
 *     mt_graph *g;                       int x, a, b, y;
 *     mt_graph_new(&g);
 *     mt_graph_input(g, "x", MT_DTYPE_F32, 1, (int64_t[]){4}, &x);  // [N,4]
 *     mt_graph_add(g, "fc", fc, 1, &x, &a);        // shape-checked here
 *     mt_graph_add(g, "relu", relu, 1, &a, &b);
 *     mt_graph_add(g, "skip", add, 2, (int[]){b, x}, &y);
 *     mt_graph_output(g, y);
 *     size_t bytes;  mt_graph_bytes_needed(g, 256, &bytes);  // before running
 *     const mt_tensor *out;
 *     mt_graph_forward(g, 1, &input, 1, &out);      // input [256,4]
 *     mt_graph_free(g);                             // and its layers
 *
 * Every input is [N, sample...]: one batch size N for all inputs. Each
 * layer's shape is checked when it is added (for N = 1), with a message
 * that names the node ("graph: node 'skip' (add) expects inputs of the same
 * shape, node 'relu' gives [1,3] and input 'x' gives [1,4]").
 *
 * PLANNING. The first pass for a batch size N plans the workspace: each
 * layer's output gets a place in one buffer, reused by later outputs once
 * its last reader has run (liveness), views (Flatten, Dropout) take none,
 * and an epilogue layer (a ReLU, an inference BatchNorm) right after a
 * layer that can absorb it (Linear, Conv2D, Add) runs inside that layer.
 * The buffer grows only when a plan needs more than it holds; every other
 * pass touches no heap at all. mt_graph_bytes_needed answers "how big?" for
 * any N before anything runs. A batch whose outputs take more than 2 MiB
 * runs through the layers in passes of fewer samples (each layer then reads
 * its input from cache), gathered into whole outputs.
 *
 * A graph keeps state between passes (its workspace): use one per thread.
 */
#ifndef MINITENSOR_GRAPH_H
#define MINITENSOR_GRAPH_H

#include "minitensor/layer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_graph mt_graph;

/* An empty graph. */
mt_status mt_graph_new(mt_graph **out);

/* Declare input `name` [N, sample_shape...] of `dtype` (sample_rank 0..7,
 * dims >= 1); *id is its node id. Fails on a duplicate or empty name. */
mt_status mt_graph_input(mt_graph *graph, const char *name, mt_dtype dtype,
                         int sample_rank, const int64_t *sample_shape, int *id);

/* Declare constant `name`: a tensor the same for every sample, such as a
 * ViT's class token (PyTorch's [1, 1, E] parameter, concatenated before
 * the patch tokens), its position embedding or a fixed mask. value is
 * [1, sample...]: its leading 1 stands for the batch (as a PyTorch
 * parameter's), dims >= 1, any dtype and strides. The graph keeps its own
 * contiguous copy: the caller may free value (and its data) right after,
 * and later changes to them are not seen (declare the graph again to take
 * them in). Nodes read it as [N, sample...], a view with stride 0 over the
 * batch: no workspace, no copy per pass. It is not an input (forward takes
 * none for it), cannot be an output (MT_ERR_INVALID_ARGUMENT: mark a node
 * that reads it), and a graph needs an input for its batch size. Fails on
 * NULLs or a duplicate name (MT_ERR_INVALID_ARGUMENT), MT_ERR_SHAPE on
 * another shape, MT_ERR_OUT_OF_MEMORY. */
mt_status mt_graph_constant(mt_graph *graph, const char *name, const mt_tensor *value,
                            int *id);

/* Add node `name` running `layer` on the outputs of nodes inputs[0..n-1].
 * The graph owns the layer from then on, also on failure (then freed) —
 * except a layer that already belongs to a model, which is refused
 * (MT_ERR_INVALID_ARGUMENT) and left to its model. Fails with MT_ERR_SHAPE
 * if the layer does not fit its inputs, naming the node; *id (may be NULL)
 * is the new node's id. */
mt_status mt_graph_add(mt_graph *graph, const char *name, mt_layer *layer,
                       int n, const int *inputs, int *id);

/* The same with inputs given by node name. */
mt_status mt_graph_add_named(mt_graph *graph, const char *name, mt_layer *layer,
                             int n, const char *const *inputs, int *id);

/* The id of node `name`, or -1. */
int mt_graph_find(const mt_graph *graph, const char *name);

/* Make node `id` an output (outputs are returned in the order marked).
 * Fails on a node marked already (give the same tensor twice yourself)
 * and on a constant. */
mt_status mt_graph_output(mt_graph *graph, int id);

/* Number of nodes (inputs and constants included), inputs and outputs. */
int mt_graph_count(const mt_graph *graph);
int mt_graph_input_count(const mt_graph *graph);
int mt_graph_output_count(const mt_graph *graph);

/* Node id's layer (NULL for an input, a constant or a bad id) and its output shape for
 * a batch of 1 (fails on a bad id). */
const mt_layer *mt_graph_layer(const mt_graph *graph, int id);
mt_status mt_graph_shape_get(const mt_graph *graph, int id, mt_shape *shape);

/* The bytes of workspace a pass over a batch of n needs (outputs, scratch
 * and gathered outputs, 64-byte aligned), computed from the plan without
 * running anything; the workspace a forward at n holds is exactly this
 * (unless a larger batch ran before: it keeps the larger one). Not in it:
 * the per-thread buffers the ops keep for reuse (conv.h's patch rows,
 * matmul's packed panels, attention.h's scores), allocated by the first
 * pass that needs them — for a small CNN (three 3×3/1×1 convs on 8×8
 * images) at n = 1000, 0.96 MB beside a 1.33 MB workspace. */
mt_status mt_graph_bytes_needed(mt_graph *graph, int64_t n, size_t *bytes);

/* Bytes the workspace holds now. */
size_t mt_graph_workspace_size(const mt_graph *graph);

/* Run on inputs[0..n_inputs-1] (in the order declared; each of the dtype
 * mt_graph_input declared, F32 unless it said otherwise; any strides, except that a Flatten or Reshape reading an input
 * needs dims it can view without a copy) and set outputs[0..n_outputs-1] to the outputs, owned
 * by the graph: valid until the next forward or free (a view output, such
 * as a Flatten's, also only as long as the inputs). Fails on a wrong count,
 * dtype or shape ("graph: input 'x' is [5,3], expected [N,4]"), on no
 * outputs, on an input that lies in the workspace (an earlier output fed
 * back: copy it first), and with the failing node's name if a layer
 * fails. */
mt_status mt_graph_forward(mt_graph *graph, int n_inputs,
                           const mt_tensor *const *inputs, int n_outputs,
                           const mt_tensor **outputs);

/* Freeze the graph for inference: each layer that can (vt->freeze: Linear)
 * takes a private copy of its weights, laid out and checked once for its
 * kernels. A frozen Linear whose weight is finite reads only the rows of
 * it under the nonzero entries of a sparse input (mt_matmul_fused2_sparse:
 * an MNIST digit, a one-hot vector), with the same results. Later changes
 * to the tensors the layers were built from are not seen; call it again
 * to take them in. Adding a node un-freezes nothing: the next forward
 * freezes the new plan from the weights as they are then. Costs a copy of
 * the weights in memory. Fails (the graph unchanged) on out of memory, or
 * with a layer's error naming its node. Freeze a model you only run: one
 * whose weights are being trained would not see the updates. */
mt_status mt_graph_freeze(mt_graph *graph);

/* Free the graph and its layers. NULL is ignored. */
void mt_graph_free(mt_graph *graph);

#ifdef __cplusplus
}
#endif
#endif

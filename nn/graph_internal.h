/* graph_internal.h (nn-private) — what the Sequential builder needs from the
 * graph beyond graph.h. */
#ifndef MT_NN_GRAPH_INTERNAL_H
#define MT_NN_GRAPH_INTERNAL_H

#include "layer_internal.h"

/* Word messages as a Sequential's: "sequential: layer 3 (relu) …", inputs
 * named "the input" and "the previous layer". */
NN_INTERNAL void nn_graph_sequential_style(mt_graph *g);

/* Make node id the only output. */
NN_INTERNAL void nn_graph_only_output(mt_graph *g, int id);

#endif

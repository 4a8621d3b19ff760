/* minitensor/minitensor.h — everything in one include.
 *
 * minitensor is a small C11 library for running small neural networks:
 * tensors and views (tensor.h, view.h), indexing and shape ops (index.h),
 * F32 ops (ops.h; reductions in reduce.h, normalisation in norm.h,
 * attention.h), matmul backends (backend.h), an allocation-free workspace
 * (arena.h), safetensors files (safetensors.h), layers (nn.h; layer.h for
 * your own) and models as graphs with a memory planner (graph.h). Every
 * function that can fail returns an mt_status; mt_last_error() says what
 * went wrong (error.h).
 */
#ifndef MINITENSOR_H
#define MINITENSOR_H

#include "minitensor/version.h"
#include "minitensor/error.h"
#include "minitensor/memory.h"
#include "minitensor/tensor.h"
#include "minitensor/view.h"
#include "minitensor/index.h"
#include "minitensor/ops.h"
#include "minitensor/reduce.h"
#include "minitensor/norm.h"
#include "minitensor/attention.h"
#include "minitensor/conv.h"
#include "minitensor/pool.h"
#include "minitensor/conv3d.h"
#include "minitensor/grid_sample.h"
#include "minitensor/arena.h"
#include "minitensor/backend.h"
#include "minitensor/safetensors.h"
#include "minitensor/file.h"
#include "minitensor/idx.h"
#include "minitensor/image.h"
#include "minitensor/layer.h"
#include "minitensor/graph.h"
#include "minitensor/nn.h"
#include "minitensor/rnn.h"
#include "minitensor/conv_lstm.h"
#include "minitensor/gpt2.h"
#include "minitensor/llama.h"
#include "minitensor/random.h"
#include "minitensor/autograd.h"
#include "minitensor/optim.h"
#include "minitensor/checkpoint.h"

#endif

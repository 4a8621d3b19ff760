/* main.c — the mnist program: the seed's Keras MNIST model run by minitensor.
 *
 *   mnist [--weights FILE]                    the built-in demo
 *   mnist [--weights FILE] predict [--invert] IMAGE...
 *   mnist [--weights FILE] eval IMAGES LABELS [--logits OUT] [--json]
 *
 * Exit status: 0 success, 1 bad input or failure, 2 bad command line. */
#include "classifier.h"
#include "dataset.h"
#include "embedded.h"
#include "model.h"

static const char usage[] =
    "usage: mnist [--weights FILE] [COMMAND]\n"
    "Classify handwritten digits with a Keras MNIST model run by minitensor.\n"
    "\n"
    "commands:\n"
    "  (none)                      classify the built-in test digits, draw a few,\n"
    "                              print the accuracy\n"
    "  predict [--invert] IMAGE... classify 28x28 grayscale PGM (P2/P5) or PNG\n"
    "                              images, white digit on black (--invert: black\n"
    "                              on white); print the digit and probabilities\n"
    "  eval IMAGES LABELS          accuracy, per-class accuracy and confusion\n"
    "       [--logits OUT] [--json]  matrix of IDX files; --logits writes the\n"
    "                              N x 10 logits (little-endian float32), --json\n"
    "                              prints {\"n\", \"correct\", \"accuracy\"}\n"
    "\n"
    "options:\n"
    "  --weights FILE  a safetensors file with d1_w, d1_b, d2_w, d2_b (Keras\n"
    "                  (in,out) or PyTorch (out,in) layout) instead of the\n"
    "                  built-in weights\n"
    "  -h, --help      this text\n";

int main(int argc, char **argv)
{
    /* Filled at run time: the embedded sizes are variables, not constants. */
    const classifier_spec spec = {
        .name = "mnist",
        .usage = usage,
        .items = "digits",
        .class_names = NULL,   /* the classes are the digits */
        .model_per_line = false,
        .model_new = mnist_model_new,
        .logits = mnist_logits,
        .label_kind = MNIST_LABEL_KIND,
        .weights = mnist_weights,
        .weights_size = mnist_weights_size,
        .images = mnist_test_images,
        .images_size = mnist_test_images_size,
        .labels = mnist_test_labels,
        .labels_size = mnist_test_labels_size,
    };
    return classifier_main(&spec, argc, argv);
}

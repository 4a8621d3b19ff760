/* main.c — the fashion program: a Keras Fashion-MNIST CNN run by minitensor.
 *
 *   fashion [--weights FILE]                    the built-in demo
 *   fashion [--weights FILE] predict [--invert] IMAGE...
 *   fashion [--weights FILE] eval IMAGES LABELS [--logits OUT] [--json]
 *   fashion train --model mlp|cnn --out FILE [options]   (train.h)
 *
 * Exit status: 0 success, 1 bad input or failure, 2 bad command line. */
#include <string.h>

#include "classifier.h"
#include "dataset.h"
#include "embedded.h"
#include "model.h"
#include "train.h"

static const char usage[] =
    "usage: fashion [--weights FILE] [COMMAND]\n"
    "Classify Fashion-MNIST clothing images with a Keras CNN run by minitensor.\n"
    "\n"
    "commands:\n"
    "  (none)                      classify the built-in test images, draw a few,\n"
    "                              print the accuracy\n"
    "  predict [--invert] IMAGE... classify 28x28 grayscale PGM (P2/P5) or PNG\n"
    "                              images, light object on black (--invert: dark\n"
    "                              on white); print the class and probabilities\n"
    "  eval IMAGES LABELS          accuracy, per-class accuracy and confusion\n"
    "       [--logits OUT] [--json]  matrix of IDX files (plain or .gz); --logits\n"
    "                              writes the N x 10 logits (little-endian\n"
    "                              float32), --json prints {\"n\", \"correct\",\n"
    "                              \"accuracy\"}\n"
    "\n"
    "classes: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal,\n"
    "         6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot\n"
    "\n"
    "options:\n"
    "  --weights FILE  a safetensors file with conv1_w, conv1_b, conv2_w, conv2_b\n"
    "                  (Keras HWIO kernels), d1_w, d1_b, d2_w, d2_b (Keras\n"
    "                  (in,out) or PyTorch (out,in)) instead of the built-in\n"
    "                  weights\n"
    "  -h, --help      this text\n";

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "train") == 0)
        return fashion_train_main(argc - 1, argv + 1);
    /* Filled at run time: the embedded sizes are variables, not constants. */
    const classifier_spec spec = {
        .name = "fashion",
        .usage = usage,
        .items = "images",
        .class_names = fashion_class_names,
        .model_per_line = true,
        .model_new = fashion_model_new,
        .logits = fashion_logits,
        .label_kind = FASHION_LABEL_KIND,
        .weights = fashion_weights,
        .weights_size = fashion_weights_size,
        .images = fashion_test_images,
        .images_size = fashion_test_images_size,
        .labels = fashion_test_labels,
        .labels_size = fashion_test_labels_size,
    };
    return classifier_main(&spec, argc, argv);
}

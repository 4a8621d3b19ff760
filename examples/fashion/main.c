/* main.c — the fashion program: a Keras Fashion-MNIST CNN run by minitensor.
 *
 *   fashion [--weights FILE]                    the built-in demo
 *   fashion [--weights FILE] predict [--invert] IMAGE...
 *   fashion [--weights FILE] eval IMAGES LABELS [--logits OUT] [--json]
 *
 * Exit status: 0 success, 1 bad input or failure, 2 bad command line. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "embedded.h"
#include "model.h"

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

typedef struct options {
    const char *weights, *logits;
    bool invert, json;
    char **args;   /* positional arguments: the command and its operands */
    int nargs;
} options;

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "fashion: %s%s (try fashion --help)\n", what, arg);
    return 2;
}

/* Options may come anywhere; the positional arguments are gathered at the
 * front of argv. Returns -1 to go on, else an exit status. */
static int parse(int argc, char **argv, options *o)
{
    o->args = argv + 1;
    bool only_args = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_args || a[0] != '-' || a[1] == '\0') {
            o->args[o->nargs++] = argv[i];
        } else if (!strcmp(a, "--")) {
            only_args = true;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--invert")) {
            o->invert = true;
        } else if (!strcmp(a, "--json")) {
            o->json = true;
        } else if (!strcmp(a, "--weights") || !strcmp(a, "--logits")) {
            if (i + 1 == argc)
                return usage_error("missing value for ", a);
            *(a[2] == 'w' ? &o->weights : &o->logits) = argv[++i];
        } else {
            return usage_error("unknown option ", a);
        }
    }
    const char *cmd = o->nargs ? o->args[0] : "";
    bool eval = !strcmp(cmd, "eval"), predict = !strcmp(cmd, "predict");
    if (*cmd && !eval && !predict)
        return usage_error("unknown command ", cmd);
    if (o->invert && !predict)
        return usage_error("--invert ", "applies to predict only");
    if ((o->logits || o->json) && !eval)
        return usage_error(o->json ? "--json " : "--logits ", "applies to eval only");
    if (predict && o->nargs < 2)
        return usage_error("predict needs ", "at least one IMAGE");
    if (eval && o->nargs != 3)
        return usage_error("eval needs ", "IMAGES and LABELS");
    return -1;
}

static int run(const options *o, mt_sequential *model)
{
    if (o->nargs == 0)
        return fashion_demo(model);
    if (!strcmp(o->args[0], "predict"))
        return fashion_predict(model, o->args + 1, o->nargs - 1, o->invert);
    return fashion_eval(model, o->args[1], o->args[2], o->logits, o->json);
}

int main(int argc, char **argv)
{
    options o = {0};
    int status = parse(argc, argv, &o);
    if (status >= 0)
        return status;

    /* The weights: the embedded file, or the user's. */
    mt_safetensors *weights;
    mt_status s = o.weights ? mt_safetensors_open(o.weights, &weights)
                            : mt_safetensors_open_memory(fashion_weights,
                                                         fashion_weights_size, &weights);
    if (s) {
        fprintf(stderr, "fashion: %s\n", mt_last_error());
        return 1;
    }
    mt_sequential *model;
    if ((s = fashion_model_new(weights, &model))) {
        fprintf(stderr, "fashion: %s: %s\n", o.weights ? o.weights : "built-in weights",
                mt_last_error());
        mt_safetensors_close(weights);
        return 1;
    }
    status = run(&o, model);
    mt_sequential_free(model);       /* the model first: it borrows the file */
    mt_safetensors_close(weights);
    return status;
}

/* classifier.c — the shared command line: options, the weights, dispatch. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "classifier.h"

typedef struct options {
    const char *weights, *logits;
    bool invert, json;
    char **args;   /* positional arguments: the command and its operands */
    int nargs;
} options;

static int usage_error(const classifier_spec *spec, const char *what, const char *arg)
{
    fprintf(stderr, "%s: %s%s (try %s --help)\n", spec->name, what, arg, spec->name);
    return 2;
}

/* Options may come anywhere; the positional arguments are gathered at the
 * front of argv. Returns -1 to go on, else an exit status. */
static int parse(const classifier_spec *spec, int argc, char **argv, options *o)
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
            fputs(spec->usage, stdout);
            return 0;
        } else if (!strcmp(a, "--invert")) {
            o->invert = true;
        } else if (!strcmp(a, "--json")) {
            o->json = true;
        } else if (!strcmp(a, "--weights") || !strcmp(a, "--logits")) {
            if (i + 1 == argc)
                return usage_error(spec, "missing value for ", a);
            const char **value = a[2] == 'w' ? &o->weights : &o->logits;
            if (*value)   /* which one was meant? */
                return usage_error(spec, a, " given twice");
            *value = argv[++i];
        } else {
            return usage_error(spec, "unknown option ", a);
        }
    }
    const char *cmd = o->nargs ? o->args[0] : "";
    bool eval = !strcmp(cmd, "eval"), predict = !strcmp(cmd, "predict");
    if (o->nargs && !eval && !predict)   /* also an empty argument: `mnist ""` */
        return usage_error(spec, "unknown command ", *cmd ? cmd : "''");
    if (o->invert && !predict)
        return usage_error(spec, "--invert ", "applies to predict only");
    if ((o->logits || o->json) && !eval)
        return usage_error(spec, o->json ? "--json " : "--logits ", "applies to eval only");
    if (predict && o->nargs < 2)
        return usage_error(spec, "predict needs ", "at least one IMAGE");
    if (eval && o->nargs != 3)
        return usage_error(spec, "eval needs ", "IMAGES and LABELS");
    return -1;
}

mt_status classifier_logits(const classifier_spec *spec, mt_sequential *model,
                            const uint8_t *pixels, int64_t n, float *logits,
                            const char *source, char *const *paths)
{
    mt_status s = spec->logits(model, pixels, n, logits);
    for (int64_t i = 0; !s && i < n; i++) {
        for (int c = 0; c < CLASSIFIER_CLASSES; c++) {
            float v = logits[i * CLASSIFIER_CLASSES + c];
            if (isfinite(v))
                continue;
            char where[64] = "";
            if (!paths)
                snprintf(where, sizeof where, ": image %lld", (long long)i);
            return mt_fail(MT_ERR_FORMAT, "%s%s: the model's output is not finite "
                           "(logit %d is %s): the weights overflow float32 on this input",
                           paths ? paths[i] : source, where, c,
                           isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf");
        }
    }
    return s;
}

static int run(const classifier_spec *spec, const options *o, mt_sequential *model)
{
    if (o->nargs == 0)
        return classifier_demo(spec, model);
    if (!strcmp(o->args[0], "predict"))
        return classifier_predict(spec, model, o->args + 1, o->nargs - 1, o->invert);
    return classifier_eval(spec, model, o->args[1], o->args[2], o->logits, o->json);
}

int classifier_main(const classifier_spec *spec, int argc, char **argv)
{
    options o = {0};
    int status = parse(spec, argc, argv, &o);
    if (status >= 0)
        return status;

    /* A bad MT_BACKEND / MT_NUM_THREADS, reported before any work. */
    mt_status s = mt_backend_env_check();
    if (s) {
        fprintf(stderr, "%s: %s\n", spec->name, mt_last_error());
        return 1;
    }
    /* The weights: the embedded file, or the user's. */
    mt_safetensors *weights;
    s = o.weights ? mt_safetensors_open(o.weights, &weights)
                            : mt_safetensors_open_memory(spec->weights, spec->weights_size,
                                                         &weights);
    if (s) {
        fprintf(stderr, "%s: %s\n", spec->name, mt_last_error());
        return 1;
    }
    /* Frozen for the demo and eval, which classify a data set; not for
     * predict, whose images each cost a file read, far more than freezing
     * saves per image (`mnist predict` took 0.2 ms longer frozen). */
    bool frozen = !o.nargs || strcmp(o.args[0], "predict");
    mt_sequential *model;
    if ((s = spec->model_new(weights, frozen, &model))) {
        fprintf(stderr, "%s: %s: %s\n", spec->name,
                o.weights ? o.weights : "built-in weights", mt_last_error());
        mt_safetensors_close(weights);
        return 1;
    }
    status = run(spec, &o, model);
    mt_sequential_free(model);       /* the model first: it borrows the file */
    mt_safetensors_close(weights);
    // what was printed must have arrived (a full disk, a closed pipe)
    errno = 0;
    if (!status && (fflush(stdout) == EOF || ferror(stdout))) {
        fprintf(stderr, "%s: writing to standard output: %s\n", spec->name,
                errno ? strerror(errno) : "the stream failed");
        return 1;
    }
    return status;
}

/* main.c — the charlm program: a GPT-style character model run by minitensor.
 *
 *   charlm [--weights FILE] [generate] [--prompt TEXT] [--tokens N]
 *          [--temperature T] [--top-k K] [--seed S]
 *   charlm [--weights FILE] logits TEXT_FILE OUT_FILE
 *   charlm [--weights FILE] eval TEXT_FILE
 *
 * Exit status: 0 success, 1 bad input or failure, 2 bad command line. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "embedded.h"

static const char usage[] =
    "usage: charlm [--weights FILE] [COMMAND] ...\n"
    "A GPT-style character model (nanoGPT's layout) run by minitensor.\n"
    "\n"
    "commands:\n"
    "  generate (the default)       stream sampled text, with a KV cache:\n"
    "    [--prompt TEXT]            the text to continue (default: a new line)\n"
    "    [--tokens N]               characters to generate (default 500)\n"
    "    [--temperature T]          T >= 0; 0 takes the most likely (default 0.8)\n"
    "    [--top-k K]                sample among the K most likely; 0 = all\n"
    "                               (default 0)\n"
    "    [--seed S]                 the same seed gives the same text (default 1337)\n"
    "  logits TEXT_FILE OUT_FILE    one sequence per line (UTF-8, every line ended\n"
    "                               by a newline, all of the same length L <=\n"
    "                               block_size); writes little-endian float32 logits\n"
    "                               [lines, L, vocab]: [n, t] predicts the character\n"
    "                               after position t of line n\n"
    "  eval TEXT_FILE               loss in nats and bits per character\n"
    "\n"
    "options:\n"
    "  --weights FILE  a safetensors file with nanoGPT's tensor names and\n"
    "                  n_layer, n_head, n_embd, block_size, vocab in its metadata\n"
    "                  (default: the built-in model, trained on GNU licence texts)\n"
    "  -h, --help      this text\n";

typedef struct options {
    const char *weights;
    charlm_generate_options gen;
    bool gen_option;       /* a generate option was given */
    char **args;           /* the command and its operands */
    int nargs;
} options;

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "charlm: %s%s (try charlm --help)\n", what, arg);
    return 2;
}

/* A whole-string decimal number in [lo, hi]: digits, a '-' before them
 * at most (no space or '+', which strtoll would skip). */
static bool parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    const char *digits = s[0] == '-' ? s + 1 : s;
    if (errno || end == s || *end || *digits < '0' || *digits > '9' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* One generate option and its value; -1 to go on, else an exit status. */
static int parse_generate_option(const char *name, const char *value, options *o)
{
    int64_t v;
    o->gen_option = true;
    if (!strcmp(name, "--prompt")) {
        o->gen.prompt = value;
    } else if (!strcmp(name, "--tokens")) {
        if (!parse_int(value, 0, INT64_MAX / 2, &v))
            return usage_error("--tokens needs a count from 0 to 2^62-1, not ", value);
        o->gen.tokens = v;
    } else if (!strcmp(name, "--top-k")) {
        if (!parse_int(value, 0, INT64_MAX / 2, &v))
            return usage_error("--top-k needs a count from 0 to 2^62-1, not ", value);
        o->gen.top_k = v;
    } else if (!strcmp(name, "--seed")) {
        /* any 64-bit seed, as torch.manual_seed takes */
        char *end;
        errno = 0;
        unsigned long long seed = strtoull(value, &end, 10);
        if (errno || end == value || *end || value[0] < '0' || value[0] > '9')
            return usage_error("--seed needs an integer from 0 to 2^64-1, not ", value);
        o->gen.seed = (uint64_t)seed;
    } else {   /* --temperature */
        char *end;
        float t = strtof(value, &end);
        // a number as written: no leading space or sign (strtof skips them)
        bool plain = (value[0] >= '0' && value[0] <= '9') || value[0] == '.';
        if (!plain || end == value || *end || !isfinite(t) || t < 0.0f)
            return usage_error("--temperature needs a number >= 0, not ", value);
        o->gen.temperature = t;
    }
    return -1;
}

static int parse(int argc, char **argv, options *o)
{
    static const char *const gen_opts[] = {"--prompt", "--tokens", "--temperature", "--top-k",
                                           "--seed"};
    o->args = argv + 1;
    bool only_args = false, seen[6] = {false};   /* the five above, then --weights */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool gen = false;
        int which = !strcmp(a, "--weights") ? 5 : -1;
        for (size_t k = 0; k < sizeof gen_opts / sizeof *gen_opts; k++)
            if (!strcmp(a, gen_opts[k]))
                gen = true, which = (int)k;
        // the last of two values would win silently
        if (!only_args && which >= 0) {
            if (seen[which])
                return usage_error(a, " given twice");
            seen[which] = true;
        }
        if (only_args || a[0] != '-' || a[1] == '\0') {
            o->args[o->nargs++] = argv[i];
        } else if (!strcmp(a, "--")) {
            only_args = true;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (gen || !strcmp(a, "--weights")) {
            if (i + 1 == argc)
                return usage_error("missing value for ", a);
            const char *value = argv[++i];
            int status = gen ? parse_generate_option(a, value, o) : -1;
            if (!gen)
                o->weights = value;
            if (status >= 0)
                return status;
        } else {
            return usage_error("unknown option ", a);
        }
    }
    const char *cmd = o->nargs ? o->args[0] : "generate";
    bool generate = !strcmp(cmd, "generate"), logits = !strcmp(cmd, "logits"),
         eval = !strcmp(cmd, "eval");
    if (!generate && !logits && !eval)
        return usage_error("unknown command ", cmd);
    if (o->gen_option && !generate)
        return usage_error(cmd, ": --prompt, --tokens, --temperature, --top-k and --seed "
                                "apply to generate only");
    if (generate && o->nargs > 1)
        return usage_error("generate takes no operand: ", o->args[1]);
    if (logits && o->nargs != 3)
        return usage_error("logits needs ", "TEXT_FILE and OUT_FILE");
    if (eval && o->nargs != 2)
        return usage_error("eval needs ", "TEXT_FILE");
    return -1;
}

static int run(const charlm_model *m, const options *o)
{
    const char *cmd = o->nargs ? o->args[0] : "generate";
    if (!strcmp(cmd, "logits"))
        return charlm_logits(m, o->args[1], o->args[2]);
    if (!strcmp(cmd, "eval"))
        return charlm_eval(m, o->args[1]);
    return charlm_generate(m, &o->gen);
}

int main(int argc, char **argv)
{
    options o = {.gen = {.prompt = "", .tokens = 500, .temperature = 0.8f, .seed = 1337}};
    int status = parse(argc, argv, &o);
    if (status >= 0)
        return status;

    mt_safetensors *weights;
    mt_status s = o.weights ? mt_safetensors_open(o.weights, &weights)
                            : mt_safetensors_open_memory(charlm_weights, charlm_weights_size,
                                                         &weights);
    if (s) {
        fprintf(stderr, "charlm: %s\n", mt_last_error());
        return 1;
    }
    charlm_model *model;
    if ((s = charlm_model_new(weights, &model))) {
        fprintf(stderr, "charlm: %s: %s\n", o.weights ? o.weights : "built-in weights",
                mt_last_error());
        mt_safetensors_close(weights);
        return 1;
    }
    status = run(model, &o);
    charlm_model_free(model);        /* the model first: it borrows the file */
    mt_safetensors_close(weights);
    return status;
}

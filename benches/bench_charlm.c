/* bench_charlm.c — the character model of examples/charlm: generation
 * tokens/s at batch 1 over the KV cache, and prompt processing (one pass over
 * a full block_size window), at a given thread count.
 *
 * usage: bench_charlm [--threads N] [--tokens N] [--repeats R] [--json FILE]
 *                     [WEIGHTS]
 *
 * WEIGHTS defaults to examples/charlm/data/charlm.safetensors. Before timing,
 * the logits of the committed held-out windows are checked against
 * PyTorch's (max |diff| <= 1e-4, the same argmax; only for the default
 * weights) and the KV-cache path against the full one. Then, as medians over
 * R repeats after a warm-up:
 *   generate  N characters sampled from a newline (temperature 0.8, all
 *             characters), charlm generate's loop without the printing;
 *   prompt    a block_size window through charlm_forward from position 0,
 *             all logits, 20 times per repeat.
 * Wall-clock and process CPU time are both reported (the machine may be
 * shared). benches/charlm_compare.py runs this beside PyTorch eager.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode.h"
#include "bench_clock.h"
#include "minitensor/minitensor.h"
#include "model.h"

#define TOLERANCE 1e-4
#define MAX_REPEATS 101
#define PROMPT_PASSES 20

static void *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = n > 0 ? malloc((size_t)n) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = buf ? (size_t)n : 0;
    return buf;
}

/* ---- validation ---------------------------------------------------------------------- */

static int64_t argmax(const float *v, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        best = v[i] > v[best] ? i : best;
    return best;
}

/* The held-out windows against PyTorch, whole and token by token. */
static int validate(charlm_state *s, const charlm_model *m)
{
    size_t wsize, lsize;
    int32_t *win = read_all(CHARLM_DATA_DIR "/windows.i32", &wsize);
    float *ref = read_all(CHARLM_DATA_DIR "/windows-logits.f32", &lsize);
    int64_t B = m->cfg.block_size, V = m->cfg.vocab_size;
    int64_t n = (int64_t)(wsize / sizeof(int32_t)) / B;
    int status = 1;
    double worst = 0, worst_kv = 0;
    bool same_argmax = true;
    if (!win || !ref || lsize != (size_t)(n * B * V) * sizeof(float)) {
        fprintf(stderr, "bench_charlm: the reference windows do not fit these weights\n");
        goto done;
    }
    for (int64_t w = 0; w < n; w++) {
        const float *logits;
        charlm_state_reset(s);
        if (charlm_forward(s, win + w * B, B, true, &logits))
            goto error;
        for (int64_t i = 0; i < B * V; i++)
            worst = fmax(worst, fabs((double)logits[i] - ref[w * B * V + i]));
        for (int64_t t = 0; t < B; t++)
            same_argmax &= argmax(logits + t * V, V) == argmax(ref + (w * B + t) * V, V);
        charlm_state_reset(s);
        for (int64_t t = 0; t < B; t++) {
            if (charlm_forward(s, win + w * B + t, 1, false, &logits))
                goto error;
            for (int64_t i = 0; i < V; i++)
                worst_kv = fmax(worst_kv, fabs((double)logits[i] - ref[(w * B + t) * V + i]));
        }
    }
    printf("validated: %lld windows of %lld against PyTorch: max |diff| %.2g (full), "
           "%.2g (KV cache), argmax %s\n", (long long)n, (long long)B, worst, worst_kv,
           same_argmax ? "identical" : "DIFFERS");
    status = worst <= TOLERANCE && worst_kv <= TOLERANCE && same_argmax ? 0 : 1;
    if (status)
        fprintf(stderr, "bench_charlm: validation failed\n");
    goto done;
error:
    fprintf(stderr, "bench_charlm: %s\n", mt_last_error());
done:
    free(win);
    free(ref);
    return status;
}

/* ---- timing --------------------------------------------------------------------------- */

static mt_status discard(int32_t token, void *user)
{
    *(int64_t *)user += token;
    return MT_OK;
}

typedef struct figures {
    double wall, cpu;   /* tokens per second, medians */
} figures;

static int time_generate(charlm_state *s, const charlm_model *m, int64_t tokens, int repeats,
                         figures *out)
{
    int32_t *ctx = malloc((size_t)m->cfg.block_size * sizeof *ctx);
    float *scratch = malloc((size_t)m->cfg.vocab_size * sizeof *scratch);
    double wall[MAX_REPEATS], cpu[MAX_REPEATS];
    int64_t sink = 0;
    int status = ctx && scratch ? 0 : 1;
    int32_t nl = charlm_token(m, '\n');
    for (int r = -1; r < repeats && !status; r++) {   /* r = -1 warms up */
        charlm_generate_options o = {.prompt = "", .tokens = tokens, .temperature = 0.8f,
                                     .seed = (uint64_t)r + 1};
        ctx[0] = nl >= 0 ? nl : 0;
        double w0 = bench_seconds(CLOCK_MONOTONIC), c0 = bench_seconds(CLOCK_PROCESS_CPUTIME_ID);
        status = charlm_decode(s, &o, ctx, 1, scratch, discard, &sink) ? 1 : 0;
        double w1 = bench_seconds(CLOCK_MONOTONIC), c1 = bench_seconds(CLOCK_PROCESS_CPUTIME_ID);
        if (r >= 0) {
            wall[r] = (double)tokens / (w1 - w0);
            cpu[r] = (double)tokens / (c1 - c0);
        }
    }
    if (!status) {
        out->wall = bench_median(wall, repeats);
        out->cpu = bench_median(cpu, repeats);
    } else {
        fprintf(stderr, "bench_charlm: generate: %s\n", mt_last_error());
    }
    free(ctx);
    free(scratch);
    return status;
}

static int time_prompt(charlm_state *s, const charlm_model *m, int repeats, figures *out)
{
    int64_t B = m->cfg.block_size;
    int32_t *prompt = malloc((size_t)B * sizeof *prompt);
    if (!prompt)
        return 1;
    for (int64_t t = 0; t < B; t++)   /* any tokens: the work does not depend on them */
        prompt[t] = (int32_t)(t * 7 % m->cfg.vocab_size);
    double wall[MAX_REPEATS], cpu[MAX_REPEATS];
    int status = 0;
    for (int r = -1; r < repeats && !status; r++) {
        double w0 = bench_seconds(CLOCK_MONOTONIC), c0 = bench_seconds(CLOCK_PROCESS_CPUTIME_ID);
        for (int k = 0; k < PROMPT_PASSES && !status; k++) {
            const float *logits;
            charlm_state_reset(s);
            status = charlm_forward(s, prompt, B, true, &logits) ? 1 : 0;
        }
        double w1 = bench_seconds(CLOCK_MONOTONIC), c1 = bench_seconds(CLOCK_PROCESS_CPUTIME_ID);
        if (r >= 0) {
            wall[r] = (double)(B * PROMPT_PASSES) / (w1 - w0);
            cpu[r] = (double)(B * PROMPT_PASSES) / (c1 - c0);
        }
    }
    if (!status) {
        out->wall = bench_median(wall, repeats);
        out->cpu = bench_median(cpu, repeats);
    } else {
        fprintf(stderr, "bench_charlm: prompt: %s\n", mt_last_error());
    }
    free(prompt);
    return status;
}

/* ---- the run -------------------------------------------------------------------------- */

static void cpu_name(char *buf, size_t size)
{
    snprintf(buf, size, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!strncmp(line, "model name", 10) && colon) {
            snprintf(buf, size, "%s", colon + 2);
            buf[strcspn(buf, "\n")] = '\0';
            break;
        }
    }
    if (f)
        fclose(f);
}

typedef struct args {
    int threads, repeats;
    int64_t tokens;
    const char *json, *weights;
} args;

static int parse(int argc, char **argv, args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        bool has_value = i + 1 < argc;
        if (!strcmp(o, "--threads") && has_value)
            a->threads = atoi(argv[++i]);
        else if (!strcmp(o, "--repeats") && has_value)
            a->repeats = atoi(argv[++i]);
        else if (!strcmp(o, "--tokens") && has_value)
            a->tokens = atoll(argv[++i]);
        else if (!strcmp(o, "--json") && has_value)
            a->json = argv[++i];
        else if (o[0] != '-')
            a->weights = o;
        else
            return 1;
    }
    return a->threads < 1 || a->repeats < 1 || a->repeats > MAX_REPEATS || a->tokens < 1;
}

static int run(const args *a, const charlm_model *m, charlm_state *s)
{
    figures gen, prompt;
    if ((!strcmp(a->weights, CHARLM_DATA_DIR "/charlm.safetensors") && validate(s, m)) ||
        time_generate(s, m, a->tokens, a->repeats, &gen) || time_prompt(s, m, a->repeats, &prompt))
        return 1;
    char cpu[128];
    cpu_name(cpu, sizeof cpu);
    const charlm_config *c = &m->cfg;
    printf("machine: %s; backend %s (%s), %d thread%s\n", cpu, mt_backend_name(mt_backend_get()),
           mt_backend_describe(mt_backend_get()), a->threads, a->threads > 1 ? "s" : "");
    printf("model: n_layer %lld, n_head %lld, n_embd %lld, block_size %lld, vocab %lld\n",
           (long long)c->n_layer, (long long)c->n_head, (long long)c->n_embd,
           (long long)c->block_size, (long long)c->vocab_size);
    printf("%-34s %14s %14s\n", "minitensor (median of repeats)", "tokens/s wall", "tokens/s CPU");
    printf("%-34s %14.0f %14.0f\n", "generate, batch 1, KV cache", gen.wall, gen.cpu);
    printf("%-34s %14.0f %14.0f\n", "prompt (block_size in one pass)", prompt.wall, prompt.cpu);
    if (!a->json)
        return 0;
    FILE *f = fopen(a->json, "w");
    if (!f) {
        fprintf(stderr, "bench_charlm: cannot create %s\n", a->json);
        return 1;
    }
    fprintf(f, "{\"engine\": \"minitensor\", \"cpu\": \"%s\", \"threads\": %d, "
               "\"backend\": \"%s\", \"repeats\": %d, \"generate_tokens\": %lld,\n"
               " \"generate_tokens_per_s\": %.1f, \"generate_tokens_per_cpu_s\": %.1f,\n"
               " \"prompt_tokens\": %lld, \"prompt_tokens_per_s\": %.1f, "
               "\"prompt_tokens_per_cpu_s\": %.1f}\n",
            cpu, a->threads, mt_backend_name(mt_backend_get()), a->repeats,
            (long long)a->tokens, gen.wall, gen.cpu, (long long)c->block_size, prompt.wall,
            prompt.cpu);
    return fclose(f) ? 1 : 0;
}

int main(int argc, char **argv)
{
    args a = {.threads = 1, .repeats = 5, .tokens = 5000,
              .weights = CHARLM_DATA_DIR "/charlm.safetensors"};
    if (parse(argc, argv, &a)) {
        fprintf(stderr, "usage: bench_charlm [--threads N] [--tokens N] [--repeats 1..%d] "
                        "[--json FILE] [WEIGHTS]\n", MAX_REPEATS);
        return 2;
    }
    mt_safetensors *f = NULL;
    charlm_model *m = NULL;
    charlm_state *s = NULL;
    int status = 1;
    if (mt_num_threads_set(a.threads) || mt_safetensors_open(a.weights, &f) ||
        charlm_model_new(f, &m) || charlm_state_new(m, &s))
        fprintf(stderr, "bench_charlm: %s\n", mt_last_error());
    else
        status = run(&a, m, s);
    charlm_state_free(s);
    charlm_model_free(m);
    mt_safetensors_close(f);
    return status;
}

/* bench_llama.c — mt_llama (minitensor/llama.h) on a checkpoint: a prompt
 * at once, then greedy generation token by token over the KV cache, at
 * batch 1.
 *
 * usage: bench_llama WEIGHTS --heads H [--kv-heads K] [--eps E] [--theta T]
 *                    [--prompt P] [--tokens N] [--repeats R] [--json FILE]
 *
 * Each repeat resets the model, feeds the P prompt tokens (ids 1, 2, … P,
 * modulo the vocabulary) in one call, then N tokens, each the argmax of the
 * last logits. Reported as medians over R repeats after a warm-up: the
 * prompt's tokens/s and the generated tokens/s, wall-clock and process CPU
 * (the machine may be shared). The generated ids are printed (first 16) and
 * written to the JSON, so that benches/llama_compare.py can check them
 * against PyTorch's greedy ids on the same weights. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_clock.h"
#include "minitensor/minitensor.h"

#define MAX_REPEATS 101

static int64_t argmax(const float *v, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        best = v[i] > v[best] ? i : best;
    return best;
}

typedef struct run_times {
    double prompt_wall, prompt_cpu, gen_wall, gen_cpu;
} run_times;

/* One repeat: the prompt, then `tokens` greedy steps; ids[0..tokens). */
static int run(mt_llama *m, int64_t prompt, int64_t tokens, int64_t *ids, run_times *t)
{
    int64_t vocab = mt_llama_vocab(m);
    int64_t *p = malloc((size_t)prompt * sizeof *p);
    if (!p)
        return 1;
    for (int64_t i = 0; i < prompt; i++)
        p[i] = (i + 1) % vocab;
    const float *logits = NULL;
    mt_llama_reset(m);
    double w0 = bench_seconds(CLOCK_MONOTONIC), c0 = bench_seconds(CLOCK_PROCESS_CPUTIME_ID);
    mt_status s = mt_llama_forward(m, prompt, p, &logits);
    double w1 = bench_seconds(CLOCK_MONOTONIC), c1 = bench_seconds(CLOCK_PROCESS_CPUTIME_ID);
    for (int64_t i = 0; !s && i < tokens; i++) {
        ids[i] = argmax(logits, vocab);
        s = mt_llama_forward(m, 1, &ids[i], &logits);
    }
    double w2 = bench_seconds(CLOCK_MONOTONIC), c2 = bench_seconds(CLOCK_PROCESS_CPUTIME_ID);
    free(p);
    if (s) {
        fprintf(stderr, "bench_llama: %s\n", mt_last_error());
        return 1;
    }
    *t = (run_times){w1 - w0, c1 - c0, w2 - w1, c2 - c1};
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_llama WEIGHTS --heads H [--kv-heads K] [--eps E] "
                    "[--theta T] [--prompt P] [--tokens N] [--repeats R] [--json FILE]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *json = NULL;
    mt_llama_options o = {.norm_eps = 1e-5f};
    int64_t prompt = 32, tokens = 128;
    int repeats = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-') {
            path = a;
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (!strcmp(a, "--heads"))
            o.n_heads = atoll(v);
        else if (!strcmp(a, "--kv-heads"))
            o.n_kv_heads = atoll(v);
        else if (!strcmp(a, "--eps"))
            o.norm_eps = strtof(v, NULL);
        else if (!strcmp(a, "--theta"))
            o.rope.theta = strtof(v, NULL);
        else if (!strcmp(a, "--prompt"))
            prompt = atoll(v);
        else if (!strcmp(a, "--tokens"))
            tokens = atoll(v);
        else if (!strcmp(a, "--repeats"))
            repeats = atoi(v);
        else if (!strcmp(a, "--json"))
            json = v;
        else
            return usage();
    }
    if (!path || o.n_heads < 1 || prompt < 1 || tokens < 1 || repeats < 1 ||
        repeats > MAX_REPEATS)
        return usage();
    o.max_len = prompt + tokens;
    mt_safetensors *st = NULL;
    mt_llama *m = NULL;
    if (mt_safetensors_open(path, &st) ||
        mt_llama_load(&(mt_state_dict){st, MT_FRAMEWORK_PYTORCH}, &o, &m)) {
        fprintf(stderr, "bench_llama: %s\n", mt_last_error());
        mt_safetensors_close(st);
        return 1;
    }
    int64_t *ids = malloc((size_t)tokens * sizeof *ids);
    double pw[MAX_REPEATS], pc[MAX_REPEATS], gw[MAX_REPEATS], gc[MAX_REPEATS];
    run_times t;
    int bad = !ids || run(m, prompt, tokens, ids, &t);   /* warm-up */
    for (int r = 0; !bad && r < repeats; r++) {
        bad = run(m, prompt, tokens, ids, &t);
        pw[r] = (double)prompt / t.prompt_wall;
        pc[r] = (double)prompt / t.prompt_cpu;
        gw[r] = (double)tokens / t.gen_wall;
        gc[r] = (double)tokens / t.gen_cpu;
    }
    if (!bad) {
        double mpw = bench_median(pw, repeats), mpc = bench_median(pc, repeats);
        double mgw = bench_median(gw, repeats), mgc = bench_median(gc, repeats);
        printf("mt_llama: %lld blocks, vocab %lld, %d threads, prompt %lld, %lld generated\n",
               (long long)mt_llama_layers(m), (long long)mt_llama_vocab(m), mt_num_threads_get(),
               (long long)prompt, (long long)tokens);
        printf("%-10s %14s %14s\n", "", "tokens/s wall", "tokens/s cpu");
        printf("%-10s %14.1f %14.1f\n", "prompt", mpw, mpc);
        printf("%-10s %14.1f %14.1f\n", "generate", mgw, mgc);
        printf("greedy ids:");
        for (int64_t i = 0; i < tokens && i < 16; i++)
            printf(" %lld", (long long)ids[i]);
        printf("\n");
        FILE *f = json ? fopen(json, "w") : NULL;
        if (json && !f) {
            fprintf(stderr, "bench_llama: cannot write %s\n", json);
            bad = 1;
        }
        if (f) {
            fprintf(f, "{\"threads\": %d, \"prompt\": %lld, \"tokens\": %lld, "
                       "\"prompt_tokens_per_s\": {\"wall\": %.3f, \"cpu\": %.3f}, "
                       "\"generate_tokens_per_s\": {\"wall\": %.3f, \"cpu\": %.3f}, "
                       "\"ids\": [", mt_num_threads_get(), (long long)prompt, (long long)tokens,
                    mpw, mpc, mgw, mgc);
            for (int64_t i = 0; i < tokens; i++)
                fprintf(f, "%s%lld", i ? ", " : "", (long long)ids[i]);
            fprintf(f, "]}\n");
            fclose(f);
        }
    }
    free(ids);
    mt_llama_free(m);
    mt_safetensors_close(st);
    return bad;
}

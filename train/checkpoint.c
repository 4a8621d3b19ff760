/* checkpoint.c — save and restore a training run through safetensors. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minitensor/checkpoint.h"
#include "optim_internal.h"

#define FORMAT_KEY "minitensor.checkpoint"
#define FORMAT_VERSION "1"
#define MAX_KV 64
#define OPTIM_PREFIX "optim."
/* Each parameter's own update count, in the optimizer's order, written only
 * when one differs from minitensor.steps (backward first reached it later). */
#define PARAM_STEPS_KEY "minitensor.param_steps"

static const char *const optimizer_names[] = {"sgd", "adam", "adamw"};

/* ---- the checksum ------------------------------------------------------------------ */

/* FNV-1a, 64 bits, over n bytes, continuing from h. */
static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3u;
    return h;
}

/* One stored tensor's, or one minitensor.* pair's, share of the checksum
 * saved as minitensor.checksum: FNV-1a of its name (key), a NUL, and its
 * bytes (value). The checksum is the sum of the shares, so it does not
 * depend on the order of the file, and a load that restores only some of
 * it (no optimizer) still checks all of it. safetensors has no checksum of
 * its own: without one a flipped bit in the data resumed silently. */
static uint64_t share(const char *name, size_t name_len, const void *bytes, size_t n)
{
    uint64_t h = fnv1a(0xcbf29ce484222325u, name, name_len);
    return fnv1a(fnv1a(h, "", 1), bytes, n);
}

static bool is_own_key(const char *key)
{
    return strncmp(key, "minitensor.", 11) == 0 && strcmp(key, "minitensor.checksum") != 0;
}

/* What a checkpoint stores besides the caller's pairs. */
typedef struct ck_text {
    char kind[16], steps[24], epoch[24], checksum[40];
    char rng_keys[MAX_KV][32], rng_values[MAX_KV][40];
    char optim_names[2 * MAX_KV][MT_NAME_MAX + 32];
} ck_text;

static mt_status check_ck(const char *op, const mt_checkpoint *ck)
{
    if (!ck || (ck->n_params && !ck->params) || ck->n_params < 0 ||
        (ck->n_rngs && !ck->rngs) || ck->n_rngs < 0 || ck->n_rngs > MAX_KV)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: invalid checkpoint description", op);
    for (int i = 0; i < ck->n_params; i++) {
        const mt_value *p = ck->params[i];
        if (!p || !p->is_param_ || !p->data->name[0])
            return mt_fail(MT_ERR_INVALID_ARGUMENT,
                           "%s: params[%d] must be a named parameter (mt_param_new)", op, i);
        for (int j = 0; j < i; j++)
            if (strcmp(ck->params[j]->data->name, p->data->name) == 0)
                return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: two parameters are named %s",
                               op, p->data->name);
    }
    if (ck->optimizer && mt_optimizer_state_count(ck->optimizer) > 2 * MAX_KV)
        return mt_fail(MT_ERR_UNSUPPORTED, "%s: too many optimizer tensors", op);
    // the optimizer's state is its parameters': they must be the run's
    for (int i = 0; ck->optimizer && i < ck->optimizer->n; i++) {
        const mt_value *q = ck->optimizer->p[i].param;
        int j = 0;
        while (j < ck->n_params && ck->params[j] != q)
            j++;
        if (j == ck->n_params)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: the optimizer's parameter %s is not "
                           "one of the checkpoint's params", op, q->data->name);
    }
    return MT_OK;
}

/* Every parameter and optimizer tensor finite (a NaN would be saved, and
 * refused when loaded). */
static mt_status check_finite(const char *op, const mt_checkpoint *ck)
{
    size_t n_state = ck->optimizer ? mt_optimizer_state_count(ck->optimizer) : 0;
    for (size_t i = 0; i < (size_t)ck->n_params + n_state; i++) {
        const char *name = NULL;
        mt_tensor *t = NULL;
        if (i < (size_t)ck->n_params) {
            t = ck->params[i]->data;
            name = t->name;
        } else {
            mt_optimizer_state_at(ck->optimizer, i - (size_t)ck->n_params, &name, &t);
        }
        if (mt_tensor_check_finite(t)) {
            char why[256];
            snprintf(why, sizeof why, "%s", mt_last_error());
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %s: %s (a checkpoint that could not "
                           "be loaded)", op, name, why);
        }
    }
    return MT_OK;
}

mt_status mt_checkpoint_save(const char *path, const mt_checkpoint *ck,
                             const mt_safetensors_kv *metadata, size_t n_metadata)
{
    const char *op = "checkpoint_save";
    mt_status s = check_ck(op, ck);
    if (s)
        return s;
    if (!path || (n_metadata && !metadata) || n_metadata > MAX_KV)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: NULL path or metadata, or too many pairs",
                       op);
    for (size_t i = 0; i < n_metadata; i++)
        if (!metadata[i].key || strncmp(metadata[i].key, "minitensor.", 11) == 0)
            return mt_fail(MT_ERR_INVALID_ARGUMENT,
                           "%s: metadata key %s is NULL or reserved (minitensor.*)", op,
                           metadata[i].key ? metadata[i].key : "(null)");
    // what mt_checkpoint_load refuses is not written: a file that cannot resume
    if (ck->epoch < 0 || ck->epoch > INT64_MAX / 2)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: epoch %lld, expected 0..2^62-1", op,
                       (long long)ck->epoch);
    if ((s = check_finite(op, ck)))
        return s;
    ck_text *text = mt_alloc(sizeof *text, _Alignof(ck_text));
    char *param_steps = NULL;
    if (ck->optimizer) {
        const mt_optimizer *opt = ck->optimizer;
        bool lagging = false;
        for (int i = 0; i < opt->n; i++)
            lagging |= opt->p[i].steps != opt->steps;
        size_t size = (size_t)opt->n * 21 + 1;
        if (lagging && (param_steps = mt_alloc(size, 1))) {
            size_t used = 0;
            for (int i = 0; i < opt->n; i++)
                used += (size_t)snprintf(param_steps + used, size - used, "%s%" PRId64,
                                         i ? "," : "", opt->p[i].steps);
        }
        if (lagging && !param_steps) {
            mt_dealloc(text);
            return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot allocate", op);
        }
    }
    size_t n_state = ck->optimizer ? mt_optimizer_state_count(ck->optimizer) : 0;
    size_t n_items = (size_t)ck->n_params + n_state;
    mt_safetensors_item *items =
        n_items ? mt_alloc(n_items * sizeof *items, _Alignof(mt_safetensors_item)) : NULL;
    mt_safetensors_kv *kv = mt_alloc((n_metadata + MAX_KV + 8) * sizeof *kv,
                                     _Alignof(mt_safetensors_kv));
    if (!text || (n_items && !items) || !kv) {
        mt_dealloc(text);
        mt_dealloc(param_steps);
        mt_dealloc(items);
        mt_dealloc(kv);
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot allocate", op);
    }
    for (int i = 0; i < ck->n_params; i++)
        items[i] = (mt_safetensors_item){ck->params[i]->data->name, 0, ck->params[i]->data};
    for (size_t i = 0; i < n_state; i++) {
        const char *name;
        mt_tensor *t;
        mt_optimizer_state_at(ck->optimizer, i, &name, &t);
        snprintf(text->optim_names[i], sizeof text->optim_names[i], OPTIM_PREFIX "%s", name);
        items[(size_t)ck->n_params + i] = (mt_safetensors_item){text->optim_names[i], 0, t};
    }
    size_t n_kv = 0;
    kv[n_kv++] = (mt_safetensors_kv){FORMAT_KEY, FORMAT_VERSION, 0, 0};
    snprintf(text->epoch, sizeof text->epoch, "%" PRId64, ck->epoch);
    kv[n_kv++] = (mt_safetensors_kv){"minitensor.epoch", text->epoch, 0, 0};
    if (ck->optimizer) {
        mt_optimizer_options o = mt_optimizer_options_get(ck->optimizer);
        snprintf(text->kind, sizeof text->kind, "%s", optimizer_names[o.kind]);
        snprintf(text->steps, sizeof text->steps, "%" PRId64,
                 mt_optimizer_steps_get(ck->optimizer));
        kv[n_kv++] = (mt_safetensors_kv){"minitensor.optimizer", text->kind, 0, 0};
        kv[n_kv++] = (mt_safetensors_kv){"minitensor.steps", text->steps, 0, 0};
        if (param_steps)
            kv[n_kv++] = (mt_safetensors_kv){PARAM_STEPS_KEY, param_steps, 0, 0};
    }
    for (int i = 0; i < ck->n_rngs; i++) {
        snprintf(text->rng_keys[i], sizeof text->rng_keys[i], "minitensor.rng.%d", i);
        snprintf(text->rng_values[i], sizeof text->rng_values[i], "%016" PRIx64 ":%016" PRIx64,
                 ck->rngs[i].state, ck->rngs[i].inc);
        kv[n_kv++] = (mt_safetensors_kv){text->rng_keys[i], text->rng_values[i], 0, 0};
    }
    /* F32 tensors, stored as they are in memory (the hosts are little-endian,
     * as safetensors) */
    uint64_t sum = 0;
    for (size_t i = 0; i < n_items; i++)
        sum += share(items[i].name, strlen(items[i].name), items[i].tensor->data,
                     (size_t)mt_tensor_numel(items[i].tensor) * sizeof(float));
    for (size_t i = 0; i < n_kv; i++)
        if (is_own_key(kv[i].key))
            sum += share(kv[i].key, strlen(kv[i].key), kv[i].value, strlen(kv[i].value));
    snprintf(text->checksum, sizeof text->checksum, "fnv1a64-sum:%016" PRIx64, sum);
    kv[n_kv++] = (mt_safetensors_kv){"minitensor.checksum", text->checksum, 0, 0};
    for (size_t i = 0; i < n_metadata; i++)
        kv[n_kv++] = metadata[i];
    s = mt_safetensors_save(path, items, n_items, kv, n_kv);
    mt_dealloc(text);
    mt_dealloc(param_steps);
    mt_dealloc(items);
    mt_dealloc(kv);
    return s;
}

/* ---- loading ---------------------------------------------------------------------- */

/* The metadata value of key as a C string in buf; false if absent or too long. */
static bool meta(const mt_safetensors *st, const char *key, char *buf, size_t size)
{
    const char *v;
    size_t len;
    if (mt_safetensors_metadata_get(st, key, &v, &len) != MT_OK || len >= size ||
        memchr(v, '\0', len))
        return false;
    memcpy(buf, v, len);
    buf[len] = '\0';
    return true;
}

/* A count (epoch, steps) in 0..2^62-1: strtoll clamped "99999999999999999999"
 * to INT64_MAX, and the run's next step or epoch overflowed. */
static bool parse_i64(const char *text, int64_t *value)
{
    char *end;
    errno = 0;
    if (*text < '0' || *text > '9')   /* strtoll would take " 2" and "+2" */
        return false;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end || errno || v < 0 || v > INT64_MAX / 2)
        return false;
    *value = v;
    return true;
}

/* The stored tensor `name` must be F32, shaped like `like`, finite. */
static mt_status stored_tensor(const char *op, const char *path, const mt_safetensors *st,
                               const char *name, const mt_tensor *like, mt_tensor **out)
{
    mt_tensor *t;
    if (mt_safetensors_get(st, name, &t) != MT_OK)
        return mt_fail(MT_ERR_FORMAT, "%s: %s: no tensor %s", op, path, name);
    if (t->dtype != MT_DTYPE_F32 || !mt_tensor_same_shape(t, like)) {
        mt_status s = mt_fail(MT_ERR_SHAPE, "%s: %s: %s is %s %s, the run has F32 %s", op,
                              path, name, mt_dtype_name(t->dtype), MT_SHAPE(t), MT_SHAPE(like));
        mt_tensor_free(t);
        return s;
    }
    const float *d = t->data;
    /* Adam's second moment: a negative one makes the step's sqrt NaN */
    size_t len = strlen(name), sq = strlen(".exp_avg_sq");
    bool squares = len >= sq && strcmp(name + len - sq, ".exp_avg_sq") == 0;
    for (int64_t i = 0, n = mt_tensor_numel(t); i < n; i++)
        if (!isfinite(d[i]) || (squares && d[i] < 0.0f)) {
            mt_tensor_free(t);
            return mt_fail(MT_ERR_FORMAT, "%s: %s: %s[%lld] is %s (%g)", op, path, name,
                           (long long)i, isfinite(d[i]) ? "negative" : "not finite",
                           (double)d[i]);
        }
    *out = t;
    return MT_OK;
}

/* minitensor.checksum against every tensor and minitensor.* pair in the file. */
static mt_status check_checksum(const char *op, const char *path, const mt_safetensors *st)
{
    char buf[64];
    unsigned long long saved;
    int used = 0;
    if (!meta(st, "minitensor.checksum", buf, sizeof buf) ||
        sscanf(buf, "fnv1a64-sum:%16llx%n", &saved, &used) != 1 || buf[used])
        return mt_fail(MT_ERR_FORMAT, "%s: %s: missing or bad minitensor.checksum", op, path);
    uint64_t sum = 0;
    for (size_t i = 0, n = mt_safetensors_count(st); i < n; i++) {
        mt_safetensors_entry e;
        mt_status s = mt_safetensors_info(st, i, &e);
        if (s)
            return s;
        sum += share(e.name, e.name_len, e.data, (size_t)e.nbytes);
    }
    for (size_t i = 0, n = mt_safetensors_metadata_count(st); i < n; i++) {
        mt_safetensors_kv kv;
        mt_status s = mt_safetensors_metadata_at(st, i, &kv);
        if (s)
            return s;
        if (is_own_key(kv.key))
            sum += share(kv.key, kv.key_len, kv.value, kv.value_len);
    }
    if (sum != saved)
        return mt_fail(MT_ERR_FORMAT, "%s: %s: checksum mismatch (saved %016llx, the file "
                                      "gives %016" PRIx64 "): it was damaged or edited after "
                                      "it was saved", op, path, saved, sum);
    return MT_OK;
}

/* PARAM_STEPS_KEY, if present, into counts[0..n-1] (each at most steps);
 * absent: every count is steps. */
static mt_status param_steps_read(const char *op, const char *path, const mt_safetensors *st,
                                  int n, int64_t steps, int64_t *counts)
{
    const char *v;
    size_t len;
    for (int i = 0; i < n; i++)
        counts[i] = steps;
    if (mt_safetensors_metadata_get(st, PARAM_STEPS_KEY, &v, &len) != MT_OK)
        return MT_OK;
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        int64_t c = 0;
        size_t digits = 0;
        for (; at < len && v[at] >= '0' && v[at] <= '9' && digits < 18; at++, digits++)
            c = 10 * c + (v[at] - '0');
        bool last = i == n - 1;
        if (!digits || c > steps || (last ? at != len : at >= len || v[at] != ','))
            return mt_fail(MT_ERR_FORMAT, "%s: %s: bad %s (want %d counts up to %" PRId64
                           ")", op, path, PARAM_STEPS_KEY, n, steps);
        counts[i] = c;
        at += !last;
    }
    return MT_OK;
}

static mt_status check_metadata(const char *op, const char *path, const mt_safetensors *st,
                                const mt_checkpoint *ck, const mt_safetensors_kv *expected,
                                size_t n_expected, int64_t *epoch, int64_t *steps,
                                mt_rng *rngs)
{
    char buf[256];
    if (!meta(st, FORMAT_KEY, buf, sizeof buf) || strcmp(buf, FORMAT_VERSION) != 0)
        return mt_fail(MT_ERR_FORMAT, "%s: %s is not a minitensor checkpoint (version %s)",
                       op, path, FORMAT_VERSION);
    mt_status s = check_checksum(op, path, st);
    if (s)
        return s;
    if (!meta(st, "minitensor.epoch", buf, sizeof buf) || !parse_i64(buf, epoch))
        return mt_fail(MT_ERR_FORMAT, "%s: %s: missing or bad epoch", op, path);
    for (size_t i = 0; i < n_expected; i++) {
        if (!meta(st, expected[i].key, buf, sizeof buf))
            return mt_fail(MT_ERR_FORMAT, "%s: %s has no %s (expected %s)", op, path,
                           expected[i].key, expected[i].value);
        if (strcmp(buf, expected[i].value) != 0)
            return mt_fail(MT_ERR_INVALID_ARGUMENT,
                           "%s: %s was made with %s=%s, this run has %s=%s", op, path,
                           expected[i].key, buf, expected[i].key, expected[i].value);
    }
    if (ck->optimizer) {
        mt_optimizer_options o = mt_optimizer_options_get(ck->optimizer);
        if (!meta(st, "minitensor.optimizer", buf, sizeof buf) ||
            strcmp(buf, optimizer_names[o.kind]) != 0)
            return mt_fail(MT_ERR_INVALID_ARGUMENT,
                           "%s: %s holds no %s optimizer state", op, path,
                           optimizer_names[o.kind]);
        if (!meta(st, "minitensor.steps", buf, sizeof buf) || !parse_i64(buf, steps))
            return mt_fail(MT_ERR_FORMAT, "%s: %s: missing or bad optimizer steps", op, path);
    }
    for (int i = 0; i < ck->n_rngs; i++) {
        char key[32];
        unsigned long long state, inc;
        int used = 0;
        snprintf(key, sizeof key, "minitensor.rng.%d", i);
        // hex digits only: %llx alone would take "-1" and "0x1"
        if (!meta(st, key, buf, sizeof buf) || strspn(buf, "0123456789abcdef:") != strlen(buf) ||
            sscanf(buf, "%16llx:%16llx%n", &state, &inc, &used) != 2 || buf[used] ||
            !(inc & 1u))
            return mt_fail(MT_ERR_FORMAT, "%s: %s: missing or bad generator state %s", op,
                           path, key);
        rngs[i] = (mt_rng){state, inc};
    }
    // a run that restores its optimizer resumes: a generator the file has
    // and the run does not give would be lost (one that restores only the
    // parameters, to evaluate or fine-tune, reads the generators it asks for)
    char key[32];
    snprintf(key, sizeof key, "minitensor.rng.%d", ck->n_rngs);
    if (ck->optimizer && meta(st, key, buf, sizeof buf))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %s holds more than the %d generator%s "
                       "this run gives (%s)", op, path, ck->n_rngs, ck->n_rngs == 1 ? "" : "s",
                       key);
    return MT_OK;
}

mt_status mt_checkpoint_load(const char *path, mt_checkpoint *ck,
                             const mt_safetensors_kv *expected, size_t n_expected)
{
    const char *op = "checkpoint_load";
    mt_status s = check_ck(op, ck);
    if (s)
        return s;
    if (!path || (n_expected && !expected))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: NULL path or expected pairs", op);
    for (size_t i = 0; i < n_expected; i++)
        if (!expected[i].key || !expected[i].value)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: expected pair %zu has a NULL %s", op,
                           i, expected[i].key ? "value" : "key");
    mt_safetensors *st;
    if ((s = mt_safetensors_open(path, &st)))
        return s;
    size_t n_state = ck->optimizer ? mt_optimizer_state_count(ck->optimizer) : 0;
    size_t n_tensors = (size_t)ck->n_params + n_state;
    mt_tensor **loaded = n_tensors ? mt_alloc(n_tensors * sizeof *loaded, _Alignof(mt_tensor *))
                                   : NULL;
    int n_opt = ck->optimizer ? ck->optimizer->n : 0;
    int64_t *param_steps = n_opt ? mt_alloc((size_t)n_opt * sizeof *param_steps,
                                            _Alignof(int64_t)) : NULL;
    mt_rng rngs[MAX_KV];
    int64_t epoch = 0, steps = 0;
    if ((n_tensors && !loaded) || (n_opt && !param_steps)) {
        mt_dealloc(loaded);
        mt_safetensors_close(st);
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot allocate", op);
    }
    size_t got = 0;
    s = check_metadata(op, path, st, ck, expected, n_expected, &epoch, &steps, rngs);
    if (!s)
        s = param_steps_read(op, path, st, n_opt, steps, param_steps);
    for (; !s && got < (size_t)ck->n_params; got++)
        s = stored_tensor(op, path, st, ck->params[got]->data->name, ck->params[got]->data,
                          &loaded[got]);
    for (; !s && got < n_tensors; got++) {
        const char *name;
        mt_tensor *t;
        char full[MT_NAME_MAX + 40];
        mt_optimizer_state_at(ck->optimizer, got - (size_t)ck->n_params, &name, &t);
        snprintf(full, sizeof full, OPTIM_PREFIX "%s", name);
        s = stored_tensor(op, path, st, full, t, &loaded[got]);
    }
    if (!s) {   /* everything checked: now change the state */
        for (size_t i = 0; i < n_tensors; i++) {
            mt_tensor *dst;
            const char *name;
            if (i < (size_t)ck->n_params)
                dst = ck->params[i]->data;
            else
                mt_optimizer_state_at(ck->optimizer, i - (size_t)ck->n_params, &name, &dst);
            mt_tensor_copy_into(loaded[i], dst);
        }
        if (ck->optimizer)
            mt_optimizer_steps_set(ck->optimizer, steps);
        for (int i = 0; i < n_opt; i++)
            ck->optimizer->p[i].steps = param_steps[i];
        for (int i = 0; i < ck->n_rngs; i++)
            ck->rngs[i] = rngs[i];
        ck->epoch = epoch;
    } else if (got) {
        got--;   /* the failed one was not loaded */
    }
    for (size_t i = 0; i < (s ? got : n_tensors); i++)
        mt_tensor_free(loaded[i]);
    mt_dealloc(loaded);
    mt_dealloc(param_steps);
    mt_safetensors_close(st);
    return s;
}

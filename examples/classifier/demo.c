/* demo.c — `NAME` with no command: the built-in test images, a few drawn in
 * ASCII with their predictions, and the accuracy. */
#include <stdio.h>
#include <stdlib.h>

#include "classifier.h"

enum { SHOWN = 4, COLUMN = CLASSIFIER_SIDE + 3 };

static void print_model(const classifier_spec *spec, const mt_sequential *model)
{
    printf(spec->model_per_line ? "model:\n" : "model:");
    for (int i = 0; i < mt_sequential_count(model); i++) {
        mt_layer_info info;
        if (mt_layer_info_get(mt_sequential_layer(model, i), &info))
            continue;
        if (spec->model_per_line)
            printf("  %d %s", i + 1, info.name);
        else
            printf("%s %s", i ? " ->" : "", info.name);
        if (info.kind == MT_LAYER_CONV2D)
            printf(" (%lldx%lld, %lld->%lld channels, %s%s)", (long long)info.kernel_h,
                   (long long)info.kernel_w, (long long)info.in_channels,
                   (long long)info.out_channels,
                   info.kernel_layout == MT_KERNEL_HWIO ? "Keras HWIO" : "PyTorch OIHW",
                   info.act == MT_ACTIVATION_RELU ? ", relu" : "");
        else if (info.kind == MT_LAYER_LINEAR)
            printf(" (%lld->%lld, %s%s)", (long long)info.in_features,
                   (long long)info.out_features,
                   info.layout == MT_LAYOUT_IN_OUT ? "Keras (in,out)" : "PyTorch (out,in)",
                   info.act == MT_ACTIVATION_RELU ? ", relu" : "");
        if (spec->model_per_line)
            printf("\n");
    }
    printf(spec->model_per_line ? "\n" : "\n\n");
}

/* Under the drawings: "label L -> P" for digits; for named classes, the
 * label's name on one line and the prediction's on the next, each in its
 * image's column. */
static void print_captions(const classifier_spec *spec, const uint8_t *labels,
                           const float *logits, const int64_t *which, int n)
{
    const char *const *names = spec->class_names;
    if (!names) {
        for (int k = 0; k < n; k++) {
            int pred = classifier_argmax(logits + which[k] * CLASSIFIER_CLASSES);
            printf("#%-4lld label %d -> %d %-9s%s", (long long)which[k], labels[which[k]],
                   pred, pred == labels[which[k]] ? "" : "(wrong)",
                   k + 1 < n ? "   " : "\n\n");
        }
        return;
    }
    for (int k = 0; k < n; k++)
        printf("#%-4lld %-*s", (long long)which[k], k + 1 < n ? COLUMN - 6 : 0,
               names[labels[which[k]]]);
    printf("\n");
    for (int k = 0; k < n; k++) {
        int pred = classifier_argmax(logits + which[k] * CLASSIFIER_CLASSES);
        char text[64];
        snprintf(text, sizeof text, "-> %s%s", names[pred],
                 pred == labels[which[k]] ? "" : " (wrong)");
        printf("%-*s", k + 1 < n ? COLUMN : 0, text);
    }
    printf("\n\n");
}

/* Images `which[0..n)` side by side, each with its label and prediction. */
static void draw(const classifier_spec *spec, const uint8_t *pixels, const uint8_t *labels,
                 const float *logits, const int64_t *which, int n)
{
    static const char ramp[] = " .:-=+*#%@";
    for (int r = 0; r < CLASSIFIER_SIDE; r++) {
        for (int k = 0; k < n; k++) {
            const uint8_t *row = pixels + (which[k] * CLASSIFIER_SIDE + r) * CLASSIFIER_SIDE;
            for (int c = 0; c < CLASSIFIER_SIDE; c++)
                putchar(ramp[row[c] * 10 / 256]);
            printf(k + 1 < n ? "   " : "\n");
        }
    }
    print_captions(spec, labels, logits, which, n);
}

int classifier_demo(const classifier_spec *spec, mt_sequential *model)
{
    mt_idx images, labels;
    mt_status s;
    if ((s = mt_idx_parse(spec->images, spec->images_size, "built-in images", &images)) ||
        (s = mt_idx_parse(spec->labels, spec->labels_size, "built-in labels", &labels)) ||
        (s = classifier_check_dataset(&images, "built-in images", &labels, "built-in labels",
                                      spec->label_kind))) {
        fprintf(stderr, "%s: %s\n", spec->name, mt_last_error());
        return 1;
    }
    int64_t n = images.dim[0];
    float *logits = malloc((size_t)(n ? n : 1) * CLASSIFIER_CLASSES * sizeof *logits);
    if (!logits) {
        fprintf(stderr, "%s: out of memory\n", spec->name);
        return 1;
    }
    if ((s = classifier_logits(spec, model, images.data, n, logits, "built-in images",
                               NULL))) {
        fprintf(stderr, "%s: %s\n", spec->name, mt_last_error());
        free(logits);
        return 1;
    }
    print_model(spec, model);

    /* The first few images, and the first one the model gets wrong. */
    int64_t which[SHOWN];
    int shown = 0;
    for (int64_t i = 0; i < n && shown < SHOWN - 1; i++)
        which[shown++] = i;
    for (int64_t i = shown; i < n && shown < SHOWN; i++)
        if (classifier_argmax(logits + i * CLASSIFIER_CLASSES) != labels.data[i])
            which[shown++] = i;
    draw(spec, images.data, labels.data, logits, which, shown);

    classifier_score score;
    classifier_score_logits(logits, labels.data, n, &score);
    printf("accuracy on %lld held-out %s: %.2f%% (%lld correct)\n", (long long)n, spec->items,
           n ? 100.0 * (double)score.correct / (double)n : 0.0, (long long)score.correct);
    free(logits);
    return 0;
}

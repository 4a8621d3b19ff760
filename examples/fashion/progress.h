/* progress.h — one training epoch's progress: a bar redrawn in place on a
 * terminal, nothing until the epoch's summary line otherwise. */
#ifndef FASHION_PROGRESS_H
#define FASHION_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct progress {
    FILE *tty;             /* where the bar goes; NULL when not a terminal */
    int epoch, epochs;
    int64_t total, done;   /* images in the epoch, images so far */
    double start, last_draw;
} progress;

/* Seconds on a monotonic clock. */
double progress_now(void);

void progress_begin(progress *p, FILE *tty, int epoch, int epochs, int64_t total);
/* After a step: `done` images so far, running mean loss and accuracy. */
void progress_step(progress *p, int64_t done, double loss, double accuracy);
/* Clear the bar (the caller prints the epoch's line). */
void progress_end(progress *p);

#endif

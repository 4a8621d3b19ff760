/* progress.c — the training progress bar. */
#define _POSIX_C_SOURCE 200809L
#include <time.h>

#include "progress.h"

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_begin(progress *p, FILE *tty, int epoch, int epochs, int64_t total)
{
    *p = (progress){.tty = tty, .epoch = epoch, .epochs = epochs, .total = total,
                    .start = progress_now()};
}

void progress_step(progress *p, int64_t done, double loss, double accuracy)
{
    p->done = done;
    double now = progress_now();
    if (!p->tty || (now - p->last_draw < 0.1 && done < p->total))
        return;   /* redraw at most ten times a second */
    p->last_draw = now;
    double elapsed = now - p->start, rate = elapsed > 0 ? (double)done / elapsed : 0;
    double eta = rate > 0 ? (double)(p->total - done) / rate : 0;
    enum { WIDTH = 24 };
    char bar[WIDTH + 1];
    int filled = (int)((double)WIDTH * (double)done / (double)p->total);
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
    bar[WIDTH] = '\0';
    fprintf(p->tty, "\repoch %d/%d [%s] %3d%%  loss %.4f  acc %5.2f%%  %.0f images/s  ETA %.0fs ",
            p->epoch, p->epochs, bar, (int)(100 * done / p->total), loss, 100 * accuracy, rate,
            eta);
    fflush(p->tty);
}

void progress_end(progress *p)
{
    if (p->tty) {
        fprintf(p->tty, "\r%*s\r", 100, "");
        fflush(p->tty);
    }
}

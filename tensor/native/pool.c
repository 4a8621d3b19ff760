/* pool.c — the native backend's own small persistent thread pool.
 *
 * One job at a time: the caller runs part 0, workers 1..count-1 run the
 * others. Workers spin briefly after a job (back-to-back matmuls in a
 * layer stack arrive within microseconds) and then sleep on a condition
 * variable. A second thread calling while a job runs does not wait: it
 * gets false and runs its matmul serially, so there is never more than
 * one pool's worth of threads and never a nested pool.
 */
#include "native.h"

#if defined(__wasm__) && !defined(__wasm_threads__)

bool mt_pool_run(mt_pool_fn fn, void *arg, int count)
{
    (void)fn, (void)arg, (void)count;
    return false;
}

void mt_pool_shutdown(void) {}

#else

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

enum { MAX_WORKERS = 63, SPIN_ITERS = 1 << 14 };

static struct {
    pthread_mutex_t run_lock; // held by the thread submitting a job
    pthread_mutex_t lock;     // guards sleeping / waking
    pthread_cond_t wake;
    pthread_t threads[MAX_WORKERS];
    int started;              // workers running
    int wanted;               // workers that take part in the current job
    atomic_uint generation;   // bumped for every job (and for shutdown)
    atomic_int pending;       // workers still running the current job
    atomic_bool stop;
    unsigned start_generation; // jobs before this one are not a new worker's
    mt_pool_fn fn;
    void *arg;
} pool = {
    .run_lock = PTHREAD_MUTEX_INITIALIZER,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
};

static void *worker_main(void *p)
{
    int index = (int)(intptr_t)p; // 1-based job part
    unsigned seen = pool.start_generation; // set before pthread_create
    for (;;) {
        unsigned gen;
        int spins = 0;
        while ((gen = atomic_load_explicit(&pool.generation,
                                           memory_order_acquire)) == seen) {
            if (++spins < SPIN_ITERS) {
                cpu_relax();
                continue;
            }
            pthread_mutex_lock(&pool.lock);
            while (atomic_load_explicit(&pool.generation,
                                        memory_order_acquire) == seen)
                pthread_cond_wait(&pool.wake, &pool.lock);
            pthread_mutex_unlock(&pool.lock);
        }
        seen = gen;
        if (atomic_load_explicit(&pool.stop, memory_order_acquire))
            return NULL;
        if (index < pool.wanted) {
            pool.fn(pool.arg, index);
            atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_acq_rel);
        }
    }
}

bool mt_pool_run(mt_pool_fn fn, void *arg, int count)
{
    if (count < 2)
        return false;
    if (count > MAX_WORKERS + 1)
        count = MAX_WORKERS + 1;
    if (pthread_mutex_trylock(&pool.run_lock) != 0)
        return false;
    pool.start_generation = atomic_load_explicit(&pool.generation,
                                                 memory_order_relaxed);
    while (pool.started < count - 1) {
        if (pthread_create(&pool.threads[pool.started], NULL, worker_main,
                           (void *)(intptr_t)(pool.started + 1)) != 0)
            break;
        pool.started++;
    }
    if (pool.started < count - 1) { // could not start enough threads
        pthread_mutex_unlock(&pool.run_lock);
        return false;
    }
    pool.fn = fn;
    pool.arg = arg;
    pool.wanted = count;
    atomic_store_explicit(&pool.pending, count - 1, memory_order_relaxed);
    pthread_mutex_lock(&pool.lock);
    atomic_fetch_add_explicit(&pool.generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);

    fn(arg, 0);

    for (int spins = 0; atomic_load_explicit(&pool.pending,
                                             memory_order_acquire) > 0;) {
        if (++spins < SPIN_ITERS)
            cpu_relax();
        else
            sched_yield();
    }
    pthread_mutex_unlock(&pool.run_lock);
    return true;
}

void mt_pool_shutdown(void)
{
    pthread_mutex_lock(&pool.run_lock);
    if (pool.started > 0) {
        atomic_store_explicit(&pool.stop, true, memory_order_release);
        pthread_mutex_lock(&pool.lock);
        atomic_fetch_add_explicit(&pool.generation, 1, memory_order_release);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
        for (int i = 0; i < pool.started; i++)
            pthread_join(pool.threads[i], NULL);
        pool.started = 0;
        atomic_store_explicit(&pool.stop, false, memory_order_release);
    }
    pthread_mutex_unlock(&pool.run_lock);
}

#endif

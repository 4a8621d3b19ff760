/* pool.c — the native backend's own small persistent thread pool.
 *
 * One job at a time, split into parts that the caller and the workers
 * claim one by one (see run_parts). Workers spin briefly after a job
 * (back-to-back matmuls in a layer stack arrive within microseconds) and
 * then sleep on a condition variable. A second thread calling while a job runs does not wait: it
 * gets false and runs its matmul serially, so there is never more than
 * one pool's worth of threads and never a nested pool.
 */
#include "native.h"

#if defined(__wasm__) && !defined(__wasm_threads__)

bool mt_pool_run(mt_pool_fn fn, void *arg, int parts, int threads)
{
    (void)fn, (void)arg, (void)parts, (void)threads;
    return false;
}

void mt_pool_shutdown(void) {}

#else

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

/* Workers spin this long for the next job before sleeping (a layer stack
 * sends the next matmul within microseconds); the caller spins less while
 * waiting for the last parts. Bounded in time, not in pauses: a pause costs
 * ~3 ns on Haswell, 24 ns on the Zen 4 VM these were set on (2^14 and 2^11
 * pauses: 400 and 50 us), ~45 ns on Skylake-X. The clock is read every
 * CLOCK_EVERY pauses (a vDSO call, ~80 ns there). */
enum { MAX_PARTS = 32, MAX_WORKERS = MAX_PARTS - 1, CLOCK_EVERY = 64 };
#define WORKER_SPIN_NS 400000
#define CALLER_SPIN_NS 50000
#define ALL_CLAIMED UINT32_MAX

/* A job is `parts` calls fn(arg, i). Parts are claimed, not assigned: each
 * participant (the caller is 0, workers 1..) first claims the part with its
 * own index — so a part usually runs on the same core call after call and
 * finds its data in that core's L2 — then any part still unclaimed. A
 * worker that is slow to wake (a busy machine) therefore costs nothing: the
 * caller runs its part too. `claim` holds the job's generation in its high
 * half and the claimed parts as bits in the low half; a worker still
 * holding an older job's fn/arg fails its compare-and-swap. */
static struct {
    pthread_mutex_t run_lock; // held by the thread running a job
    pthread_mutex_t lock;     // guards sleeping / waking
    pthread_cond_t wake;
    pthread_t threads[MAX_WORKERS];
    int started;
    atomic_uint generation;     // bumped for every job (and for shutdown)
    _Atomic uint64_t claim;     // generation << 32 | bit i = part i claimed
    atomic_int done;            // parts finished in the current job
    _Atomic(mt_pool_fn) fn;
    _Atomic(void *) arg;
    atomic_uint parts;
    atomic_bool stop;
    atomic_bool caller_sleeping; // the caller waits on `finished`
    pthread_cond_t finished;
} pool = {
    .run_lock = PTHREAD_MUTEX_INITIALIZER,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .finished = PTHREAD_COND_INITIALIZER,
};

typedef struct spin {
    unsigned pauses;
    struct timespec end; // set at the first clock reading
} spin;

// one pause; false (no pause) once `ns` have passed since the first call
static bool spin_again(spin *s, long ns)
{
    if (++s->pauses % CLOCK_EVERY == 1) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (s->pauses == 1) {
            s->end = t;
            s->end.tv_nsec += ns;
            s->end.tv_sec += s->end.tv_nsec / 1000000000L;
            s->end.tv_nsec %= 1000000000L;
        } else if (t.tv_sec > s->end.tv_sec ||
                   (t.tv_sec == s->end.tv_sec && t.tv_nsec >= s->end.tv_nsec)) {
            return false;
        }
    }
    cpu_relax();
    return true;
}

static unsigned lowest_bit(uint32_t x)
{
    unsigned i = 0;
    while (!(x >> i & 1))
        i++;
    return i;
}

static void run_parts(unsigned gen, unsigned self)
{
    // acquire: if these are a newer job's values, the claim below sees that
    // job's closing store (the fence in mt_pool_run) and fails
    mt_pool_fn fn = atomic_load_explicit(&pool.fn, memory_order_acquire);
    void *arg = atomic_load_explicit(&pool.arg, memory_order_acquire);
    unsigned parts = atomic_load_explicit(&pool.parts, memory_order_acquire);
    const uint32_t all = parts >= 32 ? ALL_CLAIMED : (1u << parts) - 1;
    uint64_t c = atomic_load_explicit(&pool.claim, memory_order_acquire);
    while ((unsigned)(c >> 32) == gen) {
        uint32_t unclaimed = ~(uint32_t)c & all;
        if (!unclaimed)
            return;
        unsigned i = self < parts && (unclaimed >> self & 1) ? self
                                                             : lowest_bit(unclaimed);
        if (atomic_compare_exchange_weak_explicit(&pool.claim, &c,
                                                  c | (uint64_t)1 << i,
                                                  memory_order_acq_rel,
                                                  memory_order_acquire)) {
            fn(arg, (int)i);
            // seq_cst pairs with the caller's store-then-check of
            // caller_sleeping: one of the two sees the other
            if (atomic_fetch_add_explicit(&pool.done, 1, memory_order_seq_cst) + 1 ==
                    (int)parts &&
                atomic_load_explicit(&pool.caller_sleeping, memory_order_seq_cst)) {
                pthread_mutex_lock(&pool.lock);
                pthread_cond_signal(&pool.finished);
                pthread_mutex_unlock(&pool.lock);
            }
            c = atomic_load_explicit(&pool.claim, memory_order_acquire);
        }
    }
}

typedef struct worker_start {
    unsigned index, generation;
} worker_start;

static worker_start starts[MAX_WORKERS];

static void *worker_main(void *p)
{
    const worker_start *start = p;
    const unsigned self = start->index;
    unsigned seen = start->generation; // the jobs before it was created
    for (;;) {
        unsigned gen;
        spin s = {0};
        while ((gen = atomic_load_explicit(&pool.generation,
                                           memory_order_acquire)) == seen) {
            if (spin_again(&s, WORKER_SPIN_NS))
                continue;
            pthread_mutex_lock(&pool.lock);
            while (atomic_load_explicit(&pool.generation,
                                        memory_order_acquire) == seen)
                pthread_cond_wait(&pool.wake, &pool.lock);
            pthread_mutex_unlock(&pool.lock);
        }
        seen = gen;
        if (atomic_load_explicit(&pool.stop, memory_order_acquire))
            return NULL;
        run_parts(gen, self);
    }
}

bool mt_pool_run(mt_pool_fn fn, void *arg, int parts, int threads)
{
    if (parts < 2 || parts > MAX_PARTS || threads < 2)
        return false;
    if (pthread_mutex_trylock(&pool.run_lock) != 0)
        return false;
    int workers = threads - 1 < MAX_WORKERS ? threads - 1 : MAX_WORKERS;
    unsigned gen = atomic_load_explicit(&pool.generation, memory_order_relaxed);
    while (pool.started < workers) {
        starts[pool.started] = (worker_start){(unsigned)pool.started + 1, gen};
        if (pthread_create(&pool.threads[pool.started], NULL, worker_main,
                           &starts[pool.started]) != 0)
            break;
        pool.started++;
    }
    if (pool.started == 0) { // no threads at all: the caller runs serially
        pthread_mutex_unlock(&pool.run_lock);
        return false;
    }
    gen++;
    // close the claim first: a late worker holding old fn/arg cannot claim
    atomic_store_explicit(&pool.claim, (uint64_t)gen << 32 | ALL_CLAIMED,
                          memory_order_relaxed);
    atomic_thread_fence(memory_order_release); // the close before fn/arg/parts
    atomic_store_explicit(&pool.fn, fn, memory_order_relaxed);
    atomic_store_explicit(&pool.arg, arg, memory_order_relaxed);
    atomic_store_explicit(&pool.parts, (unsigned)parts, memory_order_relaxed);
    atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.claim, (uint64_t)gen << 32, memory_order_release);
    pthread_mutex_lock(&pool.lock);
    atomic_store_explicit(&pool.generation, gen, memory_order_release);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);

    run_parts(gen, 0);
    // parts claimed by workers are running: wait for them, spinning only
    // briefly — if a worker shares this core (a busy machine), spinning
    // would steal the time it needs
    spin s = {0};
    while (atomic_load_explicit(&pool.done, memory_order_acquire) < parts &&
           spin_again(&s, CALLER_SPIN_NS)) {
    }
    if (atomic_load_explicit(&pool.done, memory_order_acquire) < parts) {
        pthread_mutex_lock(&pool.lock);
        atomic_store_explicit(&pool.caller_sleeping, true, memory_order_seq_cst);
        while (atomic_load_explicit(&pool.done, memory_order_seq_cst) < parts)
            pthread_cond_wait(&pool.finished, &pool.lock);
        atomic_store_explicit(&pool.caller_sleeping, false, memory_order_relaxed);
        pthread_mutex_unlock(&pool.lock);
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

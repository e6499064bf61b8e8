/* Cache-line transfer latency between two cores.
 *
 * Build and run:
 *   gcc -O2 -pthread -o core_pingpong tools/core_pingpong.c && ./core_pingpong [CPU_A CPU_B]
 *
 * Two threads, pinned to CPU_A and CPU_B (default 0 and 1), take turns writing one 64-byte-aligned counter: each
 * waits until the other has written its value, then writes the next. Every turn moves the line from one core's cache
 * to the other's, so half a round trip is one transfer. The engine's core pool and any column split of a GEMM pay
 * this whenever one core reads what the other just wrote (MlpDenoiser explains why it splits rows instead).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define TURNS 200000

static _Atomic long counter __attribute__((aligned(64)));
static int cpu_b = 1;

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) {
        fprintf(stderr, "cannot pin to CPU %d\n", cpu);
        exit(1);
    }
}

static void *responder(void *unused)
{
    (void)unused;
    pin(cpu_b);
    for (long i = 0; i < TURNS; i++) {
        while (atomic_load_explicit(&counter, memory_order_acquire) != 2 * i + 1) {
        }
        atomic_store_explicit(&counter, 2 * i + 2, memory_order_release);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int cpu_a = argc > 2 ? atoi(argv[1]) : 0;
    cpu_b = argc > 2 ? atoi(argv[2]) : 1;
    for (int run = 0; run < 3; run++) {
        atomic_store(&counter, 0);
        pthread_t thread;
        pin(cpu_a);
        pthread_create(&thread, NULL, responder, NULL);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long i = 0; i < TURNS; i++) {
            atomic_store_explicit(&counter, 2 * i + 1, memory_order_release);
            while (atomic_load_explicit(&counter, memory_order_acquire) != 2 * i + 2) {
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        pthread_join(thread, NULL);
        double ns = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / TURNS / 2;
        printf("CPU %d <-> CPU %d: one cache-line transfer %.0f ns (run %d)\n", cpu_a, cpu_b, ns, run);
    }
    return 0;
}

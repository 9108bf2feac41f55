#include "cfacenet.h"

#include <stdatomic.h>
#include <stdlib.h>

/* A count of threads doing CFaceNet work, and its high-water mark. */
struct cfn_thread_gauge {
    atomic_int running;
    atomic_int peak;
};

cfn_thread_gauge *cfn_thread_gauge_create(void) { return calloc(1, sizeof(cfn_thread_gauge)); }

void cfn_thread_gauge_destroy(cfn_thread_gauge *gauge) { free(gauge); }

void cfn_thread_gauge_enter(cfn_thread_gauge *gauge) {
    if (!gauge) return;
    const int now = atomic_fetch_add(&gauge->running, 1) + 1;
    int peak = atomic_load(&gauge->peak);
    while (now > peak && !atomic_compare_exchange_weak(&gauge->peak, &peak, now)) {
    }
}

void cfn_thread_gauge_exit(cfn_thread_gauge *gauge) {
    if (gauge) atomic_fetch_sub(&gauge->running, 1);
}

int cfn_thread_gauge_running(const cfn_thread_gauge *gauge) {
    return gauge ? atomic_load(&((cfn_thread_gauge *)gauge)->running) : 0;
}

int cfn_thread_gauge_peak(const cfn_thread_gauge *gauge) {
    return gauge ? atomic_load(&((cfn_thread_gauge *)gauge)->peak) : 0;
}

void cfn_thread_gauge_reset_peak(cfn_thread_gauge *gauge) {
    if (gauge) atomic_store(&gauge->peak, atomic_load(&gauge->running));
}

/*
 * mpi.c: the MPI calls of data-parallel training, behind mpi.h. Collectives are non-blocking
 * calls polled against a deadline, so a rank that hangs (or a network that stalls) ends the job
 * with a message naming the step, instead of a silent wait; a rank that dies is noticed by mpirun,
 * which ends the others.
 */
#include <time.h>
#include "../util/common.h"
#include "mpi.h"

#ifdef USE_MPI
#include <mpi.h>

void dist_init(Dist *d, int *argc, char ***argv) {
    MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->world);
    d->timeout = 300;
}

void dist_finalize(void) { MPI_Finalize(); }

// waits for a started collective; past the deadline the whole job is aborted with a message
static void wait_for(const Dist *d, MPI_Request *req, const char *what) {
    double t0 = now_seconds();
    struct timespec nap = {0, 50000}; // 50 us between polls
    for (int done = 0;;) {
        MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (done) return;
        if (now_seconds() - t0 > d->timeout) {
            fprintf(stderr, "error: rank %d of %d waited %.0f s for the other ranks at %s; a rank hangs or died, ending the job\n"
                    "HINT: the newest checkpoint in the run folder is intact; --resume from it (any rank count that divides the global batch)\n",
                    d->rank, d->world, d->timeout, what);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        nanosleep(&nap, NULL);
    }
}

void dist_sum_floats(const Dist *d, float *buf, size_t n, const char *what) {
    if (d->world == 1) return;
    // MPI counts are int: large buffers go in pieces
    const size_t piece = (size_t)1 << 30;
    for (size_t off = 0; off < n; off += piece) {
        int count = (int)(n - off < piece ? n - off : piece);
        MPI_Request req;
        MPI_Iallreduce(MPI_IN_PLACE, buf + off, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &req);
        wait_for(d, &req, what);
    }
}

double dist_sum_double(const Dist *d, double x, const char *what) {
    if (d->world == 1) return x;
    MPI_Request req;
    MPI_Iallreduce(MPI_IN_PLACE, &x, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD, &req);
    wait_for(d, &req, what);
    return x;
}

void dist_barrier(const Dist *d, const char *what) {
    if (d->world == 1) return;
    MPI_Request req;
    MPI_Ibarrier(MPI_COMM_WORLD, &req);
    wait_for(d, &req, what);
}

#else // one process

void dist_init(Dist *d, int *argc, char ***argv) { (void)argc; (void)argv; d->rank = 0; d->world = 1; d->timeout = 300; }
void dist_finalize(void) {}
void dist_sum_floats(const Dist *d, float *buf, size_t n, const char *what) { (void)d; (void)buf; (void)n; (void)what; }
double dist_sum_double(const Dist *d, double x, const char *what) { (void)d; (void)what; return x; }
void dist_barrier(const Dist *d, const char *what) { (void)d; (void)what; }

#endif

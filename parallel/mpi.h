/*
 * mpi.h: data-parallel training over MPI ranks (make MPI=1), and the one-process stand-ins of the
 * default build. Every rank holds the whole model, reads its own part of each global batch, and
 * applies the same update after the gradients are summed.
 */
#ifndef PARALLEL_MPI_H
#define PARALLEL_MPI_H
#include <stddef.h>

typedef struct {
    int rank, world;  // this process and the number of processes (0 and 1 without MPI)
    double timeout;   // seconds a collective may wait for the other ranks before the job is ended
} Dist;

void dist_init(Dist *d, int *argc, char ***argv);
void dist_finalize(void);
// in place, every rank: buf = sum over ranks of buf; `what` names the step for a timeout message
void dist_sum_floats(const Dist *d, float *buf, size_t n, const char *what);
double dist_sum_double(const Dist *d, double x, const char *what);
void dist_barrier(const Dist *d, const char *what);

#endif

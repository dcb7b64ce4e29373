/*
 * optim.h: AdamW, global-norm gradient clipping and learning-rate schedules.
 */
#ifndef OPTIM_H
#define OPTIM_H

#include "gpt.h"

enum { SCHED_CONSTANT, SCHED_COSINE, SCHED_WSD, SCHED_COUNT };
extern const char *schedule_names[SCHED_COUNT];

typedef struct {
    int kind;           // SCHED_*
    float lr;           // peak learning rate
    int warmup;         // linear warmup steps
    int total;          // total steps of the run
    float min_lr_frac;  // cosine/wsd end at lr * min_lr_frac
    float decay_frac;   // wsd: fraction of the run spent decaying
} LRSchedule;

float lr_at(const LRSchedule *s, int step);
// global L2 norm of all gradients, in a fixed summation order; returns NaN/inf if any gradient is
// non-finite and then names the first such tensor in *bad (or NULL)
double gpt_grad_norm(GPT *model, const char **bad);
// one AdamW step (PyTorch semantics, decoupled weight decay on 2-D weights only); t counts from 1;
// gradients are multiplied by grad_scale first (clipping)
void adamw_update(GPT *model, float lr, float beta1, float beta2, float eps, float weight_decay,
                  float grad_scale, int t);

#endif

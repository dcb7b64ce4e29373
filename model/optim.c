/*
 * optim.c: AdamW, gradient clipping, learning-rate schedules.
 * The moments m and v share the parameter layout, so the update is one flat loop per tensor.
 */
#include <math.h>
#include "../util/common.h"
#include "optim.h"

const char *schedule_names[SCHED_COUNT] = {"constant", "cosine", "wsd"};

float lr_at(const LRSchedule *s, int step) {
    // step counts from 0; warmup reaches the peak at step warmup-1
    if (step < s->warmup) return s->lr * (step + 1) / s->warmup;
    float min_lr = s->lr * s->min_lr_frac;
    if (s->kind == SCHED_CONSTANT) return s->lr;
    if (s->kind == SCHED_COSINE) {
        int span = s->total - s->warmup;
        float frac = span > 0 ? (float)(step - s->warmup) / span : 1.0f;
        if (frac > 1.0f) frac = 1.0f;
        return min_lr + 0.5f * (1.0f + cosf(3.14159265358979f * frac)) * (s->lr - min_lr);
    }
    // warmup-stable-decay: constant, then linear decay to min_lr over the last decay_frac of the run
    int decay_steps = (int)(s->decay_frac * s->total + 0.5f);
    int decay_start = s->total - decay_steps;
    if (step < decay_start || decay_steps <= 0) return s->lr;
    float frac = (float)(step - decay_start + 1) / decay_steps;
    if (frac > 1.0f) frac = 1.0f;
    return s->lr + frac * (min_lr - s->lr);
}

#define NORM_CHUNK 16384

double gpt_grad_norm(GPT *model, const char **bad) {
    // fixed chunks summed in parallel, then the partial sums in order: the same bits on any thread count
    gpt_settle_grads(model);
    size_t n = model->params_floats, chunks = (n + NORM_CHUNK - 1) / NORM_CHUNK;
    static double *partial = NULL; // grown once, kept: nothing is allocated in the step loop
    static size_t partial_chunks = 0;
    if (chunks > partial_chunks) { free(partial); partial = malloc_check(chunks * sizeof(double)); partial_chunks = chunks; }
    const float *g = model->grads_memory;
    #pragma omp parallel for schedule(static)
    for (size_t k = 0; k < chunks; k++) {
        size_t end = (k + 1) * NORM_CHUNK < n ? (k + 1) * NORM_CHUNK : n;
        double acc = 0; // vector lanes in a fixed order: the same bits on any thread count
        #pragma omp simd reduction(+:acc)
        for (size_t i = k * NORM_CHUNK; i < end; i++) acc += (double)g[i] * g[i];
        partial[k] = acc;
    }
    double total = 0;
    for (size_t k = 0; k < chunks; k++) total += partial[k];
    if (bad) *bad = NULL;
    if (!isfinite(total) && bad) {
        for (int t = 0; t < NUM_PARAM_TENSORS && !*bad; t++) {
            const float *p = g + model->param_offsets[t];
            for (size_t i = 0; i < model->param_sizes[t]; i++)
                if (!isfinite(p[i])) { *bad = param_names[t]; break; }
        }
    }
    return sqrt(total);
}

void adamw_update(GPT *model, float lr, float beta1, float beta2, float eps, float weight_decay,
                  float grad_scale, int t) {
    float inv_bc1 = 1.0f / (1.0f - powf(beta1, (float)t)), inv_bc2 = 1.0f / (1.0f - powf(beta2, (float)t));
    gpt_settle_grads(model);
    for (int k = 0; k < NUM_PARAM_TENSORS; k++) {
        size_t off = model->param_offsets[k], n = model->param_sizes[k];
        float *p = model->params_memory + off, *g = model->grads_memory + off;
        float *m = model->m_memory + off, *v = model->v_memory + off;
        float wd = gpt_param_decays(k) ? weight_decay : 0.0f;
        #pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) {
            float grad = g[i] * grad_scale;
            m[i] = beta1 * m[i] + (1.0f - beta1) * grad;
            v[i] = beta2 * v[i] + (1.0f - beta2) * grad * grad;
            float mhat = m[i] * inv_bc1, vhat = v[i] * inv_bc2;
            p[i] -= lr * (wd * p[i] + mhat / (sqrtf(vhat) + eps));
        }
    }
}

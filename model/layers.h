/*
 * layers.h: the network's layers as forward/backward pairs (attention: attention.h).
 * Arguments: outputs first, then saved activations, then inputs and weights, then sizes.
 * Backward functions write (=) the gradient of their input and add (+=) to the gradients of their
 * parameters (which sum over the micro-batches of a step). The norms add to their input's gradient too:
 * a norm's input is the residual stream, whose gradient also comes along the skip connection.
 */
#ifndef LAYERS_H
#define LAYERS_H

#include <stddef.h>
#include <stdint.h>
#include "kernels/vmath.h"

void encoder_forward(real *out, const int *inp, const real *wte, const real *wpe, int B, int T, int C);
void encoder_backward(real *dwte, real *dwpe, const real *dout, const int *inp, int B, int T, int C);

void layernorm_forward(real *out, real *mean, real *rstd, const real *inp, const real *weight, const real *bias, size_t N, int C);
void layernorm_backward(real *dinp, real *dweight, real *dbias, const real *dout, const real *inp,
                        const real *weight, const real *mean, const real *rstd, size_t N, int C);
void rmsnorm_forward(real *out, real *rstd, const real *inp, const real *weight, size_t N, int C);
void rmsnorm_backward(real *dinp, real *dweight, const real *dout, const real *inp, const real *weight,
                      const real *rstd, size_t N, int C);

void matmul_forward_ref(real *out, const real *inp, const real *weight, const real *bias, size_t N, int C, int OC);
void matmul_backward_ref(real *dinp, real *dweight, real *dbias, const real *dout, const real *inp,
                     const real *weight, size_t N, int C, int OC);

// QK-norm: RMSNorm of every head's q and k (eps 1e-5) with gains gq, gk (hs) shared by the heads of a
// layer; inp, out are (N,3C) = [q | k | v] (v copied), rstd is (N, 2NH)
void qknorm_forward(real *out, real *rstd, const real *inp, const real *gq, const real *gk, size_t N, int C, int NH);
void qknorm_backward(real *dinp, real *dgq, real *dgk, const real *dout, const real *inp, const real *gq, const real *gk,
                     const real *rstd, size_t N, int C, int NH);

void rope_table(real *cos_t, real *sin_t, int T, int hs, float theta);
void rope_forward(real *out, const real *inp, const real *cos_t, const real *sin_t, int B, int T, int C, int NH);
void rope_backward(real *dinp, const real *dout, const real *cos_t, const real *sin_t, int B, int T, int C, int NH);

void gelu_forward(real *out, const real *inp, size_t N);
void gelu_backward(real *dinp, const real *inp, const real *dout, size_t N);
void swiglu_forward(real *out, const real *inp, size_t N, int F);
void swiglu_backward(real *dinp, const real *dout, const real *inp, size_t N, int F);

void residual_forward(real *out, const real *a, const real *b, size_t N);

void crossentropy_forward(real *losses, real *logits, const int *targets, size_t N, int V, int Vp);
void crossentropy_eval(real *losses, int *argmax, const real *logits, const int *targets, size_t N, int V, int Vp);
void crossentropy_backward(real *logits, const int *targets, real dloss, size_t N, int V, int Vp);
void crossentropy_forward_backward(real *losses, real *logits, const int *targets, real dloss, size_t N, int V, int Vp);

#endif

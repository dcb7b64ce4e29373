/*
 * matmul.h: fast float matmuls for the linear layers (see matmul.c); the plain reference loops are
 * matmul_forward_ref / matmul_backward_ref in layers.h.
 */
#ifndef MATMUL_H
#define MATMUL_H

#include <stddef.h>

// C (M x N, row stride ldc) = beta * C + op(A) op(B); op(A) is A (M x K, lda) or A^T (A is K x M),
// op(B) is B (K x N, ldb) or B^T (B is N x K). beta is 0 (C is only written) or 1.
void sgemm(int transA, int transB, size_t M, size_t N, size_t K, const float *A, size_t lda, const float *B, size_t ldb,
           float beta, float *C, size_t ldc);
const char *gemm_kernel_name(void);

// out (N,OC) = inp (N,C) @ weight^T + bias; weight is (OC,C), bias (OC) or NULL
void matmul_forward(float *out, const float *inp, const float *weight, const float *bias, size_t N, int C, int OC);
// dinp = dout @ weight (skipped if dinp is NULL), dweight = dout^T @ inp + dw_beta * dweight (dw_beta 0:
// dweight is not read, 1: added to), dbias += column sums of dout
void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp, const float *weight,
                     size_t N, int C, int OC, float dw_beta);

#endif

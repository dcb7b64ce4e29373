/*
 * matmul.c: the fast matmuls of the linear layers: a cache-blocked SGEMM with a register-tiled
 * micro-kernel (AVX-512 8x32, AVX2 6x16, or portable 4x16 that the compiler vectorises), chosen at
 * build time by the kernel tier (make ISA=avx512|avx2|portable).
 *
 * Blocking follows Goto/BLIS: a KC x NC block of B is packed into NR-wide micro-panels; the threads
 * split the NR panels, each packing and computing its own without waiting for the others (or, when C
 * is narrow or A has many rows, they split the MC-row blocks of A), and each micro-kernel call keeps
 * an MR x NR tile of C in registers for KC steps (and prefetches the C tile it will read or write).
 * Against an A block the calls run along C's rows, across a group of B panels that fits L2 (where A is
 * read in place, a wide C's panels are packed a group at a time, and each group meets every A block).
 * The kernels read A in place through its strides (packing it would cost a pass over A for every
 * N/NR panels' worth of work, a large share for the small models' 128-704-wide layers), except a
 * transposed A against a wide C or too large for the caches, which is packed into MR-row panels.
 * Weight rows are packed by 8 x 8 register transposes where AVX2 allows. Every element of C is
 * computed by one thread in a fixed order, so results do not depend on the thread count.
 * The plain loops in layers.c (matmul_forward_ref, matmul_backward_ref) are the reference.
 */
#include <string.h>
#include "../../util/common.h"
#include "matmul.h"
#include "vmath.h" // transpose8x8
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#if defined(__AVX512F__)
#define MR 8
#define NR 32
#define KERNEL_NAME "avx512 8x32"
#elif defined(__AVX2__) && defined(__FMA__)
#define MR 6
#define NR 16
#define KERNEL_NAME "avx2 6x16"
#else
#define MR 4
#define NR 16
#define KERNEL_NAME "portable 4x16"
#endif
#define KC 384  // B micro-panel KC x NR fits L1 (48 KiB), A block MC x KC fits L2; one block for C = 384
#define MC (128 / MR * MR) // whole micro-panels (126 rows for AVX2's MR = 6): a 128-row block would end
                          // in a 2-row panel that costs a whole micro-kernel call, 3% of every wide product
#define NC 4096 // B block KC x NC fits L3

#ifdef USE_CBLAS
// make BLAS=1: the same entry point on OpenBLAS, to compare the hand-written kernels against
#include <cblas.h>
void openblas_set_num_threads(int num_threads);

const char *gemm_kernel_name(void) { return "OpenBLAS cblas_sgemm"; }

void sgemm(int transA, int transB, size_t M, size_t N, size_t K, const float *A, size_t lda, const float *B, size_t ldb,
           float beta, float *C, size_t ldc) {
    static int threads = 0;
    if (threads != omp_get_max_threads()) { threads = omp_get_max_threads(); openblas_set_num_threads(threads); }
    if (M == 0 || N == 0) return;
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K,
                1.0f, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}
#else
const char *gemm_kernel_name(void) { return KERNEL_NAME; }

// ----------------------------------------------------------------------------
// micro-kernels: C[0:mr, 0:nr] (row stride ldc) = beta * C + A Bp over kc steps, where A(r, k) is
// A[r*rsa + k*csa] (a packed panel: rsa 1, csa MR; A itself, unpacked: its row and column strides) and
// Bp holds kc rows of NR values. beta is 0 (C is not read) or 1. Rows past mr repeat row mr-1 (never
// read past A) and are not stored.
#define A_ROW(r) (A + (size_t)((r) < mr ? (r) : mr - 1) * rsa)

#if defined(__AVX512F__)
static void kernel(int kc, const float *restrict A, size_t rsa, size_t csa, const float *restrict Bp, float *C, size_t ldc,
                   int mr, int nr, int beta) {
    const float *a[MR];
    for (int r = 0; r < MR; r++) a[r] = A_ROW(r);
    __m512 c[MR][2];
    for (int r = 0; r < MR; r++) c[r][0] = c[r][1] = _mm512_setzero_ps();
    // the C tile is read or written after kc steps: start fetching it now (a weight gradient's tile is
    // rarely in cache, and a miss at the end would stall the whole tile)
    for (int r = 0; r < mr; r++) { _mm_prefetch((const char *)(C + r * ldc), _MM_HINT_T0); _mm_prefetch((const char *)(C + r * ldc + 16), _MM_HINT_T0); }
    // unrolled by 4 (docs/performance.md, kernel comments); 16 accumulators, 2 B vectors and a broadcast still fit
    // AVX-512's 32 registers
#define K_LOOP(A_RK) do { \
        _Pragma("GCC unroll 4") \
        for (int k = 0; k < kc; k++) { \
            __m512 b0 = _mm512_load_ps(Bp + k * NR), b1 = _mm512_load_ps(Bp + k * NR + 16); \
            for (int r = 0; r < MR; r++) { \
                __m512 ar = _mm512_set1_ps(A_RK); \
                c[r][0] = _mm512_fmadd_ps(ar, b0, c[r][0]); \
                c[r][1] = _mm512_fmadd_ps(ar, b1, c[r][1]); \
            } \
        } } while (0)
    // a packed or transposed A holds the MR values of a k step side by side: one pointer and constant
    // offsets reach them all (with the row-wise pack_a: docs/performance.md, kernel comments)
    if (rsa == 1 && mr == MR) K_LOOP(A[(size_t)k * csa + r]);
    else K_LOOP(a[r][(size_t)k * csa]);
#undef K_LOOP
    __mmask16 m0 = nr >= 16 ? 0xFFFF : (__mmask16)((1u << nr) - 1);
    __mmask16 m1 = nr >= 32 ? 0xFFFF : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1);
    for (int r = 0; r < mr; r++) {
        float *row = C + r * ldc;
        if (beta) {
            c[r][0] = _mm512_add_ps(c[r][0], _mm512_maskz_loadu_ps(m0, row));
            c[r][1] = _mm512_add_ps(c[r][1], _mm512_maskz_loadu_ps(m1, row + 16));
        }
        _mm512_mask_storeu_ps(row, m0, c[r][0]);
        _mm512_mask_storeu_ps(row + 16, m1, c[r][1]);
    }
}
#elif defined(__AVX2__) && defined(__FMA__)
// 12 accumulators, 2 B vectors and 1 broadcast in AVX2's 16 registers. They are named variables, not an
// array: GCC 12 keeps a c[MR][2] array in memory and stores all 12 vectors to the stack at every k step
// (which halves the kernel's speed; `objdump -d build/avx2/model/matmul.o` shows the loop)
#define ROW_FMA(r) do { __m256 a = _mm256_broadcast_ss(a##r + o); \
                        c##r##0 = _mm256_fmadd_ps(a, b0, c##r##0); c##r##1 = _mm256_fmadd_ps(a, b1, c##r##1); } while (0)
#define K_STEP() do { size_t o = (size_t)k * csa; \
                      __m256 b0 = _mm256_load_ps(Bp + k * NR), b1 = _mm256_load_ps(Bp + k * NR + 8); \
                      ROW_FMA(0); ROW_FMA(1); ROW_FMA(2); ROW_FMA(3); ROW_FMA(4); ROW_FMA(5); } while (0)
static void kernel(int kc, const float *restrict A, size_t rsa, size_t csa, const float *restrict Bp, float *C, size_t ldc,
                   int mr, int nr, int beta) {
    const float *a0 = A_ROW(0), *a1 = A_ROW(1), *a2 = A_ROW(2), *a3 = A_ROW(3), *a4 = A_ROW(4), *a5 = A_ROW(5);
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int r = 0; r < mr; r++) _mm_prefetch((const char *)(C + r * ldc), _MM_HINT_T0); // as in the AVX-512 kernel
    // unrolled by 4 (objdump: the loop still keeps b0, b1 and every accumulator in registers; the
    // AVX-512 kernel's one-pointer loop for a packed A makes no difference here: docs/performance.md, kernel comments)
    #pragma GCC unroll 4
    for (int k = 0; k < kc; k++) K_STEP();
    __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    if (nr == NR) {
        for (int r = 0; r < mr; r++) {
            float *row = C + r * ldc;
            if (beta) { acc[r][0] = _mm256_add_ps(acc[r][0], _mm256_loadu_ps(row)); acc[r][1] = _mm256_add_ps(acc[r][1], _mm256_loadu_ps(row + 8)); }
            _mm256_storeu_ps(row, acc[r][0]);
            _mm256_storeu_ps(row + 8, acc[r][1]);
        }
        return;
    }
    // a partial tile: lanes below nr, as masks (a lane is on when its sign bit is set)
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr), lane), m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr - 8), lane);
    for (int r = 0; r < mr; r++) {
        float *row = C + r * ldc;
        if (beta) {
            acc[r][0] = _mm256_add_ps(acc[r][0], _mm256_maskload_ps(row, m0));
            acc[r][1] = _mm256_add_ps(acc[r][1], _mm256_maskload_ps(row + 8, m1));
        }
        _mm256_maskstore_ps(row, m0, acc[r][0]);
        _mm256_maskstore_ps(row + 8, m1, acc[r][1]);
    }
}
#undef ROW_FMA
#undef K_STEP
#else
static void kernel(int kc, const float *restrict A, size_t rsa, size_t csa, const float *restrict Bp, float *C, size_t ldc,
                   int mr, int nr, int beta) {
    float tile[MR][NR] __attribute__((aligned(64))) = {{0}};
    for (int k = 0; k < kc; k++)
        for (int r = 0; r < MR; r++) {
            float a = A_ROW(r)[(size_t)k * csa];
            #pragma omp simd
            for (int j = 0; j < NR; j++) tile[r][j] += a * Bp[k * NR + j];
        }
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < nr; j++) C[r * ldc + j] = (beta ? C[r * ldc + j] : 0.0f) + tile[r][j];
}
#endif

// ----------------------------------------------------------------------------
// packing, zero-padded to whole micro-panels

// a transposed A' (m x k block at (i0, p0), A'(i,k) = A[k*lda + i]) into MR-row panels: Ap[panel][k][r]
// (an untransposed A is never packed: the micro-kernels read it in place). Row k of A by row k: its mc
// contiguous floats are read in one go, whole cache lines with many in flight (rows far apart are
// fetched 8 ahead), and spread over the panels (panel by panel, each row gave MR floats at a time:
// the lm head's dW 2% slower against OpenBLAS, AVX-512 tier on an Intel Emerald Rapids)
static void pack_a(float *Ap, const float *A, size_t lda, size_t i0, size_t p0, int mc, int kc) {
    int full = mc / MR, panels = (mc + MR - 1) / MR;
    for (int k = 0; k < kc; k++) {
        const float *src = A + (p0 + k) * lda + i0;
        for (int i = 0; i < mc; i += 16) __builtin_prefetch(src + 8 * lda + i); // never faults, even past the end
        for (int p = 0; p < full; p++) // a fixed-length copy, which the compiler turns into vector moves
            memcpy(Ap + (size_t)p * MR * kc + (size_t)k * MR, src + p * MR, MR * sizeof(float));
        for (int p = full; p < panels; p++)
            for (int r = 0; r < MR; r++) Ap[(size_t)p * MR * kc + (size_t)k * MR + r] = p * MR + r < mc ? src[p * MR + r] : 0.0f;
    }
}

// panels q0..q1-1 of B' (k x n block at (p0, j0)) into NR-column panels: Bp[panel][k][j], panel q at
// (q - q0)*NR*KC whatever kc is
static void pack_b(float *Bp, const float *B, size_t ldb, int transB, size_t p0, size_t j0, int kc, int nc, int q0, int q1) {
    if (!transB) { // B'(k,j) = B[k*ldb + j], 8 rows at a time: each panel gets 8 contiguous rows, and the
        for (int k0 = 0; k0 < kc; k0 += 8) // 8 rows of B are read along (faster from memory than panel by
            for (int q = q0; q < q1; q++) { // panel or row by row)
                int cols = nc - q * NR < NR ? nc - q * NR : NR;
                for (int k = k0; k < k0 + 8 && k < kc; k++) {
                    const float *src = B + (p0 + k) * ldb + j0 + (size_t)q * NR;
                    __builtin_prefetch(src + 8 * ldb); // the next 8 rows' lines, while these are copied (a
                    __builtin_prefetch(src + 8 * ldb + 16); // prefetch never faults, even past the end)
                    float *dst = Bp + (size_t)(q - q0) * NR * KC + (size_t)k * NR;
                    if (cols == NR) memcpy(dst, src, NR * sizeof(float)); // a fixed-length copy: vector moves
                    else for (int c = 0; c < NR; c++) dst[c] = c < cols ? src[c] : 0.0f;
                }
            }
        return;
    }
    for (int q = q0; q < q1; q++) { // B'(k,j) = B[j*ldb + k]: read each weight row once, contiguously
        float *dst = Bp + (size_t)(q - q0) * NR * KC;
        int cols = nc - q * NR < NR ? nc - q * NR : NR, k0 = 0;
        size_t j = j0 + (size_t)q * NR;
#if defined(__AVX2__) && NR % 8 == 0
        if (cols == NR) // 8 weight rows x 8 k at a time, transposed in registers
            for (; k0 + 8 <= kc; k0 += 8) {
                // NR rows are read side by side, more streams than the hardware prefetcher follows:
                // each row 4 lines ahead, a line per 16 floats
                if (k0 % 16 == 0)
                    for (int c = 0; c < NR; c++) __builtin_prefetch(B + (j + c) * ldb + p0 + k0 + 64);
                for (int c0 = 0; c0 < NR; c0 += 8) transpose8x8(dst + k0 * NR + c0, NR, B + (j + c0) * ldb + p0 + k0, ldb);
            }
#endif
        for (int c = 0; c < cols; c++) {
            const float *src = B + (j + c) * ldb + p0;
            for (int k = k0; k < kc; k++) dst[k * NR + c] = src[k];
        }
        for (int c = cols; c < NR; c++) for (int k = k0; k < kc; k++) dst[k * NR + c] = 0.0f;
    }
}

// ----------------------------------------------------------------------------

// where the micro-kernels find the A block at row i0: packed panels (Ap), or A itself
typedef struct { const float *base; size_t panel, rsa, csa; } ABlock; // panel p at base + p*panel

static ABlock a_packed(const float *Ap, int kc) { return (ABlock){Ap, (size_t)MR * kc, 1, MR}; }
static ABlock a_direct(const float *A, size_t lda, int transA, size_t i0, size_t p0) {
    if (!transA) return (ABlock){A + i0 * lda + p0, MR * lda, lda, 1}; // A'(i,k) = A[i*lda + k]
    return (ABlock){A + p0 * lda + i0, MR, 1, lda};                    // A'(i,k) = A[k*lda + i]
}

// B panels qa..qb-1 (packed at Bp, panel q at (q - qa)*NR*KC) against the A block at row i0: in groups of
// panels that fit GROUP_BYTES of L2, and within a group the A micro-panels outer, so that consecutive
// kernel calls write C along its rows, which the hardware prefetches (panel by panel, each call wrote 8
// rows 128 bytes wide a whole row apart, and the first touch of C missed). B then streams from L2 (A
// from L1); larger groups spill L2, smaller ones gain nothing (docs/performance.md, kernel comments)
#define GROUP_BYTES (256 << 10)
_Static_assert(GROUP_BYTES >= KC * NR * sizeof(float), "a group holds at least one whole B panel");
static void block_times_panels(ABlock a, const float *Bp, float *C, size_t ldc, size_t i0, size_t j0, int mc, int nc,
                               int kc, int qa, int qb, int first) {
    int group = (int)(GROUP_BYTES / ((size_t)kc * NR * sizeof(float)));
    for (int g0 = qa; g0 < qb; g0 += group) {
        int g1 = g0 + group < qb ? g0 + group : qb;
        for (int p = 0; p * MR < mc; p++) {
            int mr = mc - p * MR < MR ? mc - p * MR : MR;
            for (int q = g0; q < g1; q++) {
                int nr = nc - q * NR < NR ? nc - q * NR : NR;
                kernel(kc, a.base + p * a.panel, a.rsa, a.csa, Bp + (size_t)(q - qa) * NR * KC,
                       C + (i0 + (size_t)p * MR) * ldc + j0 + (size_t)q * NR, ldc, mr, nr, first);
            }
        }
    }
}

// whether the threads split an NC block's rows of A rather than its NR panels: where the panels are too
// few to share, or share unevenly (11 panels on 2 threads: one computes 6, 9% more than half)
static int split_rows(int npanels, int nthreads) {
    return npanels < 4 * nthreads || (npanels % nthreads && npanels < 16 * nthreads);
}

static float *pack_buffer(size_t floats) {
    return malloc_check(floats * sizeof(float)); // allocated once, pre-touched, huge pages when large
}

void sgemm(int transA, int transB, size_t M, size_t N, size_t K, const float *A, size_t lda, const float *B, size_t ldb,
           float beta, float *C, size_t ldc) {
    static float *Bp = NULL, **Ap_threads = NULL;
    static int nthreads_alloc = 0;
    if (M == 0 || N == 0) return;
    if (K == 0) { // C = beta * C
        for (size_t i = 0; i < M; i++) for (size_t j = 0; j < N; j++) C[i * ldc + j] = beta ? C[i * ldc + j] : 0.0f;
        return;
    }
    int nthreads = omp_get_max_threads();
    // the micro-kernels read A where it lies, unpacked, except a transposed A against a wide C: there
    // the kernel would read MR floats from each of kc cache lines (a transposed A's rows are far
    // apart), and across many B panels a packed copy stays in L1 better. Packing costs about one
    // pass over A per NR-wide panel's worth of FMAs, i.e. 1/N of the work, a large share on the small
    // preset's 128-704-wide layers. A transposed A too large for the caches is packed at any width:
    // read in place, each kernel call would wait on kc rows from memory (the lm head's weight
    // gradient; both: docs/performance.md, kernel comments)
    int direct = !transA || (N <= 512 && M * K <= ((size_t)2 << 20));
    // the packed B: whole micro-panels (the last is zero-padded past NC when NR does not divide it), as
    // one region per thread of as many panels as its largest share of an NC block. In the wide path
    // each thread packs its own panels into its own region, so a thread that finishes an NC block
    // goes on to the next without waiting for the others (a barrier per block: the lm head's
    // forward product waited at 12 of them); the narrow path packs into the whole buffer together
    int block_panels = (NC + NR - 1) / NR, region = (block_panels + nthreads - 1) / nthreads;
    if (nthreads > nthreads_alloc) {
        free(Bp); // regions * nthreads <= block_panels + nthreads - 1, for this or any smaller team
        Bp = pack_buffer((size_t)KC * NR * (block_panels + nthreads - 1));
        Ap_threads = realloc_check(Ap_threads, nthreads * sizeof(float *));
        for (int t = nthreads_alloc; t < nthreads; t++) Ap_threads[t] = pack_buffer((size_t)KC * MC);
        nthreads_alloc = nthreads;
    }
    // the wide path's row blocks of A: as few as MC allows, of even size in whole micro-panels (M = 256
    // as 126 + 126 + 4 rows would stream every B panel through the caches a third time for 4 rows)
    size_t mblocks_w = (M + MC - 1) / MC, mcw = ((M + mblocks_w - 1) / mblocks_w + MR - 1) / MR * MR;
    #pragma omp parallel
    {
        int t = omp_get_thread_num();
        float *Ap = Ap_threads[t]; // this thread's packed A, in either path
        for (size_t j0 = 0; j0 < N; j0 += NC) {
            int nc = N - j0 < NC ? (int)(N - j0) : NC;
            int npanels = (nc + NR - 1) / NR;
            // this thread's share of the panels: it packs them (unless it packs all of them for itself,
            // below) and computes them (wide C)
            int q0 = (int)((size_t)npanels * t / nthreads), q1 = (int)((size_t)npanels * (t + 1) / nthreads);
            // where every panel fits this thread's region, it can pack them all for itself: no thread
            // waits for another (packing B again costs 1/mc of the block's FMAs). With rows enough for
            // 4 blocks per thread and a B small enough to stay in the caches (a weight matrix; every
            // thread packing all of the lm head's from memory made its dinp slower) the threads
            // then split the rows even where the panels would share well: each thread reads and
            // writes only its own rows of A and C, the rows that the row-wise passes before and after
            // (norms, activations: static schedules) leave in, and take from, its own cache
            int by_rows = split_rows(npanels, nthreads) ||
                          (M >= (size_t)nthreads * 4 * MC && npanels <= region && K * N <= ((size_t)1 << 20));
            int own_b = by_rows && npanels <= region;
            if (j0 > 0 && split_rows(block_panels, nthreads) && block_panels > region) { // the NC block
                #pragma omp barrier // before had shared panels: every thread is done reading them
            }
            for (size_t p0 = 0; p0 < K; p0 += KC) {
                int kc = K - p0 < KC ? (int)(K - p0) : KC;
                int first = p0 == 0 ? beta != 0.0f : 1; // later k-blocks add to what the first wrote
                if (!by_rows) {
                    // wide C: every thread owns a fixed share of the NR panels (the same in every
                    // k-block), packs those panels of B itself and computes them against each A block.
                    // No thread reads another's panels, so no thread waits for another: one packs (from
                    // memory) while the other computes
                    float *Bt = Bp + (size_t)t * region * NR * KC; // this thread's region
                    if (direct) {
                        // A read in place: the share is packed a group at a time (GROUP_BYTES, as in
                        // block_times_panels) into the start of the region, which stays in L2, and each
                        // group meets every A block before the next is packed. Packing the whole share
                        // first wrote it out to L3 and streamed it back once per 128 rows of C
                        int group = (int)(GROUP_BYTES / ((size_t)kc * NR * sizeof(float)));
                        for (int g0 = q0; g0 < q1; g0 += group) {
                            int g1 = g0 + group < q1 ? g0 + group : q1;
                            pack_b(Bt, B, ldb, transB, p0, j0, kc, nc, g0, g1); // panel q at (q - g0)
                            for (size_t i0 = 0; i0 < M; i0 += mcw) {
                                int mc = M - i0 < mcw ? (int)(M - i0) : (int)mcw;
                                block_times_panels(a_direct(A, lda, transA, i0, p0), Bt, C, ldc, i0, j0, mc, nc, kc, g0, g1, first);
                            }
                        }
                    } else {
                        // A packed: the whole share (panel q at (q - q0)), then block by block, every
                        // thread packing each A block for itself (the second copy comes from the cache;
                        // sharing one took a barrier per block)
                        pack_b(Bt, B, ldb, transB, p0, j0, kc, nc, q0, q1);
                        for (size_t i0 = 0; i0 < M; i0 += mcw) {
                            int mc = M - i0 < mcw ? (int)(M - i0) : (int)mcw;
                            pack_a(Ap, A, lda, i0, p0, mc, kc);
                            block_times_panels(a_packed(Ap, kc), Bt, C, ldc, i0, j0, mc, nc, kc, q0, q1, first);
                        }
                    }
                } else {
                    // narrow C or many rows: every thread packs all the panels into its own region (or,
                    // where they do not fit one, the threads pack them together between two barriers),
                    // then the threads split the A blocks, each packing only its own. Blocks shrink below MC so
                    // that every thread gets as many (a weight gradient of 128 or 384 rows would
                    // otherwise leave a thread idle); row blocks do not change any sum's order, and a
                    // thread gets the same blocks in every k-block
                    float *Bn = own_b ? Bp + (size_t)t * region * NR * KC : Bp; // panel q at Bn + q*NR*KC
                    if (own_b) pack_b(Bn, B, ldb, transB, p0, j0, kc, nc, 0, npanels);
                    else {
                        #pragma omp barrier // every thread is done with the B panels packed before
                        pack_b(Bn + (size_t)q0 * NR * KC, B, ldb, transB, p0, j0, kc, nc, q0, q1);
                        #pragma omp barrier
                    }
                    size_t per = (M + (size_t)nthreads * MC - 1) / ((size_t)nthreads * MC); // blocks per thread
                    size_t mcn = (M + per * nthreads - 1) / (per * nthreads);
                    mcn = (mcn + MR - 1) / MR * MR; // whole panels, still <= MC (a multiple of MR): the pack buffer holds it
                    int mblocks = (int)((M + mcn - 1) / mcn);
                    #pragma omp for schedule(static) nowait
                    for (int ib = 0; ib < mblocks; ib++) {
                        size_t i0 = (size_t)ib * mcn;
                        int mc = M - i0 < mcn ? (int)(M - i0) : (int)mcn;
                        ABlock a = direct ? a_direct(A, lda, transA, i0, p0) : a_packed(Ap, kc);
                        if (!direct) pack_a(Ap, A, lda, i0, p0, mc, kc);
                        block_times_panels(a, Bn, C, ldc, i0, j0, mc, nc, kc, 0, npanels, first);
                    }
                }
            }
        }
    }
}

#endif // USE_CBLAS

// ----------------------------------------------------------------------------
// the linear layer on top of sgemm

void matmul_forward(float *out, const float *inp, const float *weight, const float *bias, size_t N, int C, int OC) {
    // out (N,OC) = inp (N,C) @ weight^T (weight is (OC,C)) + bias
    sgemm(0, 1, N, (size_t)OC, (size_t)C, inp, (size_t)C, weight, (size_t)C, 0.0f, out, (size_t)OC);
    if (bias) {
        #pragma omp parallel for schedule(static)
        for (size_t n = 0; n < N; n++)
            for (int o = 0; o < OC; o++) out[n * OC + o] += bias[o];
    }
}

void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp, const float *weight,
                     size_t N, int C, int OC, float dw_beta) {
    // dinp (N,C) = dout (N,OC) @ weight (OC,C);  dweight (OC,C) = dout^T @ inp (N,C) + dw_beta dweight;  dbias += column sums
    if (dinp) sgemm(0, 0, N, (size_t)C, (size_t)OC, dout, (size_t)OC, weight, (size_t)C, 0.0f, dinp, (size_t)C);
    sgemm(1, 0, (size_t)OC, (size_t)C, N, dout, (size_t)OC, inp, (size_t)C, dw_beta, dweight, (size_t)C);
    if (dbias) {
        #pragma omp parallel for schedule(static)
        for (int o0 = 0; o0 < OC; o0 += 64) {
            int o1 = o0 + 64 < OC ? o0 + 64 : OC;
            for (size_t n = 0; n < N; n++)
                for (int o = o0; o < o1; o++) dbias[o] += dout[n * OC + o];
        }
    }
}

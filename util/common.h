/*
 * common.h: checked wrappers for allocation, file I/O and command-line numbers, the random number
 * generator, and timing.
 * Every checked wrapper reports the file and line of its caller and exits non-zero, so a failure
 * deep inside a loader still names where it happened.
 */
#ifndef COMMON_H
#define COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <math.h>
#include <time.h>
#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>

// fuzzing builds (make fuzz): an error returns to the harness instead of ending the process, so one
// process can try millions of inputs; everything else about the error path is unchanged
#ifdef FUZZING
#include <setjmp.h>
extern jmp_buf fuzz_escape;
#define exit(code) longjmp(fuzz_escape, 1)
#endif

#ifdef _OPENMP
#include <omp.h>
#else // NO_OMP=1 builds: one thread
static inline int omp_get_max_threads(void) { return 1; }
static inline void omp_set_num_threads(int n) { (void)n; }
static inline int omp_get_thread_num(void) { return 0; }
#endif

// ----------------------------------------------------------------------------
// errors: one line, naming the problem and (where there is one) the fix

#define die(...) do { fprintf(stderr, "error: "); fprintf(stderr, __VA_ARGS__); fprintf(stderr, "\n"); exit(1); } while (0)

// command-line numbers: junk, non-finite and out-of-range values stop with one line naming the flag
static inline long arg_int(const char *s, const char *flag, long lo, long hi, const char *prog) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end) die("%s expects an integer, got '%s'\nHINT: see %s --help", flag, s, prog);
    if (v < lo || v > hi) die("%s must be between %ld and %ld, got %ld\nHINT: see %s --help", flag, lo, hi, v, prog);
    return v;
}
static inline double arg_num(const char *s, const char *flag, double lo, double hi, const char *prog) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) die("%s expects a number, got '%s'\nHINT: see %s --help", flag, s, prog);
    if (v < lo || v > hi) die("%s must be between %g and %g, got %g\nHINT: see %s --help", flag, lo, hi, v, prog);
    return v;
}

// the index of value in a list of names, or -1
static inline int parse_choice(const char *value, const char *const *names, int n) {
    for (int i = 0; i < n; i++) if (strcmp(value, names[i]) == 0) return i;
    return -1;
}

// an input must be a regular file: opening a FIFO blocks until a writer comes (forever, as a rule), and
// a directory or a device has no size to check. A path that does not exist is left to the open's error
static inline void regular_file_check(const char *path, const char *what) {
    struct stat st;
    if (stat(path, &st) != 0 || S_ISREG(st.st_mode)) return;
    const char *kind = S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISSOCK(st.st_mode) ? "a socket"
                     : "a device or other special file";
    fprintf(stderr, "error: %s '%s' is %s, not a regular file\nHINT: give the path of the file itself (pipes and devices "
            "cannot be read: copy the data to a file first)\n", what, path, kind);
    exit(1);
}

static inline FILE *fopen_check_(const char *path, const char *mode, const char *file, int line) {
    if (mode[0] == 'r') regular_file_check(path, "input");
    FILE *f = fopen(path, mode);
    if (f == NULL) {
        fprintf(stderr, "error: cannot open '%s' (mode %s) at %s:%d\nHINT: check that the path exists and is readable\n",
                path, mode, file, line);
        exit(1);
    }
    return f;
}
#define fopen_check(path, mode) fopen_check_(path, mode, __FILE__, __LINE__)

static inline void fread_check_(void *ptr, size_t size, size_t n, FILE *f, const char *what, const char *file, int line) {
    size_t got = fread(ptr, size, n, f);
    if (got != n) {
        fprintf(stderr, "error: file truncated while reading %s (%zu of %zu items) at %s:%d\n"
                "HINT: the file is incomplete; regenerate it or use an earlier checkpoint\n", what, got, n, file, line);
        exit(1);
    }
}
#define fread_check(ptr, size, n, f, what) fread_check_(ptr, size, n, f, what, __FILE__, __LINE__)

static inline void fwrite_check_(const void *ptr, size_t size, size_t n, FILE *f, const char *file, int line) {
    if (fwrite(ptr, size, n, f) != n) {
        fprintf(stderr, "error: write failed at %s:%d\nHINT: is the disk full?\n", file, line);
        exit(1);
    }
}
#define fwrite_check(ptr, size, n, f) fwrite_check_(ptr, size, n, f, __FILE__, __LINE__)

static inline void fclose_check_(FILE *f, const char *file, int line) {
    if (fclose(f) != 0) { fprintf(stderr, "error: could not finish writing a file (%s) at %s:%d\nHINT: is the disk full?\n", strerror(errno), file, line); exit(1); }
}
#define fclose_check(f) fclose_check_(f, __FILE__, __LINE__)

// closes an output file; if any write to it failed (a full disk), removes it rather than leave a
// short or empty file that looks like a result
static inline void close_output(FILE *f, const char *path) {
    int bad = fflush(f) != 0 || ferror(f);
    int err = errno;
    if (fclose(f) != 0 && !bad) { bad = 1; err = errno; }
    if (bad) {
        remove(path);
        fprintf(stderr, "error: could not write '%s' (%s)\nHINT: is the disk full? free space and run again\n", path, strerror(err));
        exit(1);
    }
}

// 64-byte aligned, zeroed (which also pre-touches every page); sizes are bytes. Buffers of 4 MiB and
// more are 2 MiB aligned and ask for transparent huge pages: the first touch of a 4 KiB page costs
// ~11 us on this machine kind, so 2 GB of fresh small pages take seconds, and huge pages also spare TLB misses.
static inline void *malloc_check_(size_t size, const char *file, int line) {
    size_t align = size >= ((size_t)4 << 20) ? ((size_t)2 << 20) : 64;
    size_t rounded = (size + align - 1) / align * align;
    if (rounded == 0) rounded = 64;
    void *p = aligned_alloc(align, rounded);
#ifdef MADV_HUGEPAGE
    if (p && align > 64) madvise(p, rounded, MADV_HUGEPAGE);
#endif
    if (p == NULL) {
        fprintf(stderr, "error: out of memory allocating %.1f MiB at %s:%d\nHINT: a smaller model, batch or context needs less memory\n",
                size / 1048576.0, file, line);
        exit(1);
    }
    memset(p, 0, rounded);
    return p;
}
#define malloc_check(size) malloc_check_(size, __FILE__, __LINE__)

// realloc that stops with an error instead of returning NULL (the old block would be lost, and the
// caller's next write would crash); growth is the caller's, so sizes are bytes
static inline void *realloc_check_(void *p, size_t size, const char *file, int line) {
    void *q = realloc(p, size ? size : 1);
    if (q == NULL) {
        fprintf(stderr, "error: out of memory growing a buffer to %.1f MiB at %s:%d\nHINT: a smaller input or model needs less memory\n",
                size / 1048576.0, file, line);
        exit(1);
    }
    return q;
}
#define realloc_check(p, size) realloc_check_(p, size, __FILE__, __LINE__)

// ----------------------------------------------------------------------------
// random numbers: xorshift64*, deterministic everywhere; state is one uint64 so it checkpoints trivially

static inline uint32_t random_u32(uint64_t *state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return (uint32_t)((*state * 0x2545F4914F6CDD1Dull) >> 32);
}
// uniform in [0, 1)
static inline float random_f32(uint64_t *state) {
    return (random_u32(state) >> 8) / 16777216.0f;
}
// standard normal via Box-Muller
static inline float random_normal(uint64_t *state) {
    float u1 = random_f32(state), u2 = random_f32(state);
    if (u1 < 1e-7f) u1 = 1e-7f;
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853071795864f * u2);
}
// a fresh stream from a seed and a salt, so that streams for different uses never coincide
static inline uint64_t random_seed(uint64_t seed, uint64_t salt) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + salt + 0x632BE59BD9B4E019ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return z ? z : 0x1234567ull;
}

// ----------------------------------------------------------------------------
// timing

static inline double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#endif

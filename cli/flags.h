/*
 * flags.h: what train_gpt and eval_gpt parse alike: the flags both take (--attn, --ssmax-s0,
 * --rope-theta, --threads, --gpt2-dir, --seed), choices by name with the list in the error, and the
 * one rule for giving a checkpoint another normalizer.
 */
#ifndef CLI_FLAGS_H
#define CLI_FLAGS_H

#include <getopt.h>
#include "../model/gpt.h"

// "not given" is NULL, NAN, -1 or seed_given == 0, so a preset or checkpoint can fill it in
typedef struct {
    const char *attn;     // --attn NAME
    float ssmax_s0;       // --ssmax-s0 S
    float rope_theta;     // --rope-theta X
    int threads;          // --threads N (0: all cores)
    const char *gpt2_dir; // --gpt2-dir DIR
    int seed, seed_given; // --seed N
} SharedFlags;

enum { FLAG_ATTN = 1000, FLAG_S0, FLAG_THETA, FLAG_THREADS, FLAG_GPT2, FLAG_SEED };
#define SHARED_LONG_OPTIONS                                                                                            \
    {"attn", required_argument, 0, FLAG_ATTN}, {"ssmax-s0", required_argument, 0, FLAG_S0},                            \
    {"rope-theta", required_argument, 0, FLAG_THETA}, {"threads", required_argument, 0, FLAG_THREADS},                \
    {"gpt2-dir", required_argument, 0, FLAG_GPT2}, {"seed", required_argument, 0, FLAG_SEED}

SharedFlags shared_flags_default(int seed);
// handles option c of getopt_long if it is a shared flag (1), else returns 0; prog names the tool in a HINT
int shared_flag(SharedFlags *f, int c, const char *arg, const char *prog);

// "a | b | c"
const char *join_names(const char *const *names, int n);
// the index of s in names, or one error line listing them
int parse_named(const char *s, const char *flag, const char *const *names, int n, const char *prog);
int parse_normalizer(const char *s, const char *flag, const char *prog); // an ATTN_* index

// a checkpoint's config given another normalizer (config (e)): its parameters start at s0, the flag's or
// the normalizer's default for training length T; the same normalizer leaves the config as it is
void config_convert_normalizer(GPTConfig *c, int attn, float s0, int T);

// applies --threads and returns the thread count
int use_threads(int threads);

#endif

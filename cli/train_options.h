/*
 * train_options.h: train_gpt's command line: every flag with its default, --help, and the checks a
 * flag can fail without reading a file. What is not given stays "not given" (-1 or NULL), for the
 * preset, the checkpoint or the data to fill in (train_gpt.c).
 */
#ifndef CLI_TRAIN_OPTIONS_H
#define CLI_TRAIN_OPTIONS_H

#include "flags.h"

#ifndef ATTN_DEFAULT
#define ATTN_DEFAULT "softmax" // the normalizer without --attn: make ATTN= sets it
#endif

typedef struct {
    SharedFlags sh; // --attn, --ssmax-s0, --rope-theta, --threads, --gpt2-dir, --seed
    const char *model, *train, *val, *out, *resume, *init_from, *pos, *norm, *mlp, *schedule, *task, *needle_loss;
    int layers, heads, width, ffn, tie, bias, seq, max_seq;
    float mpi_timeout;
    int batch, steps, grad_accum, warmup, val_every, val_batches, sample_every, sample_len;
    int ckpt_every, keep_ckpts, log_every, dry_run, attn_switch_step, overwrite, doc_mask, qk_norm, val_spread;
    int pairs, queries;       // --task mqar
    float needle_frac;        // --task lm: the fraction of windows that carry a needle
    int batch_given, accum_given; // given on the command line (a resume keeps the run's own otherwise; --seed: sh.seed_given)
    float lr, min_lr_frac, decay_frac, beta1, beta2, eps, wd, clip, temperature;
} Options;

enum { TASK_LM, TASK_NEEDLE, TASK_PASSKEY, TASK_MQAR, TASK_RECALL, TASK_COUNT };
extern const char *const task_names[TASK_COUNT];
enum { NEEDLE_LOSS_COUNT = 3 };
extern const char *const needle_loss_names[NEEDLE_LOSS_COUNT]; // --needle-loss: answer, question, all

// the flags of argv; --help prints them and exits 0, a bad one stops with error: and HINT: lines
Options parse_args(int argc, char **argv);

#endif

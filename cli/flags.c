/*
 * flags.c: the command-line parsing train_gpt and eval_gpt share; see flags.h.
 */
#include "../util/common.h"
#include "flags.h"

SharedFlags shared_flags_default(int seed) {
    SharedFlags f = {NULL, NAN, -1, 0, NULL, seed, 0};
    return f;
}

int shared_flag(SharedFlags *f, int c, const char *arg, const char *prog) {
    switch (c) {
    case FLAG_ATTN: f->attn = arg; parse_normalizer(arg, "--attn", prog); return 1;
    case FLAG_S0: f->ssmax_s0 = (float)arg_num(arg, "--ssmax-s0", -1e6, 1e6, prog); return 1;
    case FLAG_THETA: f->rope_theta = (float)arg_num(arg, "--rope-theta", 1e-3, 1e30, prog); return 1;
    case FLAG_THREADS: f->threads = (int)arg_int(arg, "--threads", 1, 4096, prog); return 1;
    case FLAG_GPT2: f->gpt2_dir = arg; return 1;
    case FLAG_SEED: f->seed = (int)arg_int(arg, "--seed", 0, INT32_MAX, prog); f->seed_given = 1; return 1;
    default: return 0;
    }
}

const char *join_names(const char *const *names, int n) {
    static char list[512];
    list[0] = 0;
    for (int i = 0; i < n; i++) {
        if (strlen(list) + strlen(names[i]) + 4 >= sizeof(list)) break;
        if (i) strcat(list, " | ");
        strcat(list, names[i]);
    }
    return list;
}

int parse_named(const char *s, const char *flag, const char *const *names, int n, const char *prog) {
    int i = parse_choice(s, names, n);
    if (i < 0) die("%s must be one of %s, got '%s'\nHINT: see %s --help for what each one means", flag, join_names(names, n), s, prog);
    return i;
}

int parse_normalizer(const char *s, const char *flag, const char *prog) {
    const Normalizer *n = normalizer_find(s);
    if (!n) die("%s must be one of %s, got '%s'\nHINT: see %s --help for what each one means", flag, normalizer_list(0), s, prog);
    return (int)(n - normalizers);
}

void config_convert_normalizer(GPTConfig *c, int attn, float s0, int T) {
    if (attn == c->attn) return;
    const Normalizer *from = &normalizers[c->attn], *to = &normalizers[attn];
    int far = (from->row == ROW_SIGMOID || from->row == ROW_SOFTPICK || to->row == ROW_SIGMOID || to->row == ROW_SOFTPICK);
    if (from->row != to->row && far) // a scale or a sink starts near the trained model; another row function does not
        fprintf(stderr, "note: %s weighs a row by another function than the checkpoint's %s: the converted model is not the "
                "trained one until it is trained with %s (fine-tune it first, e.g. train_gpt --init-from)\n", to->name,
                from->name, to->name);
    c->attn = attn;
    c->ssmax_s0 = isnan(s0) ? normalizer_default_s0(attn, T) : s0;
}

int use_threads(int threads) {
    if (threads > 0) omp_set_num_threads(threads);
    return omp_get_max_threads();
}

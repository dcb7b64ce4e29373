/*
 * train_options.c: train_gpt's flags, their defaults and --help; see train_options.h.
 */
#include "../util/common.h"
#include "../model/gpt.h"
#include "../model/optim.h"
#include "../data/retrieval.h"
#include "train_options.h"


static Options default_options(void) {
    Options o;
    memset(&o, 0, sizeof(o));
    o.model = "small"; o.train = "data/tinyshakespeare-byte/train_*.bin"; o.val = "data/tinyshakespeare-byte/val_*.bin";
    o.sh = shared_flags_default(1337);
    o.out = NULL; o.pos = NULL; o.norm = NULL; o.mlp = NULL; o.schedule = "constant"; o.task = "lm";
    o.needle_loss = "answer"; o.pairs = 8; o.queries = 4;
    o.layers = o.heads = o.width = o.ffn = o.tie = o.bias = o.seq = o.max_seq = o.doc_mask = o.qk_norm = -1;
    o.sh.rope_theta = -1; o.sh.ssmax_s0 = NAN; o.mpi_timeout = 300;
    o.batch = 8; o.steps = 1000; o.grad_accum = 1; o.warmup = 100;
    o.val_every = 100; o.val_batches = 20; o.sample_every = 0; o.sample_len = 200;
    o.ckpt_every = 500; o.keep_ckpts = 2; o.log_every = 1;
    o.lr = 6e-4f; o.min_lr_frac = 0.1f; o.decay_frac = 0.2f; o.beta1 = 0.9f; o.beta2 = 0.95f; o.eps = 1e-8f;
    o.wd = 0.1f; o.clip = 1.0f; o.temperature = 1.0f;
    return o;
}

static void usage(void) {
    Options d = default_options();
    printf("usage: train_gpt [options]\n\nmodel (a preset, then any field overridden):\n");
    printf("  -m, --model NAME        preset (default: %s):\n", d.model);
    for (int i = 0; i < num_presets; i++)
        printf("                            %-11s L=%-2d NH=%-2d C=%-3d F=%-4d T=%-4d %s, %s, %s, %s: %s\n", presets[i].name,
               presets[i].L, presets[i].NH, presets[i].C, presets[i].F, presets[i].T, pos_names[presets[i].pos],
               norm_names[presets[i].norm], mlp_names[presets[i].mlp], presets[i].tie ? "tied" : "untied", presets[i].about);
    printf("      --attn NAME         %s (default: %s, set by make ATTN=)\n"
           "      --ssmax-s0 S        initial SSMax s (default: 1/mean_{n=1..T} ln n; 1 for ssmax-fixed)\n"
           "      --pos NAME          learned | rope | none (default: preset)\n"
           "      --rope-theta X      RoPE base (default: 10000)\n"
           "      --norm NAME         layernorm | rmsnorm (default: preset)\n"
           "      --mlp NAME          gelu | swiglu (default: preset)\n"
           "      --ffn N             MLP hidden width (default: preset)\n"
           "      --tie 0|1           tie input and output embeddings (default: preset)\n"
           "      --bias 0|1          biases in linear layers (default: preset)\n"
           "      --layers N, --heads N, --width N   depth, heads, channels (default: preset)\n"
           "      --qk-norm           RMSNorm of each head's q and k before RoPE, learnable gains (default: off)\n"
           "      --doc-mask          attention does not cross end-of-text tokens inside a window; n counts\n"
           "                          the keys of the query's own document (default: off)\n"
           "      --max-seq N         learned-position table length (default: the larger of preset T and -t)\n"
           "      --attn-switch-step K  train with softmax until step K, then with --attn (config (f)); s starts at\n"
           "                          --ssmax-s0, the new parameters' AdamW moments at zero (default: 0, off)\n"
           "      --init-from FILE    start from a checkpoint or an llm.c GPT-2 model file (fp32, v3); with another\n"
           "                          --attn than the checkpoint's, a Softmax model becomes SSMax (config (e))\n", normalizer_list(0), ATTN_DEFAULT);
    printf("\ndata:\n"
           "  -i, --train GLOB        training shards (default: %s)\n"
           "  -j, --val GLOB          validation shards (default: %s)\n"
           "  -b, --batch B           sequences per micro-batch (default: %d)\n"
           "  -t, --seq T             sequence length (default: preset's T)\n"
           "      --task NAME         lm: next-token loss on the training text | needle: retrieval examples made\n"
           "                          from the training text | passkey: a 7-digit pass key hidden in training text,\n"
           "                          asked for at the end | mqar: multi-query associative recall on random tokens\n"
           "                          (key, value pairs) | recall: associative recall in one hop (each item one\n"
           "                          token) (passkey, mqar, recall: loss on the answers only, validation on\n"
           "                          examples of a fixed draw) (default: %s)\n"
           "      --needle-loss NAME  --task needle: which tokens carry the loss: answer (the 7 digits) | question\n"
           "                          (the question and the answer) | all (every token) (default: %s)\n"
           "      --pairs N           --task mqar, recall: key-value pairs per example, 1..64 (recall 1..8) (default: %d)\n"
           "      --queries N         --task mqar, recall: keys asked for at the end, 1..pairs (default: %d)\n"
           "      --needle-frac X     --task lm: this fraction of windows carries a needle (the needle task's\n"
           "                          sentence, question and answer, at a uniform depth; loss on every token)\n"
           "                          (default: %g)\n",
           d.train, d.val, d.batch, d.task, d.needle_loss, d.pairs, d.queries, d.needle_frac);
    printf("\noptimisation:\n"
           "  -n, --steps N           optimizer steps (default: %d)\n"
           "  -a, --grad-accum N      micro-batches per step (default: %d)\n"
           "  -l, --lr X              peak learning rate (default: %g)\n"
           "      --schedule NAME     constant | cosine | wsd, all after linear warmup (default: %s)\n"
           "      --warmup N          warmup steps (default: %d)\n"
           "      --min-lr-frac X     cosine/wsd end at lr*X (default: %g)\n"
           "      --decay-frac X      wsd: fraction of steps spent decaying (default: %g)\n"
           "      --beta1 X, --beta2 X  AdamW betas (default: %g, %g)\n"
           "      --eps X             AdamW epsilon (default: %g)\n"
           "      --wd X              weight decay on 2-D weights (default: %g)\n"
           "      --clip X            global gradient-norm clip, 0 = off (default: %g)\n"
           "      --seed N            init and data order (default: %d)\n",
           d.steps, d.grad_accum, d.lr, d.schedule, d.warmup, d.min_lr_frac, d.decay_frac, d.beta1, d.beta2,
           d.eps, d.wd, d.clip, d.sh.seed);
    printf("\noutput:\n"
           "  -o, --out DIR           run folder: log.csv, ssmax.csv, checkpoints (default: runs/<attn>)\n"
           "      --val-every N       validate every N steps, 0 = never (default: %d)\n"
           "      --val-batches N     validation batches (default: %d)\n"
           "      --val-spread        validation batches evenly spaced over all the validation data (default: the\n"
           "                          first ones, in file order)\n"
           "      --sample-every N    print a sample every N steps, 0 = never (default: %d)\n"
           "      --sample-len N      sampled tokens (default: %d)\n"
           "      --temperature X     sampling temperature (default: %g)\n"
           "      --gpt2-dir DIR      encoder.json and vocab.bpe for gpt2 samples (default: ../shared/data/gpt2 or data/gpt2)\n"
           "      --ckpt-every N      checkpoint every N steps and at the end, 0 = end only (default: %d)\n"
           "      --keep-ckpts N      newest checkpoints kept (default: %d)\n"
           "      --resume DIR        continue the run in DIR from its newest checkpoint\n"
           "      --overwrite         let a new run use an output folder that holds another run's checkpoints\n"
           "                          (they are deleted first; without it such a folder is refused)\n"
           "      --log-every N       progress line every N steps (default: %d)\n"
           "      --threads N         OpenMP threads, per MPI rank (default: all cores, or OMP_NUM_THREADS)\n"
           "      --mpi-timeout S     MPI builds: seconds a rank waits for the others before ending the job (default: %g)\n"
           "      --dry-run           print the config table (parameters, memory) and exit\n"
           "  -h, --help              this help\n",
           d.val_every, d.val_batches, d.sample_every, d.sample_len, d.temperature, d.ckpt_every, d.keep_ckpts, d.log_every,
           d.mpi_timeout);
}

// number parsing that rejects junk and out-of-range values with a one-line error
#define parse_int(s, flag, lo, hi) arg_int(s, flag, lo, hi, "train_gpt")
#define parse_float(s, flag, lo, hi) (float)arg_num(s, flag, lo, hi, "train_gpt")
const char *const task_names[TASK_COUNT] = {"lm", "needle", "passkey", "mqar", "recall"};
const char *const needle_loss_names[NEEDLE_LOSS_COUNT] = {"answer", "question", "all"};

Options parse_args(int argc, char **argv) {
    Options o = default_options();
    enum { O_POS = 256, O_NORM, O_MLP, O_FFN, O_TIE, O_BIAS, O_LAYERS, O_HEADS, O_WIDTH,
           O_MAXSEQ, O_INIT, O_SCHED, O_WARMUP, O_MINLR, O_DECAY, O_B1, O_B2, O_EPS, O_WD, O_CLIP,
           O_VALEVERY, O_VALB, O_SAMPLE, O_SLEN, O_TEMP, O_CKPT, O_KEEP, O_RESUME, O_LOGEVERY, O_DRY, O_SWITCH, O_TASK, O_MPITIMEOUT, O_NEEDLELOSS, O_OVERWRITE, O_DOCMASK, O_QKNORM,
           O_PAIRS, O_QUERIES, O_NEEDLEFRAC, O_VALSPREAD };
    static struct option opts[] = {
        {"help", no_argument, 0, 'h'}, {"model", required_argument, 0, 'm'}, {"train", required_argument, 0, 'i'},
        {"val", required_argument, 0, 'j'}, {"out", required_argument, 0, 'o'}, {"batch", required_argument, 0, 'b'},
        {"seq", required_argument, 0, 't'}, {"steps", required_argument, 0, 'n'}, {"grad-accum", required_argument, 0, 'a'},
        {"lr", required_argument, 0, 'l'}, SHARED_LONG_OPTIONS, {"pos", required_argument, 0, O_POS},
        {"norm", required_argument, 0, O_NORM}, {"mlp", required_argument, 0, O_MLP}, {"ffn", required_argument, 0, O_FFN},
        {"tie", required_argument, 0, O_TIE}, {"bias", required_argument, 0, O_BIAS},
        {"layers", required_argument, 0, O_LAYERS}, {"heads", required_argument, 0, O_HEADS},
        {"width", required_argument, 0, O_WIDTH}, {"max-seq", required_argument, 0, O_MAXSEQ},
        {"init-from", required_argument, 0, O_INIT}, {"schedule", required_argument, 0, O_SCHED},
        {"warmup", required_argument, 0, O_WARMUP}, {"min-lr-frac", required_argument, 0, O_MINLR},
        {"decay-frac", required_argument, 0, O_DECAY}, {"beta1", required_argument, 0, O_B1},
        {"beta2", required_argument, 0, O_B2}, {"eps", required_argument, 0, O_EPS}, {"wd", required_argument, 0, O_WD},
        {"clip", required_argument, 0, O_CLIP},
        {"val-every", required_argument, 0, O_VALEVERY}, {"val-batches", required_argument, 0, O_VALB},
        {"sample-every", required_argument, 0, O_SAMPLE}, {"sample-len", required_argument, 0, O_SLEN},
        {"temperature", required_argument, 0, O_TEMP}, {"ckpt-every", required_argument, 0, O_CKPT},
        {"keep-ckpts", required_argument, 0, O_KEEP}, {"resume", required_argument, 0, O_RESUME},
        {"overwrite", no_argument, 0, O_OVERWRITE}, {"doc-mask", no_argument, 0, O_DOCMASK},
        {"qk-norm", no_argument, 0, O_QKNORM},
        {"log-every", required_argument, 0, O_LOGEVERY}, {"dry-run", no_argument, 0, O_DRY},
        {"attn-switch-step", required_argument, 0, O_SWITCH}, {"task", required_argument, 0, O_TASK},
        {"mpi-timeout", required_argument, 0, O_MPITIMEOUT}, {"needle-loss", required_argument, 0, O_NEEDLELOSS},
        {"pairs", required_argument, 0, O_PAIRS}, {"queries", required_argument, 0, O_QUERIES},
        {"needle-frac", required_argument, 0, O_NEEDLEFRAC}, {"val-spread", no_argument, 0, O_VALSPREAD}, {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "hm:i:j:o:b:t:n:a:l:", opts, NULL)) != -1) {
        if (shared_flag(&o.sh, c, optarg, "train_gpt")) continue;
        switch (c) {
        case 'h': usage(); exit(0);
        case 'm': o.model = optarg; break;
        case 'i': o.train = optarg; break;
        case 'j': o.val = optarg; break;
        case 'o': o.out = optarg; break;
        case 'b': o.batch = parse_int(optarg, "--batch", 1, 1 << 20); o.batch_given = 1; break;
        case 't': o.seq = parse_int(optarg, "--seq", 1, 1 << 24); break;
        case 'n': o.steps = parse_int(optarg, "--steps", 1, 1 << 30); break;
        case 'a': o.grad_accum = parse_int(optarg, "--grad-accum", 1, 1 << 20); o.accum_given = 1; break;
        case 'l': o.lr = parse_float(optarg, "--lr", 0, 1e30); break;
        case O_POS: o.pos = optarg; parse_named(optarg, "--pos", pos_names, POS_COUNT, "train_gpt"); break;
        case O_NORM: o.norm = optarg; parse_named(optarg, "--norm", norm_names, NORM_COUNT, "train_gpt"); break;
        case O_MLP: o.mlp = optarg; parse_named(optarg, "--mlp", mlp_names, MLP_COUNT, "train_gpt"); break;
        case O_FFN: o.ffn = parse_int(optarg, "--ffn", 1, 1 << 20); break;
        case O_TIE: o.tie = parse_int(optarg, "--tie", 0, 1); break;
        case O_BIAS: o.bias = parse_int(optarg, "--bias", 0, 1); break;
        case O_LAYERS: o.layers = parse_int(optarg, "--layers", 1, 1024); break;
        case O_HEADS: o.heads = parse_int(optarg, "--heads", 1, 1024); break;
        case O_WIDTH: o.width = parse_int(optarg, "--width", 1, 1 << 16); break;
        case O_MAXSEQ: o.max_seq = parse_int(optarg, "--max-seq", 1, 1 << 24); break;
        case O_INIT: o.init_from = optarg; break;
        case O_SCHED: o.schedule = optarg; parse_named(optarg, "--schedule", schedule_names, SCHED_COUNT, "train_gpt"); break;
        case O_WARMUP: o.warmup = parse_int(optarg, "--warmup", 0, 1 << 30); break;
        case O_MINLR: o.min_lr_frac = parse_float(optarg, "--min-lr-frac", 0, 1); break;
        case O_DECAY: o.decay_frac = parse_float(optarg, "--decay-frac", 0, 1); break;
        case O_B1: o.beta1 = parse_float(optarg, "--beta1", 0, 0.999999); break;
        case O_B2: o.beta2 = parse_float(optarg, "--beta2", 0, 0.999999); break;
        case O_EPS: o.eps = parse_float(optarg, "--eps", 1e-30, 1); break;
        case O_WD: o.wd = parse_float(optarg, "--wd", 0, 10); break;
        case O_CLIP: o.clip = parse_float(optarg, "--clip", 0, 1e30); break;
        case O_VALEVERY: o.val_every = parse_int(optarg, "--val-every", 0, 1 << 30); break;
        case O_VALB: o.val_batches = parse_int(optarg, "--val-batches", 1, 1 << 20); break;
        case O_SAMPLE: o.sample_every = parse_int(optarg, "--sample-every", 0, 1 << 30); break;
        case O_SLEN: o.sample_len = parse_int(optarg, "--sample-len", 1, 1 << 20); break;
        case O_TEMP: o.temperature = parse_float(optarg, "--temperature", 1e-4, 100); break;
        case O_CKPT: o.ckpt_every = parse_int(optarg, "--ckpt-every", 0, 1 << 30); break;
        case O_KEEP: o.keep_ckpts = parse_int(optarg, "--keep-ckpts", 1, 1 << 20); break;
        case O_RESUME: o.resume = optarg; break;
        case O_OVERWRITE: o.overwrite = 1; break;
        case O_DOCMASK: o.doc_mask = 1; break;
        case O_QKNORM: o.qk_norm = 1; break;
        case O_LOGEVERY: o.log_every = parse_int(optarg, "--log-every", 1, 1 << 30); break;
        case O_DRY: o.dry_run = 1; break;
        case O_SWITCH: o.attn_switch_step = parse_int(optarg, "--attn-switch-step", 0, 1 << 30); break;
        case O_MPITIMEOUT: o.mpi_timeout = parse_float(optarg, "--mpi-timeout", 1, 1e7); break;
        case O_TASK: o.task = optarg; parse_named(optarg, "--task", task_names, TASK_COUNT, "train_gpt"); break;
        case O_PAIRS: o.pairs = parse_int(optarg, "--pairs", 1, RETRIEVAL_MAX_PAIRS); break;
        case O_QUERIES: o.queries = parse_int(optarg, "--queries", 1, RETRIEVAL_MAX_PAIRS); break;
        case O_VALSPREAD: o.val_spread = 1; break;
        case O_NEEDLEFRAC: o.needle_frac = parse_float(optarg, "--needle-frac", 0, 1); break;
        case O_NEEDLELOSS: o.needle_loss = optarg; parse_named(optarg, "--needle-loss", needle_loss_names, NEEDLE_LOSS_COUNT, "train_gpt"); break;
        case '?':
            if (optopt) die("option -%c needs a value or is unknown\nHINT: see train_gpt --help", optopt);
            die("unknown option '%s'\nHINT: see train_gpt --help", argv[optind - 1]);
        default: die("unknown option\nHINT: see train_gpt --help");
        }
    }
    if (optind < argc) die("unexpected argument '%s'\nHINT: options start with -- (see train_gpt --help)", argv[optind]);
    if (o.attn_switch_step > 0 && (!o.sh.attn || !strcmp(o.sh.attn, "softmax")))
        die("--attn-switch-step needs the normalizer to switch to\nHINT: add --attn NAME, one of %s", normalizer_list(1));
    if (o.attn_switch_step > o.steps)
        die("--attn-switch-step %d is past the last step (-n %d): the run would never switch\nHINT: use a step in 1..%d",
            o.attn_switch_step, o.steps, o.steps);
    if (o.queries > o.pairs)
        die("--queries %d is more than --pairs %d: every query asks for a different key\nHINT: use --queries <= --pairs", o.queries, o.pairs);
    if (o.needle_frac > 0 && strcmp(o.task, "lm"))
        die("--needle-frac mixes needles into language-model windows, but the task is %s\nHINT: use --task lm, or drop --needle-frac", o.task);
    if (o.resume && o.init_from) die("--resume and --init-from exclude each other\nHINT: --resume continues a run, --init-from starts a new one from weights");
    return o;
}

/* commands.c: the table.  Every command and option garage has is here;
 * help, sessions, the REPL, completion and the man pages read it. */
#include <stdlib.h>

#include "app/command.h"
#include "app/session.h"
#include "app/workspace.h"
#include "stages/stages.h"

#define NOR 0, 0        /* no range */

static enum gr_status cmd_init(struct gr_ctx *, const struct gr_args *, struct gr_error *);
static enum gr_status cmd_help(struct gr_ctx *, const struct gr_args *, struct gr_error *);
static enum gr_status cmd_status(struct gr_ctx *, const struct gr_args *, struct gr_error *);
static enum gr_status cmd_repl(struct gr_ctx *, const struct gr_args *, struct gr_error *);
static enum gr_status cmd_tui(struct gr_ctx *, const struct gr_args *, struct gr_error *);

static const struct gr_option init_opts[] = {
    { "dir", OPT_PATH, ".", NOR, NULL, "folder to create the workspace in" },
    { "seed", OPT_INT, "1337", 0, 2147483647, NULL, "seed for every random choice in this workspace" },
    { NULL }
};

static const struct gr_option corpus_opts[] = {
    { "add", OPT_PATHS, NULL, NOR, NULL, "files, folders or globs to add as documents" },
    { "format", OPT_CHOICE, "auto", NOR, "auto|text|fortune|jsonl", "how to read the added files" },
    { "field", OPT_STRING, "text", NOR, NULL, "JSONL field that holds the text" },
    { "val_fraction", OPT_FLOAT, "0.05", 0, 0.5, NULL, "share of documents held out for validation" },
    { "info", OPT_BOOL, "false", NOR, NULL, "print statistics of the corpus" },
    { "clear", OPT_BOOL, "false", NOR, NULL, "remove every document from the corpus" },
    { NULL }
};

static const struct gr_option tokenizer_opts[] = {
    { "vocab_size", OPT_INT, "4096", 262, 65536, NULL, "tokens in the vocabulary, 256 bytes and 5 special tokens included" },
    { "show", OPT_STRING, NULL, NOR, NULL, "print how the trained tokenizer splits this text, and do nothing else" },
    { NULL }
};

static const struct gr_option model_opts[] = {
    { "layers", OPT_INT, "4", 1, 48, NULL, "transformer blocks" },
    { "heads", OPT_INT, "4", 1, 64, NULL, "attention heads per block (must divide dim)" },
    { "dim", OPT_INT, "256", 8, 4096, NULL, "width of the residual stream" },
    { "context", OPT_INT, "256", 8, 8192, NULL, "longest sequence the model sees, in tokens" },
    { "seed", OPT_INT, NULL, 0, 2147483647, NULL, "seed for the initial weights (default: the workspace's)" },
    { "replace", OPT_BOOL, "false", NOR, NULL, "delete the existing base checkpoints and start over" },
    { NULL }
};

static const struct gr_option pretrain_opts[] = {
    { "steps", OPT_INT, "2000", 1, 10000000, NULL, "optimizer steps to train for (in total, when resuming)" },
    { "batch", OPT_INT, "16", 1, 4096, NULL, "sequences per micro-batch" },
    { "accum", OPT_INT, "1", 1, 1024, NULL, "micro-batches per optimizer step (gradient accumulation)" },
    { "context", OPT_INT, NULL, 8, 8192, NULL, "sequence length (default: the model's context)" },
    { "lr", OPT_FLOAT, "1e-3", 0, 1, NULL, "peak learning rate" },
    { "warmup", OPT_INT, "100", 0, 10000000, NULL, "steps of linear warm-up" },
    { "min_lr", OPT_FLOAT, NULL, 0, 1, NULL, "learning rate at the end of the cosine decay (default lr/10)" },
    { "weight_decay", OPT_FLOAT, "0.1", 0, 10, NULL, "AdamW weight decay, on matrices only" },
    { "beta1", OPT_FLOAT, "0.9", 0, 0.99999, NULL, "AdamW beta1" },
    { "beta2", OPT_FLOAT, "0.95", 0, 0.99999, NULL, "AdamW beta2" },
    { "grad_clip", OPT_FLOAT, "1.0", 0, 1e6, NULL, "clip the global gradient norm to this (0: off)" },
    { "objective", OPT_CHOICE, "next", NOR, "next|masked", "next-token prediction, or masked language modelling" },
    { "eval_every", OPT_INT, "100", 0, 10000000, NULL, "steps between evaluations on the held-out split (0: only at the end)" },
    { "eval_batches", OPT_INT, "8", 1, 100000, NULL, "batches per evaluation" },
    { "eval_samples", OPT_INT, "0", 0, 16, NULL, "short samples to generate at each evaluation, shown live by the curses application (next-token objective only)" },
    { "save_every", OPT_INT, "500", 0, 10000000, NULL, "steps between checkpoints (0: only at the end)" },
    { "resume", OPT_BOOL, "false", NOR, NULL, "continue from the newest base checkpoint's optimizer and data position" },
    { "stop_at", OPT_INT, NULL, 1, 10000000, NULL, "stop at this step with a checkpoint, as if interrupted (resume later)" },
    { "seed", OPT_INT, NULL, 0, 2147483647, NULL, "seed for batches and masking (default: the workspace's)" },
    { "profile", OPT_BOOL, "false", NOR, NULL, "time each kind of layer (matmuls, attention, norms, activations, loss, optimizer, data) and print its share of the step time at the end" },
    { "precision", OPT_CHOICE, "auto", NOR, "auto|fp32|bf16", "matrix products in bf16 (oneDNN; weights, gradients and optimizer stay fp32: about twice fp32's speed, and the held-out loss within 0.2% of fp32's in our runs) or in fp32; auto: bf16 where the CPU has AMX and garage was built with oneDNN, else fp32 (bf16 also runs on CPUs with AVX512-BF16 alone)" },
    { NULL }
};

static const struct gr_option sample_opts[] = {
    { "prompt", OPT_STRING, "", NOR, NULL, "text the answers continue" },
    { "count", OPT_INT, "1", 1, 1000, NULL, "how many samples" },
    { "max_tokens", OPT_INT, "200", 1, 100000, NULL, "stop after this many new tokens" },
    { "temperature", OPT_FLOAT, "0.8", 0, 10, NULL, "sampling temperature (0: always the likeliest token)" },
    { "top_k", OPT_INT, "40", 0, 65536, NULL, "sample among the k likeliest tokens (0: all)" },
    { "top_p", OPT_FLOAT, "0.95", 0, 1, NULL, "nucleus sampling: smallest set with this much probability" },
    { "repetition_penalty", OPT_FLOAT, "1.0", 0.5, 5, NULL, "divide the scores of tokens already present (1: off)" },
    { "seed", OPT_INT, NULL, 0, 2147483647, NULL, "seed (default: the workspace's)" },
    { "checkpoint", OPT_PATH, NULL, NOR, NULL, "checkpoint to sample from (default: the newest)" },
    { "precision", OPT_CHOICE, "auto", NOR, "auto|fp32|bf16", "weights as generation reads them: bf16 halves the bytes read per token, which bound one sequence's speed (the text differs a little from fp32's); auto: bf16 where the CPU has AVX-512" },
    { NULL }
};

/* sft: demonstrations */
static const struct gr_option demos_opts[] = {
    { "import", OPT_PATHS, NULL, NOR, NULL, "JSONL files to add: {\"prompt\", \"completion\"} or chat {\"messages\": [...]} lines" },
    { "strict", OPT_BOOL, "false", NOR, NULL, "import nothing when any line is bad (default: skip bad lines with a notice)" },
    { "add", OPT_BOOL, "false", NOR, NULL, "add one demonstration from prompt= and answer=" },
    { "prompt", OPT_STRING, NULL, NOR, NULL, "the person's message, for add" },
    { "answer", OPT_STRING, NULL, NOR, NULL, "the answer the model should learn to give, for add" },
    { "list", OPT_BOOL, "false", NOR, NULL, "print every stored demonstration, numbered" },
    { "export", OPT_PATH, NULL, NOR, NULL, "write every stored demonstration to this JSONL file" },
    { "format", OPT_CHOICE, "chat", NOR, "chat|completion", "export format: chat messages, or prompt/completion (single-turn only)" },
    { "delete", OPT_INT, NULL, 1, 1e9, NULL, "remove demonstration number N (as numbered by list)" },
    { NULL }
};

/* sft: supervised fine-tuning */
static const struct gr_option sft_opts[] = {
    { "steps", OPT_INT, "300", 1, 10000000, NULL, "optimizer steps to train for (in total, when resuming)" },
    { "epochs", OPT_FLOAT, NULL, 0.01, 100000, NULL, "instead of steps: passes over the training demonstrations" },
    { "batch", OPT_INT, "8", 1, 4096, NULL, "sequences per step" },
    { "lr", OPT_FLOAT, "5e-4", 0, 1, NULL, "peak learning rate" },
    { "warmup", OPT_INT, "20", 0, 10000000, NULL, "steps of linear warm-up" },
    { "min_lr", OPT_FLOAT, NULL, 0, 1, NULL, "learning rate at the end of the cosine decay (default lr/10)" },
    { "weight_decay", OPT_FLOAT, "0.0", 0, 10, NULL, "AdamW weight decay, on matrices only" },
    { "beta1", OPT_FLOAT, "0.9", 0, 0.99999, NULL, "AdamW beta1" },
    { "beta2", OPT_FLOAT, "0.95", 0, 0.99999, NULL, "AdamW beta2" },
    { "grad_clip", OPT_FLOAT, "1.0", 0, 1e6, NULL, "clip the global gradient norm to this (0: off)" },
    { "val_fraction", OPT_FLOAT, "0.1", 0, 0.5, NULL, "share of demonstrations held out for the validation loss (chosen by seed)" },
    { "mix", OPT_FLOAT, "0", 0, 0.9, NULL, "share of each batch drawn from the pretraining corpus, to limit forgetting" },
    { "eval_every", OPT_INT, "50", 0, 10000000, NULL, "steps between validation losses (0: only at the start and the end)" },
    { "save_every", OPT_INT, "0", 0, 10000000, NULL, "steps between checkpoints (0: only at the end)" },
    { "checkpoint", OPT_PATH, NULL, NOR, NULL, "base checkpoint to start from (default: the newest)" },
    { "resume", OPT_BOOL, "false", NOR, NULL, "continue the newest sft checkpoint with its optimizer and data position" },
    { "replace", OPT_BOOL, "false", NOR, NULL, "delete the existing sft checkpoints and start over from the base" },
    { "stop_at", OPT_INT, NULL, 1, 10000000, NULL, "stop at this step with a checkpoint, as if interrupted (resume later)" },
    { "seed", OPT_INT, NULL, 0, 2147483647, NULL, "seed for the split, the order and the mix (default: the workspace's)" },
    { "precision", OPT_CHOICE, "auto", NOR, "auto|fp32|bf16", "matrix products in bf16 (oneDNN; weights, gradients and optimizer stay fp32) or in fp32; auto: bf16 where the CPU has AMX and garage was built with oneDNN, else fp32" },
    { NULL }
};

/* sft: chat */
static const struct gr_option chat_opts[] = {
    { "checkpoint", OPT_PATH, NULL, NOR, NULL, "checkpoint file, or base, sft or tuned for the newest of a kind (default: the newest of tuned, sft, base)" },
    { "prompt", OPT_STRING, NULL, NOR, NULL, "answer this one message and leave" },
    { "temperature", OPT_FLOAT, "0.7", 0, 10, NULL, "sampling temperature (0: always the likeliest token)" },
    { "top_k", OPT_INT, "40", 0, 65536, NULL, "sample among the k likeliest tokens (0: all)" },
    { "top_p", OPT_FLOAT, "0.95", 0, 1, NULL, "nucleus sampling: smallest set with this much probability" },
    { "repetition_penalty", OPT_FLOAT, "1.1", 0.5, 5, NULL, "divide the scores of tokens already in the conversation (1: off)" },
    { "max_tokens", OPT_INT, "200", 1, 100000, NULL, "longest answer, in tokens" },
    { "precision", OPT_CHOICE, "auto", NOR, "auto|fp32|bf16", "weights as generation reads them: bf16 halves the bytes read per token, which bound one sequence's speed (the text differs a little from fp32's); auto: bf16 where the CPU has AVX-512" },
    { "seed", OPT_INT, NULL, 0, 2147483647, NULL, "seed for sampling (default: the workspace's)" },
    { NULL }
};

/* reward: ranking, preferences, the reward model */
static const struct gr_option rank_opts[] = {
    { "prompts", OPT_PATH, NULL, NOR, NULL, "file of prompts, one per line ('#' comments) or JSONL with a prompt field (default: the prompts.txt garage ships)" },
    { "count", OPT_INT, "0", 0, 1000000000, NULL, "rank the first COUNT prompts of the file (0: all); prompts ranked already are not asked again" },
    { "answers", OPT_INT, "4", 2, 9, NULL, "answers sampled per prompt (exact duplicates are resampled)" },
    { "labeler", OPT_CHOICE, "human", NOR, "human|rule", "who ranks: a person at the terminal, or the rule below (headless)" },
    { "prefer", OPT_STRINGS, NULL, NOR, NULL, "rule: +1 for each of these words an answer contains" },
    { "avoid", OPT_STRINGS, NULL, NOR, NULL, "rule: -1 for each of these words an answer contains" },
    { "must_contain", OPT_STRINGS, NULL, NOR, NULL, "rule: -100 for each of these words an answer lacks" },
    { "target_length", OPT_INT, "0", 0, 1000000, NULL, "rule: up to -1 for an answer's distance from this many characters (0: off)" },
    { "ratings", OPT_BOOL, "false", NOR, NULL, "human: also ask for a 0-5 rating of each answer" },
    { "max_tokens", OPT_INT, "64", 1, 100000, NULL, "longest answer, in tokens" },
    { "temperature", OPT_FLOAT, "1.0", 0, 10, NULL, "sampling temperature (0: always the likeliest token)" },
    { "top_k", OPT_INT, "0", 0, 65536, NULL, "sample among the k likeliest tokens (0: all)" },
    { "top_p", OPT_FLOAT, "0.95", 0, 1, NULL, "nucleus sampling: smallest set with this much probability" },
    { "repetition_penalty", OPT_FLOAT, "1.0", 0.5, 5, NULL, "divide the scores of tokens already in the answer (1: off)" },
    { "precision", OPT_CHOICE, "auto", NOR, "auto|fp32|bf16", "weights as the answers are sampled with: bf16 halves the bytes read, and with more than 4 answers on a CPU with AMX runs their products on AMX tiles (the answers differ a little from fp32's); auto: bf16 where the CPU has AVX-512" },
    { "seed", OPT_INT, NULL, 0, 2147483647, NULL, "seed for the answers (default: the workspace's); each prompt's answers depend only on it and the prompt" },
    { "checkpoint", OPT_PATH, NULL, NOR, NULL, "model that writes the answers (default: the newest sft, else base)" },
    { NULL }
};

static const struct gr_option prefs_opts[] = {
    { "import", OPT_PATHS, NULL, NOR, NULL, "JSONL files of {\"prompt\", \"chosen\", \"rejected\"} to add to the labels" },
    { "export", OPT_PATH, NULL, NOR, NULL, "write every preference pair the labels imply to this JSONL file" },
    { NULL }
};

static const struct gr_option reward_opts[] = {
    { "epochs", OPT_INT, "2", 1, 100000, NULL, "passes over the training labels" },
    { "batch", OPT_INT, "8", 1, 4096, NULL, "labels (rankings) per step; every pair of a label is in the same step" },
    { "lr", OPT_FLOAT, "3e-4", 0, 1, NULL, "peak learning rate" },
    { "min_lr", OPT_FLOAT, NULL, 0, 1, NULL, "learning rate at the end of the cosine decay (default lr/10)" },
    { "warmup", OPT_INT, "10", 0, 10000000, NULL, "steps of linear warm-up" },
    { "weight_decay", OPT_FLOAT, "0.0", 0, 10, NULL, "AdamW weight decay, on the trunk's matrices" },
    { "grad_clip", OPT_FLOAT, "1.0", 0, 1e6, NULL, "clip the global gradient norm to this (0: off)" },
    { "held_out", OPT_FLOAT, "0.2", 0, 0.9, NULL, "share of prompts whose labels are held out to measure accuracy (chosen by seed)" },
    { "attention", OPT_CHOICE, "auto", NOR, "auto|causal|bidirectional", "how the trunk reads: left to right, or both ways (for a masked-LM trunk); auto: both ways when the starting checkpoint was pretrained with objective=masked" },
    { "init", OPT_PATH, NULL, NOR, NULL, "trunk to start from (default: the newest sft, else base checkpoint)" },
    { "labels", OPT_PATH, NULL, NOR, NULL, "rankings to train on (default: labels/rankings.jsonl)" },
    { "eval_every", OPT_INT, "0", 0, 10000000, NULL, "steps between evaluations (0: after each epoch)" },
    { "save_every", OPT_INT, "0", 0, 10000000, NULL, "steps between checkpoints (0: only at the end)" },
    { "stop_at", OPT_INT, NULL, 1, 10000000, NULL, "stop at this step with a checkpoint, as if interrupted" },
    { "seed", OPT_INT, NULL, 0, 2147483647, NULL, "seed for the split, the order and the head (default: the workspace's)" },
    { "precision", OPT_CHOICE, "auto", NOR, "auto|fp32|bf16", "matrix products in bf16 (oneDNN; weights, gradients and optimizer stay fp32) or in fp32; auto: bf16 where the CPU has AMX and garage was built with oneDNN, else fp32" },
    { "score", OPT_BOOL, "false", NOR, NULL, "score answers instead of training: reward score PROMPT ANSWER..." },
    { "prompt", OPT_STRING, NULL, NOR, NULL, "score: the prompt (default: the first bare word)" },
    { "answers", OPT_STRINGS, NULL, NOR, NULL, "score: the answers to score" },
    { "explain", OPT_BOOL, "false", NOR, NULL, "score: show the answers side by side, ranked, with probes" },
    { "checkpoint", OPT_PATH, NULL, NOR, NULL, "score: reward model to use (default: the newest)" },
    { NULL }
};

/* tune: reward-guided fine-tuning (PPO) and its evaluation */
#define TUNE_RULE_OPTS \
    { "prefer", OPT_STRINGS, NULL, NOR, NULL, "rule: +1 for each of these words an answer contains (as for rank labeler=rule)" }, \
    { "avoid", OPT_STRINGS, NULL, NOR, NULL, "rule: -1 for each of these words an answer contains" }, \
    { "must_contain", OPT_STRINGS, NULL, NOR, NULL, "rule: -100 for each of these words an answer lacks" }, \
    { "target_length", OPT_INT, "0", 0, 1000000, NULL, "rule: up to -1 for an answer's distance from this many characters (0: off)" }
static const struct gr_option tune_opts[] = {
    { "steps", OPT_INT, "100", 1, 10000000, NULL, "PPO iterations (in total, when resuming); each samples batch answers" },
    { "prompts", OPT_PATH, NULL, NOR, NULL, "file of prompts to answer, as for rank (default: the prompts.txt garage ships)" },
    { "batch", OPT_INT, "16", 1, 1024, NULL, "answers sampled per iteration (one per prompt)" },
    { "minibatch", OPT_INT, "4", 1, 1024, NULL, "answers per gradient step" },
    { "ppo_epochs", OPT_INT, "4", 1, 100, NULL, "passes over each iteration's answers" },
    { "lr", OPT_FLOAT, "1e-5", 0, 1, NULL, "learning rate (constant)" },
    { "kl_coef", OPT_FLOAT, "0.05", 0, 100, NULL, "initial coefficient of the per-token KL penalty to the reference" },
    { "target_kl", OPT_FLOAT, "6", 0, 1000, NULL, "KL per answer (nats) the adaptive controller steers towards (0: keep kl_coef fixed)" },
    { "kl_horizon", OPT_FLOAT, "1000", 1, 1e9, NULL, "answers over which the controller may change kl_coef by about 20%" },
    { "kl_bound", OPT_FLOAT, "12", 0, 1e6, NULL, "warn when the KL per answer goes above this (0: never)" },
    { "kl_stop", OPT_FLOAT, "60", 0, 1e6, NULL, "stop when the KL per answer goes above this, keeping the last good checkpoint (0: never)" },
    { "clip", OPT_FLOAT, "0.2", 0, 10, NULL, "PPO clip range of the probability ratio" },
    { "value_clip", OPT_FLOAT, "0.2", 0, 1e6, NULL, "clip range of the value change around the old value (0: no clipping)" },
    { "vf_coef", OPT_FLOAT, "0.1", 0, 100, NULL, "weight of the value loss (the value head shares the policy's trunk)" },
    { "gamma", OPT_FLOAT, "1.0", 0, 1, NULL, "discount per token" },
    { "lambda", OPT_FLOAT, "0.95", 0, 1, NULL, "GAE lambda" },
    { "max_answer_tokens", OPT_INT, "48", 1, 100000, NULL, "longest answer, in tokens (its closing <|end|> included)" },
    { "temperature", OPT_FLOAT, "1.0", 0.05, 10, NULL, "sampling temperature; the policy optimised is softmax(logits/temperature)" },
    { "cutoff_penalty", OPT_FLOAT, "1.0", 0, 100, NULL, "subtracted from the reward of an answer cut off at max_answer_tokens without <|end|>" },
    { "ptx_coef", OPT_FLOAT, "0", 0, 1000, NULL, "PPO-ptx: weight of the next-token loss on corpus text added to each update, to keep the language model (0: off)" },
    { "ptx_batch", OPT_INT, "4", 1, 1024, NULL, "PPO-ptx: context-long windows of the corpus per update" },
    { "grad_clip", OPT_FLOAT, "1.0", 0, 1e6, NULL, "clip the global gradient norm to this (0: off)" },
    { "weight_decay", OPT_FLOAT, "0.0", 0, 10, NULL, "AdamW weight decay, on matrices only" },
    { "save_every", OPT_INT, "10", 0, 10000000, NULL, "iterations between checkpoints (0: only at the end)" },
    { "show_every", OPT_INT, "10", 1, 10000000, NULL, "iterations between rows of the table of sample answers" },
    { "show", OPT_INT, "3", 0, 1024, NULL, "sample answers per row of that table (0: none)" },
    { "compare", OPT_BOOL, "true", NOR, NULL, "after each iteration, the reference and the tuned model answer one of its prompts from the same seed, both scored (logged; side by side in the curses application)" },
    { "precision", OPT_CHOICE, "auto", NOR, "auto|fp32|bf16", "bf16: the updates' matrix products in bf16 (oneDNN; weights, gradients and optimizer stay fp32), and the answers sampled with bf16 weights (half the bytes read; with more than 4 answers on a CPU with AMX, their products on AMX tiles); fp32: both in fp32; auto: bf16 updates where the CPU has AMX and garage was built with oneDNN, bf16 sampling where it has AVX-512" },
    { "checkpoint", OPT_PATH, NULL, NOR, NULL, "model to start from, also the frozen reference (default: the newest sft, else base)" },
    { "reward", OPT_PATH, NULL, NOR, NULL, "reward model (default: the newest reward checkpoint)" },
    { "resume", OPT_BOOL, "false", NOR, NULL, "continue the newest tuned checkpoint: policy, value head, optimizer, KL controller, prompt position" },
    { "replace", OPT_BOOL, "false", NOR, NULL, "delete the existing tuned checkpoints and start over" },
    { "stop_at", OPT_INT, NULL, 1, 10000000, NULL, "stop at this iteration with a checkpoint, as if interrupted (resume later)" },
    { "seed", OPT_INT, NULL, 0, 2147483647, NULL, "seed for the sampling, the shuffles and the prompt order (default: the workspace's)" },
    TUNE_RULE_OPTS,
    { NULL }
};

static const struct gr_option eval_opts[] = {
    { "prompts", OPT_PATH, NULL, NOR, NULL, "held-out prompts (default: the prompts-eval.txt garage ships)" },
    { "against", OPT_PATH, NULL, NOR, NULL, "reference checkpoint (default: the one the tuned model was tuned against)" },
    { "checkpoint", OPT_PATH, NULL, NOR, NULL, "tuned checkpoint (default: the newest)" },
    { "reward", OPT_PATH, NULL, NOR, NULL, "reward model that judges (default: the newest)" },
    { "count", OPT_INT, "0", 0, 1000000000, NULL, "use the first COUNT prompts (0: all)" },
    { "max_answer_tokens", OPT_INT, "48", 1, 100000, NULL, "longest answer, in tokens" },
    { "temperature", OPT_FLOAT, "1.0", 0.05, 10, NULL, "sampling temperature of both models" },
    { "batch", OPT_INT, "16", 1, 1024, NULL, "prompts answered at once" },
    { "seed", OPT_INT, NULL, 0, 2147483647, NULL, "seed of the answers, the same for both models (default: the workspace's)" },
    { "show", OPT_INT, "3", 0, 1000000, NULL, "print the answers of both models to this many prompts" },
    { "bpb", OPT_BOOL, "true", NOR, NULL, "also measure bits per byte of both on the corpus's held-out split" },
    { "bpb_windows", OPT_INT, "64", 1, 1000000, NULL, "context-long windows of the held-out split for bits per byte" },
    { "kl_bound", OPT_FLOAT, NULL, 0, 1e6, NULL, "warn when the KL to the reference is above this" },
    { "precision", OPT_CHOICE, "auto", NOR, "auto|fp32|bf16", "weights both models' answers are sampled with, as chat reads them: bf16 halves the bytes read, and with more than 4 answers on a CPU with AMX runs their products on AMX tiles (the answers differ a little from fp32's; the KL and bits per byte are measured in fp32 either way); auto: bf16 where the CPU has AVX-512" },
    TUNE_RULE_OPTS,
    { NULL }
};

static const struct gr_option info_opts[] = {
    { "checkpoint", OPT_PATH, NULL, NOR, NULL, "checkpoint file to describe" },
    { NULL }
};

static const struct gr_option run_opts[] = {
    { "file", OPT_PATH, NULL, NOR, NULL, "session file (YAML) to run" },
    { "dry_run", OPT_BOOL, "false", NOR, NULL, "validate every step without running any" },
    { "set", OPT_PATHS, NULL, NOR, NULL, "override an option: step.key=value (repeatable)" },
    { "tui", OPT_BOOL, "false", NOR, NULL, "show each step's screen live in the curses application (needs a terminal)" },
    { NULL }
};

/* repl */
static const struct gr_option repl_opts[] = {
    { "keep_going", OPT_BOOL, "false", NOR, NULL, "in a script, go on after a failing command (the exit status still says it failed)" },
    { NULL }
};

static const struct gr_option help_opts[] = {
    { "command", OPT_STRING, NULL, NOR, NULL, "command to describe" },
    { NULL }
};

const struct gr_command gr_commands[] = {
    { "init", "create a workspace folder", "dir",
      "Creates the workspace layout (garage.yaml, corpus/, checkpoints/, labels/, logs/) "
      "in DIR, which is created if missing.", CMD_NO_SESSION, init_opts, cmd_init },
    { "status", "show each stage of the recipe and what it holds", NULL, NULL,
      CMD_WORKSPACE, NULL, cmd_status },
    { "corpus", "add text to the corpus, or show what it holds", "add",
      "'garage corpus add PATH...' adds files, folders (recursively; hidden entries and "
      "the workspace's own folder are left out, binary files skipped with a notice) "
      "and globs.  Formats: plain text, fortune files (records "
      "separated by '%' lines) and JSONL with a text field.  'garage corpus info' prints "
      "statistics; 'garage corpus clear' empties it.", CMD_WORKSPACE, corpus_opts, stage_corpus },
    { "tokenizer", "train the byte-level BPE tokenizer and encode the corpus", NULL,
      "Trains a byte-level BPE vocabulary with GPT-2's pre-tokenization on the training "
      "split, then encodes both splits into token shards under corpus/.",
      CMD_WORKSPACE, tokenizer_opts, stage_tokenizer },
    { "model", "create a new GPT model (the base checkpoint at step 0)", NULL,
      "Creates checkpoints/base-000000.ckpt: a GPT-2 style model (pre-LayerNorm, learned "
      "positions, GELU MLP, tied embeddings) with the tokenizer's vocabulary.",
      CMD_WORKSPACE, model_opts, stage_model },
    { "pretrain", "train the language model on the corpus", NULL,
      "AdamW with linear warm-up and cosine decay, gradient clipping and accumulation. "
      "Evaluates bits per byte on the held-out split every eval_every steps, writes "
      "metrics to logs/, and checkpoints to checkpoints/base-STEP.ckpt.",
      CMD_WORKSPACE, pretrain_opts, stage_pretrain },
    { "sample", "generate text from a checkpoint", NULL, NULL,
      CMD_WORKSPACE, sample_opts, stage_sample },
    /* sft */
    { "demos", "import, add, list, export or delete demonstrations", "import",
      "Demonstrations are conversations with the answers the model should give; "
      "'garage sft' trains on them.  They live in labels/demos.jsonl, one per line, each "
      "appended with its own fsync.  'garage demos import FILE...' reads JSON Lines of "
      "{\"prompt\": ..., \"completion\": ...} or {\"messages\": [{\"role\": \"user\", "
      "\"content\": ...}, {\"role\": \"assistant\", \"content\": ...}, ...]} (several turns "
      "allowed); every line is checked before any is stored, a bad line is reported as "
      "FILE:LINE: reason and skipped (strict=true: nothing is imported), and demonstrations "
      "stored already are skipped.  'garage demos add prompt=... answer=...' adds one; "
      "'garage demos list' numbers them; 'garage demos delete=N' removes one; "
      "'garage demos export=FILE' writes them all.",
      CMD_WORKSPACE, demos_opts, stage_demos },
    { "sft", "fine-tune the model on the demonstrations (supervised)", NULL,
      "Starts from the newest base checkpoint (or continues the newest sft one with "
      "resume=true) and trains on labels/demos.jsonl, each conversation encoded with the "
      "chat template (<|user|> text <|end|> <|assistant|> text <|end|>), with the loss on "
      "the assistant's tokens only.  A share val_fraction of the demonstrations, chosen "
      "by seed, is held out: its loss per answer token is reported at the start, every "
      "eval_every steps and at the end.  Conversations longer than the model's context "
      "are cut.  mix draws that share of each batch from the pretraining corpus, so the "
      "model keeps its general text.  Writes metrics to logs/ and checkpoints to "
      "checkpoints/sft-STEP.ckpt.", CMD_WORKSPACE, sft_opts, stage_sft },
    { "chat", "talk with the model at a prompt", "checkpoint",
      "A GNU Readline prompt (history in the workspace's .garage_chat_history) where "
      "each message gets an answer streamed token by token, with the conversation so far "
      "as context; when it no longer fits the model's context the oldest turns are "
      "dropped, with a notice.  Ctrl-C stops an answer, Ctrl-D leaves.  Slash commands: "
      "/temp X, /top_k N, /top_p P, /seed N, /max_tokens N, /reset, /save FILE (the "
      "conversation as JSONL messages, which 'garage demos import' reads), /model CKPT, "
      "/help.  When standard input is not a terminal, each line is one message and each "
      "answer is one line on standard output, with its newlines turned into spaces; "
      "lines starting with / are slash commands, answered on standard error.  "
      "prompt=TEXT answers one message and leaves.", CMD_WORKSPACE, chat_opts, stage_chat },
    /* reward */
    { "rank", "sample answers to prompts and rank them (the labels of the reward model)",
      NULL,
      "For each prompt of the file not ranked yet, samples several answers from the newest "
      "sft (else base) model, exact duplicates resampled, and asks the labeler to rank "
      "them.  labeler=human shows the prompt and numbered answers and reads an order such "
      "as '3 1 2 4' (best first; 't' between two answers ties them, as in '3 1t2 4'), or "
      "'s' to skip, 'b' if all are bad, 'e' to write a better answer (stored as a "
      "demonstration and ranked first), 'r 5 3 4 0' to rate each answer 0-5 instead, 'q' "
      "to stop.  labeler=rule ranks by a fixed rule, for headless runs: +1 for each "
      "prefer word an answer contains, -1 for each avoid word, -100 for each missing "
      "must_contain word (whole words, any case), minus min(1, |length - target_length| / "
      "target_length) in tenths; equal scores are ties (each label records the rule).  Each "
      "label is appended to labels/rankings.jsonl with its own fsync before the next prompt is shown; running "
      "the step again resumes where it stopped.  A prompt with fewer than two usable "
      "answers is skipped with a notice.", CMD_WORKSPACE, rank_opts, stage_rank },
    { "prefs", "import or export preference pairs (JSONL prompt/chosen/rejected)", NULL,
      "'garage prefs import=FILE' adds each {\"prompt\", \"chosen\", \"rejected\"} line to "
      "labels/rankings.jsonl as a two-answer label (bad lines are named and skipped, pairs "
      "already there are not added twice).  'garage prefs export=FILE' writes every pair "
      "the labels imply: each answer over every answer ranked below it and not tied with "
      "it, and a written or demonstrated answer over each sampled answer to its prompt.  "
      "With neither, prints a summary of the labels.", CMD_WORKSPACE, prefs_opts, stage_prefs },
    { "reward", "train the reward model on the rankings, or score answers with it", "answers",
      "Trains a GPT trunk (from the newest sft, else base checkpoint) with a scalar head "
      "read at the answer's final <|end|> on every pair the rankings imply, with the "
      "Bradley-Terry loss -log sigmoid(r_chosen - r_rejected) averaged per ranking so "
      "that each ranking counts once.  Prompts are split into training and held-out sets; "
      "reports pair accuracy on both, the margin, the scores of chosen and rejected "
      "answers and of fixed probe texts (very short, very long, repeated words, the "
      "prompt echoed), writes metrics to logs/ and checkpoints/reward-STEP.ckpt, "
      "normalised so the ranked model's answers score 0 on average.  'garage reward "
      "score PROMPT ANSWER...' prints the score of each answer; --explain shows them "
      "side by side with probes.", CMD_WORKSPACE, reward_opts, stage_reward },
    /* tune */
    { "tune", "fine-tune the model with the reward model (PPO with a KL penalty)", NULL,
      "Reward-guided fine-tuning as in InstructGPT.  The policy starts from the newest sft "
      "(else base) checkpoint; a frozen copy of it is the reference.  Each iteration "
      "samples one answer to each of batch prompts (the prompt file shuffled anew each "
      "pass, all answers generated together with the key-value cache), scores each "
      "finished answer with the reward model (an answer cut off at max_answer_tokens "
      "without <|end|> loses cutoff_penalty), adds a per-token penalty "
      "kl_coef * (log pi - log pi_ref), computes GAE advantages (gamma, lambda), whitens "
      "them, and takes ppo_epochs passes over the answers in shuffled minibatches with "
      "the clipped policy loss, the clipped value loss and gradient clipping.  An "
      "adaptive controller moves kl_coef towards target_kl.  The value function is a "
      "linear head on the policy's own trunk, not a second trunk initialised from the "
      "reward model as in InstructGPT: on a CPU a second trunk would double the update's "
      "cost and memory, while the head rides on the forward pass the policy needs "
      "anyway (vf_coef keeps its pull on the trunk small).  Every iteration reports "
      "reward, KL, entropy, the losses, clip fraction, approximate KL, answer length, "
      "the share closed with <|end|>, kl_coef, the time spent sampling, scoring and "
      "updating, and tokens per second; every show_every iterations a few prompts with "
      "their answers and rewards.  Warnings say when the KL is negative or above "
      "kl_bound, when the reward rises while the rule (prefer, avoid, must_contain, "
      "target_length, when given) falls, and when answer length drifts.  A KL above "
      "kl_stop stops the run and sets aside the checkpoint that caused it.  Checkpoints "
      "checkpoints/tuned-ITER.ckpt hold the policy, value head, optimizer, RNG, KL "
      "controller and prompt position: resume=true continues bit for bit.",
      CMD_WORKSPACE, tune_opts, stage_tune },
    { "eval", "compare the tuned model with its reference on held-out prompts", NULL,
      "Both models answer each held-out prompt (same seed).  Prints and logs the mean "
      "reward of each, the reward model's win rate of the tuned model (ties count half), "
      "the rule's win rate when a rule is given (prefer, avoid, must_contain, "
      "target_length: use the ones the rankings were made with), the KL of the tuned "
      "model to the reference on its answers, answer lengths, the share closed with "
      "<|end|>, and bits per byte of both on the corpus's held-out split.",
      CMD_WORKSPACE, eval_opts, stage_eval },
    { "info", "describe a checkpoint: config, parameters, step", "checkpoint", NULL,
      0, info_opts, stage_info },
    { "run", "run a session file (YAML) headless", "file",
      "Runs the steps of a session file in order; see garage-session(5).",
      CMD_NO_SESSION, run_opts, cmd_run },
    /* repl */
    { "repl", "a prompt for every command, with completion and history", NULL,
      "Reads commands at a GNU Readline prompt that shows the workspace and the next "
      "stage of the recipe: every command of garage with its options as key=value, "
      "'help', 'source FILE.yaml' (a session), 'save-session FILE.yaml' (what changed "
      "the workspace so far, as a session), 'exit'.  Tab completes commands, options, "
      "values, paths and checkpoints; history is kept in the workspace's .garage_history.  "
      "When standard input is not a terminal it is a script: one command a line, # "
      "comments, stopping at the first failing command unless keep_going is true.  "
      "See garage(1).", CMD_NO_SESSION, repl_opts, cmd_repl },
    /* tui */
    { "tui", "open the curses application (also: garage with no arguments)", NULL,
      "Opens the full-screen application: the recipe's stages with their state, a "
      "settings panel for each, live charts while training, ranking with keystrokes "
      "and chat.  '?' shows the keys of each screen; ':' takes any command.  With -C "
      "DIR it works in that workspace, and offers to create one where there is none.",
      CMD_NO_SESSION, NULL, cmd_tui },
    { "help", "list commands, or describe one", "command", NULL,
      CMD_NO_SESSION, help_opts, cmd_help },
    { NULL }
};

static enum gr_status
cmd_init(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err)
{
    const char *dir = args_str(a, "dir");
    if (!args_isset(a, "dir") && ctx->dir)
        dir = ctx->dir;
    enum gr_status rc = workspace_init(dir, (uint64_t)args_int(a, "seed"), err);
    if (rc == GR_OK)
        ctx_printf(ctx, "Created a garage workspace in %s\n", dir);
    return rc;
}

static enum gr_status
cmd_help(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err)
{
    const char *name = args_str(a, "command");
    char *text;
    if (name) {
        const struct gr_command *cmd = command_find(name);
        if (!cmd) {
            const char *near = command_nearest(name);
            return gr_fail(err, GR_EUSAGE, "unknown command '%s' (did you mean '%s'?)",
                           name, near ? near : "help");
        }
        text = command_help(cmd);
    } else {
        text = command_help_all();
    }
    ctx_printf(ctx, "%s", text);
    free(text);
    return GR_OK;
}

/* tui: the front end runs it (ui/tui/); here only by mistake. */
static enum gr_status
cmd_tui(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err)
{
    (void)ctx;
    (void)a;
    return gr_fail(err, GR_EUSAGE, "'tui' needs the terminal front end: run 'garage tui' "
                   "(or 'garage' alone) in a terminal");
}

/* repl: the front end runs it (ui/repl.c); here only by mistake. */
static enum gr_status
cmd_repl(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err)
{
    (void)ctx;
    (void)a;
    return gr_fail(err, GR_EUSAGE, "'repl' needs a terminal front end: run 'garage repl'");
}

static enum gr_status
cmd_status(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err)
{
    (void)a;
    return workspace_status(ctx, err);
}

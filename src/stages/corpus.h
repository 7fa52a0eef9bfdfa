/* corpus.h: the corpus store: the documents a workspace trains on.
 *
 * Files under the workspace's corpus/ folder:
 *
 *   docs.bin       every document's bytes, concatenated, as read (raw bytes:
 *                  invalid UTF-8 is kept as it is)
 *   docs.idx       header, ndocs+1 uint64 offsets into docs.bin, one uint32
 *                  source id per document, checksum (layout in corpus.c)
 *   manifest.json  the sources (path, format, documents, bytes, files,
 *                  skipped files), val_fraction and counts, for people and
 *                  other tools; docs.idx is the authority
 *
 * docs.idx is the commit point.  An add appends to docs.bin past the
 * committed end (first cutting away whatever a crash left there), syncs
 * it, writes manifest.json and then docs.idx atomically; any error before
 * that last rename puts docs.bin and manifest.json back, so the previous
 * corpus is left as it was.  Readers use only the bytes docs.idx names.
 *
 * Documents are split into training and validation by document index:
 * see corpus_split_init. */
#ifndef GR_CORPUS_H
#define GR_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/fsio.h"
#include "base/metrics.h"

struct workspace;

/* Plain-text files larger than this are cut into documents at blank
 * lines (paragraphs), so the split by document means something. */
#define CORPUS_TEXT_CHUNK (64 * 1024)

enum corpus_format {
    CORPUS_AUTO,
    CORPUS_TEXT,        /* a whole file is one document (cut when large) */
    CORPUS_FORTUNE,     /* records separated by lines holding only "%" */
    CORPUS_JSONL,       /* one JSON object per line, the text in a field (a
                         * .json file may hold one array of them, or one) */
};

/* "auto", "text", "fortune", "jsonl". */
const char *corpus_format_name(enum corpus_format f);
/* 0 and *out on success, -1 for an unknown name. */
int corpus_format_parse(const char *name, enum corpus_format *out);

/* Format of the file at path holding the n bytes at data: .jsonl/.json
 * or a first non-blank line that is a JSON object -> jsonl; two lines
 * holding only "%" (or one, beside a strfile index path.dat) -> fortune;
 * else text. */
enum corpus_format corpus_detect_format(const char *path, const void *data,
                                        size_t n);

/* 1 if the first 8 KB of data hold a NUL byte or mostly control bytes. */
int corpus_is_binary(const void *data, size_t n);

/* ---- the train/validation split --------------------------------------- */

/* Document i is validation iff rng_hash64(seed, i) < val_fraction * 2^64;
 * but with ndocs >= 2 there is always at least one validation document
 * (the one with the smallest hash) and one training document (the one
 * with the largest).  Adding documents keeps earlier ones where they
 * were, except for those two guarantees.  O(ndocs) to set up. */
struct corpus_split {
    uint64_t seed;
    uint64_t threshold;         /* val_fraction * 2^64 */
    size_t force_val;           /* SIZE_MAX: none */
    size_t force_train;         /* SIZE_MAX: none */
};
void corpus_split_init(struct corpus_split *s, uint64_t seed,
                       double val_fraction, size_t ndocs);
int corpus_split_is_val(const struct corpus_split *s, size_t i);

/* ---- reading a stored corpus ------------------------------------------- */

struct corpus {
    const unsigned char *text;  /* all documents (nbytes), memory-mapped */
    const uint64_t *offs;       /* (ndocs+1): document i is text[offs[i]..offs[i+1]) */
    const uint32_t *src;        /* (ndocs): source id of each document */
    size_t ndocs;
    uint64_t nbytes;
    size_t nsources;
    double val_fraction;
    uint64_t seed;
    struct corpus_split split;
    size_t val_docs;            /* documents in the validation split */
    uint64_t val_bytes;
    struct fs_map bin, idx;
};

/* Open the workspace's corpus.  GR_ESTATE "the corpus is empty: add text
 * with 'garage corpus add PATH'" when it has no documents; GR_ECORRUPT
 * naming the file when docs.idx or docs.bin is damaged. */
enum gr_status corpus_open(struct corpus *c, const struct workspace *ws,
                           struct gr_error *err);
/* The same for the corpus folder dir, splitting with seed. */
enum gr_status corpus_open_dir(struct corpus *c, const char *dir,
                               uint64_t seed, struct gr_error *err);
void corpus_close(struct corpus *c);

/* 1 if document i is in the validation split. */
int corpus_is_val(const struct corpus *c, size_t i);
/* Document i: its bytes, and its length in *len. */
const unsigned char *corpus_doc(const struct corpus *c, size_t i, size_t *len);

/* What `corpus info` reports. */
struct corpus_stats {
    uint64_t ndocs, nbytes, nlines, nwords;
    uint64_t ndups;             /* documents identical to an earlier one */
    uint64_t train_docs, train_bytes, val_docs, val_bytes;
};
void corpus_stats_compute(const struct corpus *c, struct corpus_stats *st);

/* ---- loading files into memory ----------------------------------------- */

/* One path given to add (a file, a folder or a glob). */
struct corpus_source {
    char *path;             /* as given */
    char *key;              /* realpath (the pattern, for a glob): spots a re-add */
    char *format;           /* "text", "fortune", "jsonl", "mixed" or "none" */
    uint64_t ndocs, nbytes;
    uint64_t nfiles;        /* files that gave documents */
    uint64_t nskipped;      /* files skipped: binary, empty, duplicate, index */
    uint64_t nbad;          /* JSONL lines skipped */
};

/* Documents gathered from files.  Set the settings after
 * corpus_load_init, then call corpus_load_paths once. */
struct corpus_load {
    /* settings */
    enum corpus_format format;
    const char *field;              /* JSONL text field; default "text" */
    struct gr_metrics *metrics;     /* notes and progress; may be NULL */
    uint32_t src_base;              /* source id of the first source here */
    char *const *known;             /* keys of sources stored already: */
    size_t nknown;                  /*   such paths are skipped */
    const char *exclude;            /* realpath of a folder never walked into
                                     * (the workspace); NULL: none */
    /* Where text goes: NULL keeps it all in text[]; else text[] is a
     * buffer flushed through sink. */
    enum gr_status (*sink)(void *sctx, const void *p, size_t n,
                           struct gr_error *err);
    void *sctx;

    /* results */
    struct corpus_source *srcs;
    size_t nsrcs;
    uint64_t *offs;         /* (ndocs+1), from 0 at the first byte loaded */
    uint32_t *doc_src;      /* (ndocs) source id, src_base + index in srcs */
    size_t ndocs;
    unsigned char *text;    /* without a sink: all nbytes loaded */
    size_t tlen, tcap;
    uint64_t nbytes;
    uint64_t nskipped;      /* files skipped, all sources */
    size_t nalready;        /* paths skipped as already in the corpus */

    size_t docs_cap;
    void *priv;
};

void corpus_load_init(struct corpus_load *L);
void corpus_load_release(struct corpus_load *L);

/* Read every path (file, folder walked recursively in sorted order, or
 * glob) as documents.  Skips, with a note: binary and empty files, files
 * met already in this call (same realpath: fortune's *.u8 links), strfile
 * indexes (X.dat beside X), bad JSONL lines ("file:line: reason").
 * GR_EINPUT naming the path: missing or unreadable path, a folder or glob
 * with no text files, a JSONL file with no usable line, or no documents
 * at all ("no documents found in ...") unless every path was known. */
enum gr_status corpus_load_paths(struct corpus_load *L, char *const *paths,
                                 size_t npaths, struct gr_error *err);

/* Document i of a load without a sink. */
const unsigned char *corpus_load_doc(const struct corpus_load *L, size_t i,
                                     size_t *len);

/* ---- changing a stored corpus ------------------------------------------ */

/* An add to the corpus folder dir, in progress. */
struct corpus_txn {
    char *dir;
    int clear;              /* the new corpus replaces the old one */
    uint64_t base;          /* committed length of docs.bin */
    size_t old_ndocs;
    uint64_t *old_offs;     /* (old_ndocs+1) */
    uint32_t *old_src;      /* (old_ndocs) */
    double old_val_fraction;
    int had_corpus;
    void *old_sources;      /* json_t array from manifest.json */
    char **keys;            /* keys of the stored sources */
    size_t nkeys;
    int lock;               /* flock on dir/.lock: one writer at a time */
    int fd;                 /* docs.bin, appending (not clear) */
    struct fs_atomic bin;   /* new docs.bin (clear) */
    uint64_t written;
    /* after commit */
    int removed_shards;     /* stale token shards removed */
};

/* Start changing the corpus in dir (created if missing); sets L's sink,
 * src_base and known.  clear: drop the stored documents at commit.
 * GR_ESTATE while another transaction on dir is open (any process). */
enum gr_status corpus_txn_begin(struct corpus_txn *t, const char *dir,
                                int clear, struct corpus_load *L,
                                struct gr_error *err);
/* Append L's documents, set val_fraction, and commit; seed only feeds
 * the counts in manifest.json.  Then removes stale train.tok/val.tok.
 * Ends the transaction either way. */
enum gr_status corpus_txn_commit(struct corpus_txn *t, const struct corpus_load *L,
                                 double val_fraction, uint64_t seed,
                                 struct gr_error *err);
void corpus_txn_abort(struct corpus_txn *t);

/* Remove every corpus file in dir (documents, index, manifest, shards);
 * *removed: 1 if there was a corpus. */
enum gr_status corpus_store_clear(const char *dir, int *removed,
                                  struct gr_error *err);

#endif

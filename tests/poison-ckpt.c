/* poison-ckpt.c: a test tool.  Rewrites a checkpoint (with a valid
 * checksum) after setting one parameter to NaN, so the trainer's fault
 * handling can be tested from the command line. */
#include <math.h>
#include <stdio.h>

#include "model/checkpoint.h"

int
main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: poison-ckpt IN.ckpt OUT.ckpt\n");
        return 2;
    }
    struct gpt m;
    struct ckpt_meta meta;
    struct gr_error err;
    float *extra = NULL;
    if (ckpt_load(argv[1], &m, &meta, 0, &extra, &err) != GR_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    m.p.lnfw[0] = NAN;
    int rc = ckpt_save(argv[2], &m, &meta, extra, &err) != GR_OK;
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    gpt_release(&m);
    ckpt_meta_release(&meta);
    return rc;
}

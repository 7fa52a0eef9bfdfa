/* job.h: requests a front end sends to a running job.  The job checks
 * them between steps; a stop always leaves a valid checkpoint. */
#ifndef GR_JOB_H
#define GR_JOB_H

#include <stdatomic.h>

struct gr_job {
    atomic_int pause;       /* nonzero: wait before the next step */
    atomic_int stop;        /* nonzero: save and return GR_ESTOPPED */
    atomic_int save_now;    /* nonzero: save after this step, then clear */
};

void job_init(struct gr_job *job);
void job_request_stop(struct gr_job *job);
void job_toggle_pause(struct gr_job *job);
void job_request_save(struct gr_job *job);

/* For the job: 1 if it should stop.  Blocks while paused (unless a stop
 * arrives).  job may be NULL. */
int job_should_stop(struct gr_job *job);
/* 1 if a stop was requested, without waiting out a pause (for loops
 * inside one step, and jobs that do not pause).  job may be NULL. */
int job_stop_requested(const struct gr_job *job);
/* For the job: 1 if a save was requested (and clears the request). */
int job_take_save(struct gr_job *job);

#endif

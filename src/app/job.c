#include "app/job.h"

#include <time.h>

void
job_init(struct gr_job *job)
{
    atomic_init(&job->pause, 0);
    atomic_init(&job->stop, 0);
    atomic_init(&job->save_now, 0);
}

void
job_request_stop(struct gr_job *job)
{
    atomic_store(&job->stop, 1);
}

void
job_toggle_pause(struct gr_job *job)
{
    atomic_fetch_xor(&job->pause, 1);
}

void
job_request_save(struct gr_job *job)
{
    atomic_store(&job->save_now, 1);
}

int
job_should_stop(struct gr_job *job)
{
    if (!job)
        return 0;
    while (atomic_load(&job->pause) && !atomic_load(&job->stop)) {
        struct timespec ts = { 0, 50 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    return atomic_load(&job->stop) != 0;
}

int
job_stop_requested(const struct gr_job *job)
{
    return job && atomic_load(&job->stop) != 0;
}

int
job_take_save(struct gr_job *job)
{
    return job && atomic_exchange(&job->save_now, 0) != 0;
}

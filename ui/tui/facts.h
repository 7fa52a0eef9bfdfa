/* facts.h: the state of each stage of the recipe and its key facts, read
 * from the workspace's files (as 'garage status' does), for the home
 * screen. */
#ifndef GR_TUI_FACTS_H
#define GR_TUI_FACTS_H

enum stage_state {
    STAGE_DONE,
    STAGE_READY,        /* its inputs are there: it can run */
    STAGE_WAITING,      /* an earlier stage comes first */
    STAGE_STALE,        /* done, but an earlier stage changed since */
    STAGE_MISSING,      /* its engine part is not in this build yet */
};

enum { STAGE_CORPUS, STAGE_TOKENIZER, STAGE_PRETRAIN, STAGE_SFT, STAGE_RANK,
       STAGE_REWARD, STAGE_TUNE, STAGE_CHAT, STAGE_COUNT };

struct stage_fact {
    const char *title;      /* "Corpus" */
    const char *screen;     /* the screen Enter opens */
    const char *command;    /* the registry command behind it */
    enum stage_state state;
    char facts[200];        /* "1,234 documents, 4.2 MB (62 held out)" */
};

/* Fill the STAGE_COUNT stages for the workspace in dir (NULL: none). */
void facts_read(const char *dir, struct stage_fact out[STAGE_COUNT]);
const char *stage_state_name(enum stage_state s);

/* Lines in a file (0 when missing). */
long facts_count_lines(const char *path);

#endif

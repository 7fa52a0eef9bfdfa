/* list.h: a selectable list and a scrolling view, their keys and the
 * bookkeeping that keeps the selection (or the end) in sight. */
#ifndef GR_TUI_LIST_H
#define GR_TUI_LIST_H

struct list {
    int n;          /* items */
    int sel;        /* selected item (0 when empty) */
    int top;        /* first item shown */
};

/* Up/Down, j/k, PgUp/PgDn, Home/End, the mouse wheel.  1 if used.
 * (Letters other than j/k stay free for the screens.)
 * page: rows shown. */
int list_key(struct list *l, int key, int page);
/* Clamp sel to n and move top so sel is among the h rows shown. */
void list_show(struct list *l, int h);

struct scroll {
    int top;        /* first line shown */
    int follow;     /* stick to the end as lines arrive */
};

/* The same keys for a text view.  1 if used. */
int scroll_key(struct scroll *s, int key, int page);
/* Clamp top for total lines in view rows (the end when following). */
void scroll_fix(struct scroll *s, int total, int view);

#endif

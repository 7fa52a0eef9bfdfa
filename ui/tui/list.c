/* list.c: lists and scrolling views (see list.h). */
#include "list.h"

#include "draw.h"

int
list_key(struct list *l, int key, int page)
{
    if (page < 1)
        page = 1;
    switch (key) {
    case KEY_UP: case 'k': case KEY_WHEEL_UP:
        l->sel--;
        break;
    case KEY_DOWN: case 'j': case KEY_WHEEL_DOWN:
        l->sel++;
        break;
    case KEY_PPAGE:
        l->sel -= page;
        break;
    case KEY_NPAGE:
        l->sel += page;
        break;
    case KEY_HOME:
        l->sel = 0;
        break;
    case KEY_END:
        l->sel = l->n - 1;
        break;
    default:
        return 0;
    }
    if (l->sel >= l->n)
        l->sel = l->n - 1;
    if (l->sel < 0)
        l->sel = 0;
    return 1;
}

void
list_show(struct list *l, int h)
{
    if (l->sel >= l->n)
        l->sel = l->n - 1;
    if (l->sel < 0)
        l->sel = 0;
    if (h < 1)
        h = 1;
    if (l->sel < l->top)
        l->top = l->sel;
    if (l->sel >= l->top + h)
        l->top = l->sel - h + 1;
    if (l->top > l->n - h)
        l->top = l->n - h;
    if (l->top < 0)
        l->top = 0;
}

int
scroll_key(struct scroll *s, int key, int page)
{
    if (page < 1)
        page = 1;
    switch (key) {
    case KEY_UP: case 'k':
        s->top--;
        break;
    case KEY_WHEEL_UP:
        s->top -= 3;
        break;
    case KEY_DOWN: case 'j':
        s->top++;
        break;
    case KEY_WHEEL_DOWN:
        s->top += 3;
        break;
    case KEY_PPAGE:
        s->top -= page;
        break;
    case KEY_NPAGE:
        s->top += page;
        break;
    case KEY_HOME:
        s->top = 0;
        break;
    case KEY_END:
        s->follow = 1;
        return 1;
    default:
        return 0;
    }
    s->follow = 0;
    if (s->top < 0)
        s->top = 0;
    return 1;
}

void
scroll_fix(struct scroll *s, int total, int view)
{
    int max = total - view > 0 ? total - view : 0;
    if (s->follow || s->top > max)
        s->top = max;
    if (s->top >= max)
        s->follow = 1;      /* at the end again: follow new lines */
    if (s->top < 0)
        s->top = 0;
}

/* screen_chat.c: talking to the model.  Its engine part (stages/chat.c)
 * is not in the tree yet: the screen says so instead of faking it. */
#include "screens.h"

static const struct key_binding chat_keys[] = {
    { 'q', "back", "Back to the stages", NULL },
    { 0 }
};

static void
chat_draw(struct screen *scr, struct rect body)
{
    (void)scr;
    struct rect in = draw_box(body, "Chat", 1);
    draw_text(in.y + 1, in.x + 1, in.w - 2, style(ST_WARN) | A_BOLD, "Not available yet.");
    draw_wrap((struct rect){ in.y + 3, in.x + 1, 4, in.w - 2 }, 0, A_NORMAL,
              "The chat engine (the 'chat' stage) is not in this build of garage yet; "
              "this screen will talk to your model as soon as it is.");
}

const struct screen_ops chat_screen = {
    .name = "chat", .title = "Chat", .keys = chat_keys, .draw = chat_draw,
};

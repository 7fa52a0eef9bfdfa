/* chat.h (ui): the conversation loop behind 'garage chat', set as
 * gr_ctx.chat_loop.  At a terminal: a GNU Readline prompt with history
 * in the workspace (.garage_chat_history), answers streamed as they come,
 * Ctrl-C stopping an answer, Ctrl-D leaving.  Otherwise (pipe mode): one
 * message per input line, one answer per output line with its newlines
 * turned into spaces, no prompts or colours; slash commands answer on
 * standard error. */
#ifndef GR_UI_CHAT_H
#define GR_UI_CHAT_H

#include "app/command.h"

struct chat;

enum gr_status ui_chat_loop(struct gr_ctx *ctx, struct chat *c,
                            struct gr_error *err);

#endif

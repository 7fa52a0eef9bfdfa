sessionsdir = $(pkgdatadir)/sessions
dist_sessions_DATA = share/garage/sessions/quickstart.yaml
# sft: demonstrations and prompts written for garage, and a session that
# fine-tunes the quickstart model on them
garagedatadir = $(pkgdatadir)
dist_garagedata_DATA = share/garage/demos.jsonl share/garage/prompts.txt \
	share/garage/prompts-eval.txt
dist_sessions_DATA += share/garage/sessions/chatbot.yaml
# repl: bash completion, generated from the registry at build time (like
# the man pages), so that it cannot drift from the program
bashcompletiondir = $(datadir)/bash-completion/completions
bashcompletion_DATA = share/bash-completion/completions/garage
EXTRA_DIST += share/bash-completion/garage.in share/bash-completion/gen-bash.sh
CLEANFILES += share/bash-completion/completions/garage

share/bash-completion/completions/garage: $(srcdir)/share/bash-completion/garage.in \
		$(srcdir)/share/bash-completion/gen-bash.sh garage$(EXEEXT)
	$(AM_V_GEN)$(MKDIR_P) share/bash-completion/completions && \
	$(SHELL) $(srcdir)/share/bash-completion/gen-bash.sh ./garage$(EXEEXT) \
		$(srcdir)/share/bash-completion/garage.in > $@.tmp && mv $@.tmp $@
# reward: ranking and the reward model on the chatbot model
dist_sessions_DATA += share/garage/sessions/reward-demo.yaml
# tune: the whole recipe headless
dist_sessions_DATA += share/garage/sessions/rlhf-demo.yaml

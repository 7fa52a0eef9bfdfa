sessionsdir = $(pkgdatadir)/sessions
dist_sessions_DATA = share/garage/sessions/quickstart.yaml
# sft: demonstrations and prompts written for garage, and a session that
# fine-tunes the quickstart model on them
garagedatadir = $(pkgdatadir)
dist_garagedata_DATA = share/garage/demos.jsonl share/garage/prompts.txt \
	share/garage/prompts-eval.txt
dist_sessions_DATA += share/garage/sessions/chatbot.yaml

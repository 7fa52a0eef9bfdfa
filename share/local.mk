sessionsdir = $(pkgdatadir)/sessions
dist_sessions_DATA = share/garage/sessions/quickstart.yaml

# The command and option sections of the man pages are generated from the
# registry by the garage binary itself, so they cannot drift from it.
man_MANS = man/garage.1 man/garage-session.5
EXTRA_DIST += man/garage.1.in man/garage-session.5.in man/gen-man.sh
CLEANFILES += $(man_MANS)

man/garage.1: $(srcdir)/man/garage.1.in $(srcdir)/man/gen-man.sh garage$(EXEEXT)
	$(AM_V_GEN)$(MKDIR_P) man && \
	$(SHELL) $(srcdir)/man/gen-man.sh ./garage$(EXEEXT) $(srcdir)/man/garage.1.in $(VERSION) $(pkgdatadir) > $@.tmp && mv $@.tmp $@

man/garage-session.5: $(srcdir)/man/garage-session.5.in $(srcdir)/man/gen-man.sh garage$(EXEEXT)
	$(AM_V_GEN)$(MKDIR_P) man && \
	$(SHELL) $(srcdir)/man/gen-man.sh ./garage$(EXEEXT) $(srcdir)/man/garage-session.5.in $(VERSION) $(pkgdatadir) > $@.tmp && mv $@.tmp $@

/*
 * cli.c — what every verb's command line shares: error messages on stderr
 * and --help detection (declared in geoctl.h). At the bottom of geoctl, so
 * that the verbs and the helpers below them need nothing from main.c.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "geoctl.h"

void geoctl_err(const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	fputs("geoctl: ", stderr);
	/* Messages name paths: escape them whole (escape.h), so that a name can
	 * neither drive the terminal nor forge a line. */
	esc_fputs(n >= 0 ? msg : fmt, stderr);
	free(msg);
	fputc('\n', stderr);
}

bool geoctl_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

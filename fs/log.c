/*
 * log.c — stderr or syslog, filtered by level. See log.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "log.h"

static enum log_level log_level = LOG_LVL_INFO;
static bool log_syslog;

void log_set_level(enum log_level lvl)
{
	log_level = lvl;
}

int log_parse_level(const char *s, enum log_level *out)
{
	static const struct { const char *name; enum log_level lvl; } names[] = {
		{ "error", LOG_LVL_ERR }, { "warning", LOG_LVL_WARN },
		{ "info", LOG_LVL_INFO }, { "debug", LOG_LVL_DEBUG },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i].name) == 0) {
			*out = names[i].lvl;
			return 0;
		}
	}
	return -EINVAL;
}

void log_to_syslog(const char *ident)
{
	openlog(ident, LOG_PID, LOG_DAEMON);
	log_syslog = true;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if (lvl > log_level)
		return;
	va_start(ap, fmt);
	if (log_syslog) {
		vsyslog((int)lvl, fmt, ap);
	} else {
		static const char *const prefix[] = {
			[LOG_LVL_ERR] = "error", [LOG_LVL_WARN] = "warning",
			[LOG_LVL_INFO] = "info", [LOG_LVL_DEBUG] = "debug",
		};
		char line[2048];
		vsnprintf(line, sizeof(line), fmt, ap);
		fprintf(stderr, "geofs: %s: %s\n", prefix[lvl] ? prefix[lvl] : "log", line);
	}
	va_end(ap);
}

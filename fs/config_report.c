/*
 * config_report.c — the bottom of the mount config's parser: how a problem is
 * reported ("FILE:LINE: message" appended to the caller's buffer), the labels
 * and value excerpts messages quote, and the lookups of a backend or category
 * by name. The line parser (config.c), the value parsers (config_values.c)
 * and the whole-file checks (config_check.c) all stand on it; it uses none of
 * them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "appendf.h"
#include "config.h"
#include "config_int.h"

/* ---- problems ------------------------------------------------------------ */

/* Appends "FILE:LINE: message\n" whole, or not at all if it does not fit. */
void config_problem_at(struct parser *p, int line, const char *fmt, ...)
{
	char msg[MSG_MAX];
	va_list ap;
	int n;

	p->nerr++;
	if (p->inst && line == p->line)
		p->inst->bad = true;
	n = snprintf(msg, sizeof(msg), "%s:%d: ", p->file, line);
	if (n >= 0 && (size_t)n < sizeof(msg)) {
		va_start(ap, fmt);
		vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	n = (int)strlen(msg);
	if (p->err && p->errused + (size_t)n + 2 <= p->errlen) {
		memcpy(p->err + p->errused, msg, (size_t)n);
		p->errused += (size_t)n;
		p->err[p->errused++] = '\n';
		p->err[p->errused] = '\0';
	}
}

/* A printable, bounded copy of a value for messages. */
const char *config_shown(const char *s, char buf[SHOW_MAX + 4])
{
	size_t i;

	for (i = 0; s[i] && i < SHOW_MAX; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	strcpy(buf + i, s[i] ? "..." : "");
	return buf;
}

/* ---- labels -------------------------------------------------------------- */

/* "[backend tokyo-1]" or "[data]", for messages. */
const char *config_sect_label(const struct section_def *def, const char *name,
			      char *buf, size_t len)
{
	snprintf(buf, len, "[%s%s%s]", def->name, name ? " " : "", name ? name : "");
	return buf;
}

/* "path, country, ..." of a section's keys, or only its required ones. */
void config_list_keys(const struct section_def *def, bool required, char *buf, size_t len)
{
	size_t pos = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < def->nkeys; i++)
		if (!required || def->keys[i].required)
			appendf(buf, len, &pos, "%s%s", pos ? ", " : "", def->keys[i].name);
}

/* ---- lookups ------------------------------------------------------------- */

int config_find_named(const struct geo_config *cfg, enum sec_kind kind, const char *name)
{
	int n = kind == SEC_BACKEND ? cfg->nbackends : cfg->ncats;

	for (int i = 0; i < n; i++)
		if (!strcmp(kind == SEC_BACKEND ? cfg->backends[i].name : cfg->cats[i].name, name))
			return i;
	return -1;
}

int config_category(const struct geo_config *cfg, const char *name)
{
	int i = name ? config_find_named(cfg, SEC_CATEGORY, name) : -1;

	return i >= 0 ? i : -ENOENT;
}

int config_backend(const struct geo_config *cfg, const char *name)
{
	int i = name ? config_find_named(cfg, SEC_BACKEND, name) : -1;

	return i >= 0 ? i : -ENOENT;
}

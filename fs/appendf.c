/*
 * appendf.c — printf at a position in a bounded buffer (see appendf.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "appendf.h"

void vappendf(char *buf, size_t len, size_t *pos, const char *fmt, va_list ap)
{
	int n = vsnprintf(*pos < len ? buf + *pos : NULL, *pos < len ? len - *pos : 0, fmt, ap);

	*pos += n > 0 ? (size_t)n : 0;
}

void appendf(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vappendf(buf, len, pos, fmt, ap);
	va_end(ap);
}

void vappendf_line(char *buf, size_t len, const char *fmt, va_list ap)
{
	size_t pos;

	if (!buf || !len)
		return;
	pos = strnlen(buf, len - 1);
	buf[pos] = '\0';
	if (pos)
		appendf(buf, len, &pos, "\n");
	vappendf(buf, len, &pos, fmt, ap);
}

void appendf_line(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vappendf_line(buf, len, fmt, ap);
	va_end(ap);
}

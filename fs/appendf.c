/*
 * appendf.c — printf at a position in a bounded buffer (see appendf.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "appendf.h"

void appendf(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(*pos < len ? buf + *pos : NULL, *pos < len ? len - *pos : 0, fmt, ap);
	va_end(ap);
	*pos += n > 0 ? (size_t)n : 0;
}

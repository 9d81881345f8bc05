/*
 * appendf.h — building a bounded string piece by piece: printf at a position,
 * or one more line of a message buffer; the one way the core and geoctl
 * append to a fixed buffer. Depends on nothing else of geofs.
 */
#ifndef GEOFS_APPENDF_H
#define GEOFS_APPENDF_H

#include <stdarg.h>
#include <stddef.h>

/* snprintf(buf + *pos, len - *pos, fmt, ...) while *pos < len, writing
 * nothing past buf[len - 1] and leaving buf NUL-terminated (when len > 0);
 * *pos then advances by the length the output needed, as snprintf counts
 * it, so *pos >= len afterwards means the text was cut. buf may be NULL
 * when len is 0 (measuring only). */
void appendf(char *buf, size_t len, size_t *pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void vappendf(char *buf, size_t len, size_t *pos, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

/* Adds one line to the NUL-terminated text in buf (len bytes): a newline
 * first unless buf is empty, then the printf output, cut to fit. Nothing
 * when buf is NULL or len is 0. For error buffers that collect problems. */
void appendf_line(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void vappendf_line(char *buf, size_t len, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#endif

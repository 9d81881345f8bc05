/*
 * json_esc.h — the one JSON string escaper, shared by the audit log, the
 * stats document (user.geo.stats), the Prometheus metrics labels and
 * geoctl's --json output, and the one decoder of its \u escapes.
 *
 * File names are bytes. Valid, shortest-form UTF-8 (utf8.h) is written as
 * it is; '"', '\\' and control characters are escaped as JSON requires
 * (\b \f \n \r \t, else \u00XX; DEL too); every byte that is not part of
 * a valid sequence (a stray continuation byte, an overlong form, a
 * surrogate encoded in UTF-8, 0xF5..0xFF, a cut-short sequence) is written
 * as \udcXX, Python's "surrogateescape" form: os.fsencode(json.loads(s))
 * gives back the exact bytes, and no two names give the same string.
 *
 * Depends on utf8.h only; no allocation, no FUSE, no stdio state.
 */
#ifndef GEOFS_JSON_ESC_H
#define GEOFS_JSON_ESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Most bytes json_esc_body() writes for n input bytes. */
#define JSON_ESC_MAX(n) (6 * (n))

/* Writes the n bytes at s, escaped, without quotes, into out (room for
 * JSON_ESC_MAX(n) bytes; not NUL-terminated). A NUL byte in s is written
 * as \u0000. Returns the number of bytes written. */
size_t json_esc_body(const char *s, size_t n, char *out);

/* Writes s (NUL-terminated) as a quoted JSON string to f. 0, or -EIO when
 * f reports an error. */
int json_esc_fput(FILE *f, const char *s);

/* Writes s as a Prometheus label value (without the quotes): the JSON
 * body of s, with '\\' and '"' escaped again as the text format wants, so
 * the value a Prometheus parser reads is the JSON string body (the same
 * bytes as the other outputs for plain names). 0 or -EIO. */
int json_esc_fput_prom(FILE *f, const char *s);

/* Decoding: the bytes a \u escape stands for, given its code point cp
 * (surrogate pairs already joined by the caller; cp != 0). A lone
 * \udc80..\udcff is the raw byte 0x80..0xff; with legacy_bytes (the audit
 * log before the shared escaper wrote \u0080..\u00ff for raw bytes),
 * \u0080..\u00ff are raw bytes too; anything else is cp in UTF-8. Writes
 * 1..4 bytes to out and returns how many, or 0 when cp stands for nothing
 * (a lone surrogate other than \udc80..\udcff, or 0 or > 0x10ffff). */
size_t json_esc_decode_cp(unsigned cp, bool legacy_bytes, char out[4]);

#endif

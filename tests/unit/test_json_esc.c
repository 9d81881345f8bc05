/*
 * test_json_esc.c — the shared JSON string escaper (json_esc.h): valid
 * UTF-8 kept as it is, JSON's own escapes, and every byte that is not part
 * of valid UTF-8 (overlong forms, stray continuation bytes, surrogates
 * encoded in UTF-8, 0xF5..0xFF, cut-short sequences) as \udcXX; the stdio
 * and Prometheus writers, and the decoder of \u escapes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "json_esc.h"

/* The escaped body of n bytes of s, NUL-terminated, in a static buffer. */
static const char *esc(const char *s, size_t n)
{
	static char out[1024];
	size_t w;

	assert_true(JSON_ESC_MAX(n) < sizeof(out));
	w = json_esc_body(s, n, out);
	assert_true(w <= JSON_ESC_MAX(n));
	out[w] = '\0';
	return out;
}

#define ESC(lit) esc(lit, sizeof(lit) - 1)

static void test_valid_utf8_is_kept(void **state)
{
	(void)state;
	assert_string_equal(ESC("plain/ascii-name.txt"), "plain/ascii-name.txt");
	assert_string_equal(ESC("\xc3\xbf-a"), "\xc3\xbf-a");			/* ÿ, 2 bytes */
	assert_string_equal(ESC("\xe6\x97\xa5\xe6\x9c\xac"), "\xe6\x97\xa5\xe6\x9c\xac");
	assert_string_equal(ESC("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");	/* 4 bytes */
	assert_string_equal(ESC("\xc2\x80\xdf\xbf"), "\xc2\x80\xdf\xbf");	/* U+80, U+7FF */
	assert_string_equal(ESC("\xed\x9f\xbf\xee\x80\x80"), "\xed\x9f\xbf\xee\x80\x80");
	assert_string_equal(ESC("\xf4\x8f\xbf\xbf"), "\xf4\x8f\xbf\xbf");	/* U+10FFFF */
}

static void test_json_escapes(void **state)
{
	(void)state;
	assert_string_equal(ESC("q\"b\\"), "q\\\"b\\\\");
	assert_string_equal(ESC("\b\f\n\r\t"), "\\b\\f\\n\\r\\t");
	assert_string_equal(ESC("\x01\x1f\x7f"), "\\u0001\\u001f\\u007f");
	assert_string_equal(esc("a\0b", 3), "a\\u0000b");
	assert_string_equal(ESC("/"), "/");
}

static void test_invalid_bytes_are_surrogateescaped(void **state)
{
	(void)state;
	assert_string_equal(ESC("\xff-a"), "\\udcff-a");
	assert_string_equal(ESC("\xfe\xf5"), "\\udcfe\\udcf5");
	/* overlong forms of '/' and NUL, and an overlong 3-byte form */
	assert_string_equal(ESC("\xc0\xaf"), "\\udcc0\\udcaf");
	assert_string_equal(ESC("\xc1\xbf"), "\\udcc1\\udcbf");
	assert_string_equal(ESC("\xe0\x80\xaf"), "\\udce0\\udc80\\udcaf");
	assert_string_equal(ESC("\xf0\x80\x80\xaf"), "\\udcf0\\udc80\\udc80\\udcaf");
	/* lone continuation bytes */
	assert_string_equal(ESC("\x80"), "\\udc80");
	assert_string_equal(ESC("a\xbf\x80z"), "a\\udcbf\\udc80z");
	/* a surrogate encoded in UTF-8 (U+D800, U+DFFF) */
	assert_string_equal(ESC("\xed\xa0\x80"), "\\udced\\udca0\\udc80");
	assert_string_equal(ESC("\xed\xbf\xbf"), "\\udced\\udcbf\\udcbf");
	/* past U+10FFFF */
	assert_string_equal(ESC("\xf4\x90\x80\x80"), "\\udcf4\\udc90\\udc80\\udc80");
	/* sequences cut short, by the end or by another character */
	assert_string_equal(ESC("\xe6\x97"), "\\udce6\\udc97");
	assert_string_equal(ESC("\xc3"), "\\udcc3");
	assert_string_equal(ESC("\xc3("), "\\udcc3(");
	assert_string_equal(ESC("\xe6\x97\xc3\xbf"), "\\udce6\\udc97\xc3\xbf");
	/* the byte after a bad lead byte starts afresh */
	assert_string_equal(ESC("\xf0\xc3\xbf"), "\\udcf0\xc3\xbf");
}

static void test_distinct_names_stay_distinct(void **state)
{
	char *a;

	(void)state;
	/* the names of issue 16: one is the byte 0xFF, the other U+00FF */
	a = strdup(ESC("\xff-a"));
	assert_non_null(a);
	assert_string_not_equal(a, ESC("\xc3\xbf-a"));
	free(a);
	/* a valid name that reads like an escape is escaped by its backslash */
	assert_string_equal(ESC("\\udcff-a"), "\\\\udcff-a");
}

/* Every byte string of length <= 3 from a small alphabet escapes to text
 * that is valid UTF-8 with no raw control byte, and decodes back. */
static void test_exhaustive_round_trip(void **state)
{
	static const unsigned char alpha[] = { 0x00, 0x0a, 0x22, 0x41, 0x5c, 0x7f, 0x80, 0xa0,
					       0xbf, 0xc2, 0xc3, 0xed, 0xe0, 0xf0, 0xf4, 0xff };
	const size_t k = sizeof(alpha);

	(void)state;
	for (size_t len = 1; len <= 3; len++) {
		size_t total = len == 1 ? k : len == 2 ? k * k : k * k * k;

		for (size_t v = 0; v < total; v++) {
			char in[3], back[16], piece[4];
			const char *o;
			size_t x = v, bn = 0;

			for (size_t i = 0; i < len; i++, x /= k)
				in[i] = (char)alpha[x % k];
			o = esc(in, len);
			for (const char *p = o; *p;) {
				unsigned cp;

				assert_true((unsigned char)*p >= 0x20);
				if (*p != '\\') {
					back[bn++] = *p++;
					continue;
				}
				switch (p[1]) {
				case 'u':
					assert_int_equal(sscanf(p + 2, "%4x", &cp), 1);
					if (cp == 0) {
						back[bn++] = '\0';
					} else {
						size_t m = json_esc_decode_cp(cp, false, piece);

						assert_true(m > 0);
						memcpy(back + bn, piece, m);
						bn += m;
					}
					p += 6;
					break;
				case 'n': back[bn++] = '\n'; p += 2; break;
				default: back[bn++] = p[1]; p += 2; break;
				}
			}
			assert_int_equal(bn, len);
			assert_memory_equal(back, in, len);
		}
	}
}

static void test_decode_cp(void **state)
{
	char o[4];

	(void)state;
	assert_int_equal(json_esc_decode_cp(0xdcff, false, o), 1);
	assert_int_equal((unsigned char)o[0], 0xff);
	assert_int_equal(json_esc_decode_cp(0xdc80, true, o), 1);
	assert_int_equal((unsigned char)o[0], 0x80);
	/* U+00FF is ÿ, unless read from an old audit log */
	assert_int_equal(json_esc_decode_cp(0xff, false, o), 2);
	assert_memory_equal(o, "\xc3\xbf", 2);
	assert_int_equal(json_esc_decode_cp(0xff, true, o), 1);
	assert_int_equal((unsigned char)o[0], 0xff);
	assert_int_equal(json_esc_decode_cp(0x41, false, o), 1);
	assert_int_equal(json_esc_decode_cp(0x1f600, false, o), 4);
	assert_memory_equal(o, "\xf0\x9f\x98\x80", 4);
	/* what no escaper of ours writes stands for nothing */
	assert_int_equal(json_esc_decode_cp(0, false, o), 0);
	assert_int_equal(json_esc_decode_cp(0xdc41, false, o), 0);	/* ASCII is never escaped so */
	assert_int_equal(json_esc_decode_cp(0xd800, false, o), 0);
	assert_int_equal(json_esc_decode_cp(0xdd00, false, o), 0);
	assert_int_equal(json_esc_decode_cp(0x110000, false, o), 0);
}

/* Writes with fn into a memory stream and returns the text (freed by the
 * caller). */
static char *written(int (*fn)(FILE *, const char *), const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(fn(f, s), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void test_stdio_writers(void **state)
{
	char *t;

	(void)state;
	t = written(json_esc_fput, "a\"\xff\xc3\xbf\n");
	assert_string_equal(t, "\"a\\\"\\udcff\xc3\xbf\\n\"");
	free(t);
	t = written(json_esc_fput, "");
	assert_string_equal(t, "\"\"");
	free(t);
	/* Prometheus: plain names unchanged, backslashes of escapes doubled */
	t = written(json_esc_fput_prom, "tokyo-1");
	assert_string_equal(t, "tokyo-1");
	free(t);
	t = written(json_esc_fput_prom, "a\"b\\c\n\xff");
	assert_string_equal(t, "a\\\\\\\"b\\\\\\\\c\\\\n\\\\udcff");
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_utf8_is_kept),
		cmocka_unit_test(test_json_escapes),
		cmocka_unit_test(test_invalid_bytes_are_surrogateescaped),
		cmocka_unit_test(test_distinct_names_stay_distinct),
		cmocka_unit_test(test_exhaustive_round_trip),
		cmocka_unit_test(test_decode_cp),
		cmocka_unit_test(test_stdio_writers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

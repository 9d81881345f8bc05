/*
 * test_appendf.c — appendf(): pieces appended in order, the position
 * counting what the text needs (as snprintf does) once the buffer is full,
 * never a byte past the buffer, always NUL-terminated, and measuring with
 * no buffer at all; appendf_line() adding lines to a message buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "appendf.h"

static void pieces_in_order(void **state)
{
	char buf[64];
	size_t pos = 0;

	(void)state;
	appendf(buf, sizeof(buf), &pos, "%s", "JP/tokyo-1");
	appendf(buf, sizeof(buf), &pos, ",%s/%s", "KR", "seoul-1");
	assert_string_equal(buf, "JP/tokyo-1,KR/seoul-1");
	assert_int_equal(pos, strlen(buf));
	appendf(buf, sizeof(buf), &pos, "%s", "");
	assert_int_equal(pos, strlen(buf));
}

/* A cut keeps the guard byte after the buffer and says how much was needed. */
static void cut_at_the_end(void **state)
{
	char mem[12];
	size_t pos = 0;

	(void)state;
	memset(mem, 'X', sizeof(mem));
	appendf(mem, 8, &pos, "%s", "abcde");
	appendf(mem, 8, &pos, "%s", "fghij");	/* cut: 7 chars fit */
	assert_string_equal(mem, "abcdefg");
	assert_int_equal(pos, 10);
	appendf(mem, 8, &pos, "%d", 12345);	/* past the end: nothing written */
	assert_string_equal(mem, "abcdefg");
	assert_int_equal(pos, 15);
	assert_int_equal(mem[8], 'X');
	pos = 0;
	appendf(NULL, 0, &pos, "%s=%d", "replicas", 2);	/* measuring */
	assert_int_equal(pos, strlen("replicas=2"));
}

static void lines_of_a_message_buffer(void **state)
{
	char mem[24];

	(void)state;
	mem[0] = '\0';
	appendf_line(mem, 20, "%s: %d", "a.conf", 3);
	assert_string_equal(mem, "a.conf: 3");
	appendf_line(mem, 20, "second %s", "line");
	assert_string_equal(mem, "a.conf: 3\nsecond li");	/* cut: 19 and the NUL */
	memset(mem + 20, 'X', 4);
	appendf_line(mem, 20, "third");			/* full: unchanged */
	assert_string_equal(mem, "a.conf: 3\nsecond li");
	assert_int_equal(mem[20], 'X');
	appendf_line(NULL, 0, "nothing");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pieces_in_order),
		cmocka_unit_test(cut_at_the_end),
		cmocka_unit_test(lines_of_a_message_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

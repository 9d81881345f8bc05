/*
 * json.c — streaming JSON writer (see json.h).
 */
#include <assert.h>
#include <inttypes.h>
#include <math.h>

#include <string.h>

#include "json.h"
#include "json_esc.h"

void json_init(struct json *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->nonempty[0] = false;
}

void json_write_string(FILE *f, const char *str)
{
	json_esc_fput(f, str);	/* a failed write stays in ferror(f) */
}

static void indent(struct json *j)
{
	fputc('\n', j->f);
	for (int i = 0; i < j->depth; i++)
		fputs("  ", j->f);
}

/* Comma, newline and indentation before a value, then "key": if any. */
static void member(struct json *j, const char *key)
{
	if (j->depth > 0) {
		if (j->nonempty[j->depth])
			fputc(',', j->f);
		indent(j);
	}
	j->nonempty[j->depth] = true;
	if (key) {
		json_write_string(j->f, key);
		fputs(": ", j->f);
	}
}

static void open_container(struct json *j, const char *key, char c)
{
	member(j, key);
	fputc(c, j->f);
	assert(j->depth + 1 < JSON_MAX_DEPTH);
	j->depth++;
	j->nonempty[j->depth] = false;
}

static void close_container(struct json *j, char c)
{
	bool had = j->nonempty[j->depth];

	assert(j->depth > 0);
	j->depth--;
	if (had)
		indent(j);
	fputc(c, j->f);
}

void json_obj_begin(struct json *j, const char *key) { open_container(j, key, '{'); }
void json_obj_end(struct json *j) { close_container(j, '}'); }
void json_arr_begin(struct json *j, const char *key) { open_container(j, key, '['); }
void json_arr_end(struct json *j) { close_container(j, ']'); }

void json_str(struct json *j, const char *key, const char *val)
{
	member(j, key);
	if (val)
		json_write_string(j->f, val);
	else
		fputs("null", j->f);
}

void json_u64(struct json *j, const char *key, uint64_t val)
{
	member(j, key);
	fprintf(j->f, "%" PRIu64, val);
}

void json_int(struct json *j, const char *key, long long val)
{
	member(j, key);
	fprintf(j->f, "%lld", val);
}

void json_double(struct json *j, const char *key, double val)
{
	member(j, key);
	if (isfinite(val))
		fprintf(j->f, "%.3f", val);
	else
		fputs("null", j->f);
}

void json_bool(struct json *j, const char *key, bool val)
{
	member(j, key);
	fputs(val ? "true" : "false", j->f);
}

void json_finish(struct json *j)
{
	fputc('\n', j->f);
	fflush(j->f);
}

void json_str_list(struct json *j, const char *key, const char *list)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", list);
	json_arr_begin(j, key);
	for (char *c = strtok_r(buf, ",", &save); c; c = strtok_r(NULL, ",", &save))
		if (strcmp(c, "-") != 0)
			json_str(j, NULL, c);
	json_arr_end(j);
}

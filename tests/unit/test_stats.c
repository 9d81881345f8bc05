/*
 * test_stats.c — rendering a status snapshot: the Prometheus text (every
 * sample preceded by its HELP and TYPE, names prefixed geofs_, labels
 * escaped, uncounted backends left out of object metrics, one state per
 * backend set) and the JSON document (fields, escaping through json_esc.h
 * including bytes that are not UTF-8, null hit rate).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stats.h"

static struct stats_snap snap;

static int setup(void **state)
{
	memset(&snap, 0, sizeof(snap));
	snprintf(snap.site, sizeof(snap.site), "tokyo-app-01");
	memcpy(snap.country, "JP", 3);
	snap.config = "/etc/geofs/t.conf";
	snap.pid = 42;
	snap.started.tv_sec = 1000;
	snap.now.tv_sec = 1100;
	snprintf(snap.default_category, sizeof(snap.default_category), "personal");
	memcpy(snap.default_origin, "JP", 3);
	snap.ncats = 1;
	snprintf(snap.cats[0].name, sizeof(snap.cats[0].name), "media");
	snprintf(snap.cats[0].store_in, sizeof(snap.cats[0].store_in), "origin,KR");
	snprintf(snap.cats[0].access_from, sizeof(snap.cats[0].access_from), "*");
	snap.cats[0].replicas = 1;
	snap.nbackends = 2;
	snprintf(snap.backends[0].name, CFG_NAME_MAX, "tokyo-1");
	memcpy(snap.backends[0].country, "JP", 3);
	snap.backends[0].path = "/mnt/a \"quoted\"";
	snap.backends[0].state = "ok";
	snap.backends[0].counted = true;
	snap.backends[0].objects = 7;
	snap.backends[0].bytes = 7000;
	snap.backends[0].free = 1 << 20;
	snprintf(snap.backends[1].name, CFG_NAME_MAX, "seoul-1");
	memcpy(snap.backends[1].country, "KR", 3);
	snap.backends[1].path = "/mnt/b\xff-\xc3\xbf";	/* a byte that is not UTF-8, and U+00FF */
	snap.backends[1].state = "draining";
	snap.ctr.creates = 3;
	snap.ctr.bytes_written = 12345;
	snap.misplaced = 2;
	return 0;
}

static char *render(void (*fn)(const struct stats_snap *, FILE *))
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	fn(&snap, f);
	assert_int_equal(fclose(f), 0);
	return text;
}

static void prom_format(void **state)
{
	char *text = render(stats_fmt_prom), *save = NULL;
	char declared[64][64];
	int nd = 0;

	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char name[64];

		if (strncmp(l, "# HELP ", 7) == 0) {
			assert_int_equal(sscanf(l + 7, "%63s", declared[nd]), 1);
			assert_int_equal(strncmp(declared[nd], "geofs_", 6), 0);
			nd++;
			continue;
		}
		if (strncmp(l, "# TYPE ", 7) == 0) {
			assert_int_equal(sscanf(l + 7, "%63s", name), 1);
			assert_string_equal(name, declared[nd - 1]);
			assert_true(strstr(l, " gauge") || strstr(l, " counter"));
			continue;
		}
		assert_int_equal(sscanf(l, "%63[a-z_]", name), 1);
		assert_string_equal(name, declared[nd - 1]);	/* under its own HELP */
	}
	free(text);

	text = render(stats_fmt_prom);
	assert_non_null(strstr(text, "geofs_info{site=\"tokyo-app-01\",country=\"JP\"} 1\n"));
	assert_non_null(strstr(text, "geofs_operations_total{op=\"create\"} 3\n"));
	assert_non_null(strstr(text, "geofs_written_bytes_total 12345\n"));
	assert_non_null(strstr(text, "geofs_misplaced_files 2\n"));
	assert_non_null(strstr(text, "geofs_backend_objects{backend=\"tokyo-1\",country=\"JP\"} 7\n"));
	assert_null(strstr(text, "geofs_backend_objects{backend=\"seoul-1\""));	/* not counted */
	assert_non_null(strstr(text, "geofs_backend_free_bytes{backend=\"seoul-1\",country=\"KR\"} 0\n"));
	assert_non_null(strstr(text,
		"geofs_backend_state{backend=\"seoul-1\",country=\"KR\",state=\"draining\"} 1\n"));
	assert_non_null(strstr(text,
		"geofs_backend_state{backend=\"seoul-1\",country=\"KR\",state=\"ok\"} 0\n"));
	free(text);
}

static void json_format(void **state)
{
	char *text = render(stats_fmt_json);
	int depth = 0;

	for (const char *p = text; *p; p++) {
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++)
				if (*p == '\\')
					p++;
			continue;
		}
		depth += (*p == '{' || *p == '[') - (*p == '}' || *p == ']');
		assert_true(depth >= 0);
	}
	assert_int_equal(depth, 0);
	assert_non_null(strstr(text, "\"site\":\"tokyo-app-01\""));
	assert_non_null(strstr(text, "\"uptime_s\":100"));
	assert_non_null(strstr(text, "\"path\":\"/mnt/a \\\"quoted\\\"\""));
	/* the shared escaper: the raw byte as \udcff, valid UTF-8 kept */
	assert_non_null(strstr(text, "\"path\":\"/mnt/b\\udcff-\xc3\xbf\""));
	assert_non_null(strstr(text, "\"version\":2,"));
	assert_non_null(strstr(text, "\"store_in\":[\"origin\",\"KR\"]"));
	assert_non_null(strstr(text, "\"access_from\":[\"*\"]"));
	assert_non_null(strstr(text, "\"compress\":\"off\""));
	assert_non_null(strstr(text, "\"state\":\"draining\""));
	assert_non_null(strstr(text, "\"misplaced_files\":2"));
	assert_non_null(strstr(text, "\"hit_rate\":null"));
	assert_non_null(strstr(text, "\"last_reload\":null"));
	assert_non_null(strstr(text, "\"metrics_path\":null"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(prom_format),
		cmocka_unit_test(json_format),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}

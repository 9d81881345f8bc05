/*
 * fsck_report.c — geoctl fsck's report (see fsck.h): the findings one per
 * line with a summary, or one JSON object (the shape is in fsck --help).
 */
#include <stdio.h>

#include "escape.h"
#include "fsck.h"
#include "json.h"
#include "table.h"

void fsck_print_text(const struct fsck *fk)
{
	size_t counts[FK_NKINDS] = { 0 }, open = 0, repaired = 0;
	char b[TABLE_BYTES_LEN];
	bool first = true;

	for (size_t i = 0; i < fk->nf; i++) {
		const struct fsck_finding *f = &fk->f[i];

		printf("%-16s ", fsck_kind_name[f->kind]);
		esc_fputs(f->what, stdout);
		printf(": %s%s\n", f->detail,
		       !f->repaired ? "" : f->kind == FK_STUB_SIZE ? " (set)" : " (deleted)");
		counts[f->kind]++;
		open += fsck_is_finding(f);
		repaired += f->repaired;
	}
	printf("%schecked %llu file%s, %llu object%s (%s) on %d backend%s: ", fk->nf ? "\n" : "",
	       (unsigned long long)fk->nfiles, fk->nfiles == 1 ? "" : "s",
	       (unsigned long long)fk->nobjects, fk->nobjects == 1 ? "" : "s",
	       table_bytes(fk->object_bytes, b), fk->cfg->nbackends,
	       fk->cfg->nbackends == 1 ? "" : "s");
	if (!fk->nf) {
		puts("clean");
		return;
	}
	for (int k = 0; k < FK_NKINDS; k++) {
		if (!counts[k])
			continue;
		printf("%s%zu %s", first ? "" : ", ", counts[k], fsck_kind_name[k]);
		first = false;
	}
	if (repaired)
		printf("; %zu deleted", repaired);
	printf("; %zu finding%s remain%s\n", open, open == 1 ? "" : "s", open == 1 ? "s" : "");
}

void fsck_print_json(const struct fsck *fk)
{
	size_t counts[FK_NKINDS] = { 0 };
	struct json j;

	json_init(&j, stdout);
	json_obj_begin(&j, NULL);
	json_str(&j, "config", fk->cfg->file);
	json_str(&j, "meta", fk->cfg->meta_path);
	json_u64(&j, "files", fk->nfiles);
	json_u64(&j, "objects", fk->nobjects);
	json_u64(&j, "object_bytes", fk->object_bytes);
	json_arr_begin(&j, "findings");
	for (size_t i = 0; i < fk->nf; i++) {
		const struct fsck_finding *f = &fk->f[i];

		counts[f->kind]++;
		json_obj_begin(&j, NULL);
		json_str(&j, "kind", fsck_kind_name[f->kind]);
		json_str(&j, "what", f->what);
		json_str(&j, "detail", f->detail);
		json_u64(&j, "bytes", f->bytes);
		json_bool(&j, "repaired", f->repaired);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_begin(&j, "counts");
	for (int k = 0; k < FK_NKINDS; k++)
		if (counts[k])
			json_u64(&j, fsck_kind_name[k], counts[k]);
	json_obj_end(&j);
	json_int(&j, "errors", fk->errors);
	json_obj_end(&j);
	json_finish(&j);
}

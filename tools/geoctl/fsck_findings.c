/*
 * fsck_findings.c — geoctl fsck's finding list (see fsck.h): recording a
 * finding or a runtime error, the kinds' names, whether a finding is still
 * open. At the bottom of fsck: the checks (fsck_files.c, fsck_orphans.c)
 * add to it, the report (fsck_report.c) and cmd_fsck.c read it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "fsck.h"

const char *const fsck_kind_name[FK_NKINDS] = {
	[FK_DAMAGED] = "DAMAGED", [FK_DEGRADED] = "DEGRADED", [FK_MISPLACED] = "MISPLACED",
	[FK_NO_ID] = "NO-ID", [FK_SHARED_ID] = "SHARED-ID",
	[FK_ORPHAN_OBJECT] = "ORPHAN-OBJECT", [FK_ORPHAN_TEMP] = "ORPHAN-TEMP",
	[FK_ORPHAN_MANIFEST] = "ORPHAN-MANIFEST", [FK_META_TEMP] = "META-TEMP",
	[FK_STUB_SIZE] = "STUB-SIZE", [FK_MISNAMED] = "MISNAMED", [FK_NO_KEY] = "NO-KEY",
};

int fsck_add(struct fsck *fk, enum fsck_kind kind, const char *what, uint64_t bytes,
	     const char *fmt, ...)
{
	struct fsck_finding *f = array_grow(fk->f, &fk->capf, fk->nf, sizeof(*f));
	va_list ap;
	int n;

	if (!f)
		return -ENOMEM;
	fk->f = f;
	f += fk->nf;
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->bytes = bytes;
	f->what = strdup(what);
	va_start(ap, fmt);
	n = vasprintf(&f->detail, fmt, ap);
	va_end(ap);
	if (!f->what || n < 0) {
		free(f->what);
		return -ENOMEM;
	}
	fk->nf++;
	return 0;
}

void fsck_error(struct fsck *fk, const char *fmt, ...)
{
	va_list ap;

	progress_end(&fk->prog);
	fputs("geoctl: fsck: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fk->errors++;
}

void fsck_free_findings(struct fsck *fk)
{
	for (size_t i = 0; i < fk->nf; i++) {
		free(fk->f[i].what);
		free(fk->f[i].detail);
	}
	free(fk->f);
	fk->f = NULL;
	fk->nf = fk->capf = 0;
}

bool fsck_is_finding(const struct fsck_finding *f)
{
	return f->kind != FK_NO_KEY && !f->repaired;
}

/*
 * audit_fmt.h — what the audit log's writer (audit.c) takes from its record
 * formatter (audit_fmt.c); not an interface for anything else.
 */
#ifndef GEOFS_AUDIT_FMT_H
#define GEOFS_AUDIT_FMT_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"

struct qrec {
	struct qrec *next;
	uint64_t seq;			/* 0 for the writer's own notes */
	size_t len;
	char *body;			/* the record without its "prev" field and '}' */
};

/* A queue entry with the record up to (without) its "prev" field, or
 * NULL when out of memory. */
struct qrec *make_qrec(const char *site, const struct audit_event *ev);

/* Frees q and the entries chained after it; NULL ok. */
void free_qrecs(struct qrec *q);

#endif

/*
 * fuzz_audit.c — audit_rec_parse(), the reader `geoctl audit` trusts with
 * every line of a log an attacker may have edited.
 *
 * Checks: 0 with a record or -EINVAL with a reason and an empty record; a
 * record that parses has the fields audit.h promises (op, time and result
 * present, prev 64 lower-case hex, at most AUDIT_REC_COUNTRIES_MAX
 * countries, every string within the record's own memory), and freeing it
 * twice is safe.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "fuzz.h"

static void check_str(const struct audit_rec *r, const char *s, size_t len)
{
	if (!s)
		return;
	/* strings live in rec->mem (len + 1 bytes) and are NUL-terminated there */
	FUZZ_CHECK(s >= r->mem && s <= r->mem + len);
	FUZZ_CHECK(memchr(s, '\0', (size_t)(r->mem + len + 1 - s)) != NULL);
}

int fuzz_audit(const uint8_t *data, size_t size)
{
	struct audit_rec rec;
	char why[256];
	int rc;

	memset(why, 'X', sizeof(why));
	rc = audit_rec_parse((const char *)data, size, &rec, why, sizeof(why));
	if (rc) {
		FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM);
		FUZZ_CHECK(rec.mem == NULL && rec.op == NULL && rec.prev == NULL &&
			   rec.ncountries == 0);
		FUZZ_CHECK(memchr(why, '\0', sizeof(why)));
		FUZZ_CHECK(rc == -ENOMEM || why[0] != '\0');
		audit_rec_free(&rec);
		return 0;
	}
	FUZZ_CHECK(rec.mem != NULL);
	FUZZ_CHECK(rec.prev && strlen(rec.prev) == 64 &&
		   strspn(rec.prev, "0123456789abcdef") == 64);
	FUZZ_CHECK(rec.time != NULL && rec.result != NULL);
	FUZZ_CHECK(rec.ncountries <= AUDIT_REC_COUNTRIES_MAX);
	check_str(&rec, rec.time, size);
	check_str(&rec, rec.site, size);
	check_str(&rec, rec.process, size);
	check_str(&rec, rec.op, size);
	check_str(&rec, rec.intent, size);
	check_str(&rec, rec.path, size);
	check_str(&rec, rec.path2, size);
	check_str(&rec, rec.category, size);
	check_str(&rec, rec.origin, size);
	check_str(&rec, rec.result, size);
	check_str(&rec, rec.detail, size);
	check_str(&rec, rec.prev, size);
	for (unsigned i = 0; i < rec.ncountries; i++) {
		FUZZ_CHECK(rec.countries[i] != NULL);
		check_str(&rec, rec.countries[i], size);
	}
	audit_rec_free(&rec);
	FUZZ_CHECK(rec.mem == NULL);
	audit_rec_free(&rec);
	return 0;
}

FUZZ_ENTRY(fuzz_audit)

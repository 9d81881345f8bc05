/*
 * cmd_audit.c — `geoctl audit verify|show -c CONFIG`: check the hash chain
 * of a site's audit log across its rotated files, and filter its records.
 *
 * Works offline on the files named by the config's [audit] path and their
 * logrotate siblings, through the core's line reader, strict record parser
 * and chain check (fs/audit.h). It only ever reads them.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "audit.h"
#include "config.h"
#include "escape.h"
#include "geoctl.h"
#include "json.h"

#define ERRBUF_LEN (64 * 1024)
#define ZERO_HEX "0000000000000000000000000000000000000000000000000000000000000000"

static const char audit_help[] =
"usage: geoctl audit VERB -c CONFIG [OPTIONS]\n"
"\n"
"Check and read the audit log of a geofs site: the file named by `[audit]\n"
"path` in the mount config, with one JSON object per line for every open\n"
"(with its read/write intent), create, unlink, rename, tag change, migration,\n"
"access denial, refused placement and failed authentication:\n"
"\n"
"  {\"time\":\"2026-11-23T01:02:03.123456Z\",\"site\":\"tokyo-app-01\",\"uid\":1000,\n"
"   \"gid\":1000,\"pid\":4242,\"process\":\"python3\",\"op\":\"open\",\"intent\":\"read\",\n"
"   \"path\":\"/a/b.jpg\",\"category\":\"media\",\"origin\":\"JP\",\"result\":\"ok\",\n"
"   \"countries\":[\"JP\"],\"prev\":\"<SHA-256 of the previous line, in hex>\"}\n"
"\n"
"result is ok, denied (EACCES or EPERM), or error:NAME (e.g. error:EIO).\n"
"intent, path2 (a rename's target) and detail appear only when they apply.\n"
"A settag record also carries old_category and old_origin, the tags before\n"
"the change (category and origin are the tags after it).\n"
"A byte of a name that is not UTF-8 is written as \\udc80..\\udcff, which\n"
"Python's os.fsencode(json.loads(line)[\"path\"]) turns back into that byte\n"
"(logs from before geofs wrote \\udcXX used \\u0080..\\u00ff; they still\n"
"verify, and show reads those escapes as bytes too).\n"
"\n"
"Each line's prev is the SHA-256 of the line before it (64 zeros on the very\n"
"first line), so the log is a hash chain: editing, deleting, reordering or\n"
"inserting any line breaks it at that point. The chain continues across\n"
"rotation: the first line of a new file carries the hash of the last line of\n"
"the file rotated away.\n"
"\n"
"Verbs:\n"
"  verify   check the chain of the log and its rotated files\n"
"  show     print the records that match filters\n"
"\n"
"Run `geoctl audit VERB --help` for a verb's options.\n"
"\n"
"Exit status: 0 all well, 1 findings, 2 usage or runtime error.\n";

static const char verify_help[] =
"usage: geoctl audit verify -c CONFIG [--json]\n"
"\n"
"Check the hash chain of the site's audit log, oldest file first: the rotated\n"
"files PATH-YYYYMMDD... (logrotate dateext, oldest date first), then PATH.N\n"
"(higher N is older), then PATH itself. Compressed rotations (.gz, .xz, .bz2,\n"
".zst, .lz4) are not read; each is named in a note.\n"
"\n"
"Every line must be a complete record whose last field is\n"
"\"prev\":\"<64 hex digits>\" holding the SHA-256 of the line before it. Each file\n"
"continues the chain of the file before it. The first file checked must\n"
"start the chain (prev of 64 zeros), except when it is a rotated file whose\n"
"predecessor was removed or compressed: its first line is then taken on trust,\n"
"and a note says so.\n"
"\n"
"A crash in the middle of a write can leave an incomplete last line. The daemon\n"
"keeps such bytes and continues after them, and verify reports them as the\n"
"first line that does not fit, adding whether the next line continues the\n"
"chain from the line before it, which is what a crash looks like.\n"
"\n"
"The chain cannot show an edit of the very last line until a line follows it.\n"
"Keep the printed chain head somewhere else (a ticket, another host) to close\n"
"that gap: a later verify whose chain passes through that hash proves every\n"
"line up to it.\n"
"\n"
"Options:\n"
"  -c, --config CONFIG  the mount config naming the audit log (required)\n"
"      --json           print one JSON object: {\"intact\", \"records\", \"head\",\n"
"                       \"files\": [{\"path\", \"records\", \"start\"}],\n"
"                       \"skipped\": [compressed files]}, and when not intact\n"
"                       \"bad\": {\"file\", \"line\", \"reason\"}; start is\n"
"                       chain-start, continues, trusted (mid-chain, its\n"
"                       predecessor gone) or empty\n"
"  -h, --help           show this help\n"
"\n"
"Output (text): a line per file with its record count, notes, then\n"
"  audit log intact: N records in M files\n"
"or the file and line that does not fit, with the reason, e.g.\n"
"  /var/log/geofs/audit.log: line 7: prev does not match the hash of line 6\n"
"\n"
"Exit status:\n"
"  0  every line of every file fits the chain\n"
"  1  a line does not fit (named on the output)\n"
"  2  usage error, invalid config, no [audit] path, or a file cannot be read\n";

static const char show_help[] =
"usage: geoctl audit show -c CONFIG [--since TIME] [--denied] [--path PREFIX]\n"
"                         [--op OP] [--json]\n"
"\n"
"Print the records of the site's audit log that match every filter given,\n"
"oldest first, reading the rotated files (see geoctl audit verify --help)\n"
"before the current one. It does not check the chain: run geoctl audit\n"
"verify for that.\n"
"\n"
"Options:\n"
"  -c, --config CONFIG  the mount config naming the audit log (required)\n"
"  -s, --since TIME     records at or after TIME: RFC 3339, such as\n"
"                       2026-11-23T01:00:00Z or 2026-11-23T10:00:00+09:00,\n"
"                       or a date, 2026-11-23, meaning its start in UTC\n"
"  -d, --denied         only denials (result denied: EACCES or EPERM)\n"
"  -p, --path PREFIX    only records whose path or rename target is PREFIX or\n"
"                       lies below it (/srv matches /srv/a, not /srvx)\n"
"  -o, --op OP          only records of operation OP: open, create, unlink,\n"
"                       rename, settag, settag-refused, migrate,\n"
"                       access-denied, placement-refused, auth-failure, ...\n"
"      --json           print the matching lines as they are in the log, one\n"
"                       JSON object per line: JSON Lines, not one document\n"
"                       (for jq and scripts)\n"
"  -h, --help           show this help\n"
"\n"
"Output (text): one row per record with the columns\n"
"  TIME  UID  PROCESS  OP  RESULT  CATEGORY/ORIGIN  PATH\n"
"TIME is in UTC to the second; OP carries the intent of an open\n"
"(open:read); PATH shows a rename as FROM -> TO. A name that holds control\n"
"characters or bytes that are not UTF-8 is shown quoted and escaped.\n"
"\n"
"Lines that are not valid records (damage, an incomplete last line) are\n"
"skipped with a warning on stderr.\n"
"\n"
"Examples:\n"
"  geoctl audit show -c /etc/geofs/tokyo.conf --denied --since 2026-11-23\n"
"  geoctl audit show -c site.conf --path /medical --json | jq .uid\n"
"\n"
"Exit status:\n"
"  0  records printed (possibly none)\n"
"  1  some lines were skipped as not valid records\n"
"  2  usage error, invalid config, no [audit] path, or a file cannot be read\n";

/* ---- the log's files ------------------------------------------------------ */

enum file_kind { FILE_DATED, FILE_NUMBERED, FILE_CURRENT };

struct logfile {
	char *path;
	enum file_kind kind;
	unsigned long num;	/* PATH.N */
	const char *date;	/* PATH-DATE...: into path */
};

struct logset {
	struct logfile *f;
	size_t n;
	char **skipped;		/* compressed rotations */
	size_t nskipped;
};

static bool compressed(const char *name)
{
	static const char *const ext[] = { ".gz", ".xz", ".bz2", ".zst", ".lz4", ".Z" };
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		size_t e = strlen(ext[i]);

		if (n > e && strcmp(name + n - e, ext[i]) == 0)
			return true;
	}
	return false;
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

/* Oldest first: dated by date, then numbered from the highest N, then PATH. */
static int file_order(const void *pa, const void *pb)
{
	const struct logfile *a = pa, *b = pb;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if (a->kind == FILE_DATED)
		return strcmp(a->date, b->date);
	return a->num > b->num ? -1 : a->num < b->num;
}

static int name_order(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void logset_free(struct logset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->f[i].path);
	for (size_t i = 0; i < s->nskipped; i++)
		free(s->skipped[i]);
	free(s->f);
	free(s->skipped);
	memset(s, 0, sizeof(*s));
}

/* Adds dir/name to the set as kind, or to the skipped list. */
static int logset_add(struct logset *s, const char *dir, const char *name, size_t baselen,
		      enum file_kind kind, bool skip)
{
	char *path;
	void *p;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	if (skip) {
		p = realloc(s->skipped, (s->nskipped + 1) * sizeof(*s->skipped));
		if (!p)
			goto nomem;
		s->skipped = p;
		s->skipped[s->nskipped++] = path;
		return 0;
	}
	p = realloc(s->f, (s->n + 1) * sizeof(*s->f));
	if (!p)
		goto nomem;
	s->f = p;
	s->f[s->n] = (struct logfile){ .path = path, .kind = kind };
	if (kind == FILE_NUMBERED)
		s->f[s->n].num = strtoul(name + baselen + 1, NULL, 10);
	else if (kind == FILE_DATED)
		s->f[s->n].date = path + strlen(dir) + 1 + baselen + 1;
	s->n++;
	return 0;
nomem:
	free(path);
	return -ENOMEM;
}

/* Finds PATH and its logrotate siblings: PATH.N and PATH-YYYYMMDD*, each
 * possibly compressed (then only listed in skipped). 0 or -errno. */
static int find_files(const char *log, struct logset *s)
{
	const char *slash = strrchr(log, '/');
	char *dir = slash ? strndup(log, (size_t)(slash - log)) : strdup(".");	/* "" for / */
	const char *base = slash ? slash + 1 : log;
	size_t blen = strlen(base);
	struct dirent *de;
	DIR *d = NULL;
	int r = 0;

	memset(s, 0, sizeof(*s));
	if (!dir)
		return -ENOMEM;
	d = opendir(*dir ? dir : "/");
	if (!d) {
		r = -errno;
		goto out;
	}
	while (r == 0 && (errno = 0, de = readdir(d))) {
		const char *n = de->d_name, *rest = n + blen;
		size_t rlen = strlen(rest), dlen;
		bool z = compressed(rest);

		if (strncmp(n, base, blen) != 0)
			continue;
		if (rlen == 0) {
			r = logset_add(s, dir, n, blen, FILE_CURRENT, false);
		} else if (rest[0] == '.') {
			dlen = strspn(rest + 1, "0123456789");
			if (dlen > 0 && rest[1] != '0' && (rest[1 + dlen] == '\0' || z))
				r = logset_add(s, dir, n, blen, FILE_NUMBERED, z);
		} else if (rest[0] == '-' && rlen >= 9 && all_digits(rest + 1, 8)) {
			r = logset_add(s, dir, n, blen, FILE_DATED, z);
		}
	}
	if (r == 0 && errno)
		r = -errno;
	if (r == 0) {
		if (s->n > 1)
			qsort(s->f, s->n, sizeof(*s->f), file_order);
		if (s->nskipped > 1)
			qsort(s->skipped, s->nskipped, sizeof(*s->skipped), name_order);
	}
out:
	if (d)
		closedir(d);
	free(dir);
	if (r)
		logset_free(s);
	return r;
}

/* Loads CONFIG and finds its audit files; prints why not and returns -1. */
static int open_log(const char *verb, const char *config, struct logset *s)
{
	struct geo_config *cfg = NULL;
	char *err = calloc(1, ERRBUF_LEN);
	int r = -1;

	if (!err) {
		geoctl_err("audit %s: %s", verb, strerror(ENOMEM));
		return -1;
	}
	if (config_load(config, &cfg, err, ERRBUF_LEN) != 0) {
		fprintf(stderr, "%s\n", err);
		geoctl_err("%s: invalid config (see geoctl check -c %s)", config, config);
	} else if (!cfg->audit_path) {
		geoctl_err("audit %s: %s has no [audit] path: this site keeps no audit log",
			   verb, config);
	} else if ((r = find_files(cfg->audit_path, s)) < 0) {
		geoctl_err("audit %s: %s: %s", verb, cfg->audit_path, strerror(-r));
	} else if (s->n == 0) {
		geoctl_err("audit %s: %s: no such file%s", verb, cfg->audit_path,
			   s->nskipped ? " (only compressed rotations)" : "");
		logset_free(s);
		r = -1;
	}
	for (size_t i = 0; r == 0 && i < s->nskipped; i++)
		fprintf(stderr, "note: %s: compressed, not read\n", s->skipped[i]);
	config_free(cfg);
	free(err);
	return r < 0 ? -1 : 0;
}

/* ---- verify ----------------------------------------------------------------- */

/* Counts a file's lines and looks at the first one's prev. */
struct first_look {
	long lines;
	bool starts_chain;	/* line 1 is a record with prev of 64 zeros */
};

static int look(void *ctx, long lineno, const char *line, size_t len,
		enum audit_line_kind kind)
{
	struct first_look *fl = ctx;
	struct audit_rec rec;

	fl->lines = lineno;
	if (lineno == 1 && kind == AUDIT_LINE_OK &&
	    audit_rec_parse(line, len, &rec, NULL, 0) == 0) {
		fl->starts_chain = strcmp(rec.prev, ZERO_HEX) == 0;
		audit_rec_free(&rec);
	}
	return 0;
}

struct verified {
	const char *path;
	long records;
	const char *start;	/* chain-start, continues, trusted, empty */
};

static void print_verify_json(const struct logset *s, const struct verified *v, size_t nv,
			      long total, const char *head, const char *bad_file,
			      long bad_line, const char *why)
{
	struct json j;

	json_init(&j, stdout);
	json_obj_begin(&j, NULL);
	json_bool(&j, "intact", bad_file == NULL);
	json_int(&j, "records", total);
	json_str(&j, "head", head);
	json_arr_begin(&j, "files");
	for (size_t i = 0; i < nv; i++) {
		json_obj_begin(&j, NULL);
		json_str(&j, "path", v[i].path);
		json_int(&j, "records", v[i].records);
		json_str(&j, "start", v[i].start);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_arr_begin(&j, "skipped");
	for (size_t i = 0; i < s->nskipped; i++)
		json_str(&j, NULL, s->skipped[i]);
	json_arr_end(&j);
	if (bad_file) {
		json_obj_begin(&j, "bad");
		json_str(&j, "file", bad_file);
		json_int(&j, "line", bad_line);
		json_str(&j, "reason", why);
		json_obj_end(&j);
	}
	json_obj_end(&j);
	json_finish(&j);
}

static int run_verify(const struct logset *s, bool json)
{
	struct verified *v = calloc(s->n, sizeof(*v));
	char expect[65], why[1024];
	bool chained = false;	/* expect holds the hash of the last record so far */
	const char *bad_file = NULL, *prev_file = NULL;
	long total = 0, bad = 0;
	size_t i;
	int rc = GEOCTL_OK;

	if (!v) {
		geoctl_err("audit verify: %s", strerror(ENOMEM));
		return GEOCTL_ERROR;
	}
	for (i = 0; i < s->n && !bad_file; i++) {
		const struct logfile *f = &s->f[i];
		/* without a chain so far, a log with a rotated history may have
		 * lost its start: take the first line on trust */
		bool trust = !chained && (f->kind != FILE_CURRENT || i > 0 || s->nskipped);
		struct first_look fl = { 0 };
		char last[65];
		long r;

		r = audit_read_lines(f->path, look, &fl);
		if (r == 0)
			r = audit_verify_file(f->path, chained ? expect : NULL, trust, last, why,
					      sizeof(why));
		if (r < 0) {
			geoctl_err("audit verify: %s: %s", f->path, strerror((int)-r));
			rc = GEOCTL_ERROR;
			goto out;
		}
		v[i].path = f->path;
		v[i].records = fl.lines;
		if (r > 0) {
			bad_file = f->path;
			bad = r;
			if (r == 1 && chained)
				snprintf(why + strlen(why), sizeof(why) - strlen(why),
					 ", the hash of the last line of %s", prev_file);
			else if (r == 1 && !trust)
				snprintf(why + strlen(why), sizeof(why) - strlen(why),
					 " (if older log files were deleted, its start cannot be "
					 "checked)");
			break;
		}
		v[i].start = fl.lines == 0 ? "empty" : chained ? "continues" :
			     fl.starts_chain ? "chain-start" : "trusted";
		if (fl.lines && !chained && !fl.starts_chain && !json)
			printf("note: %s starts mid-chain: the file before it was removed or "
			       "compressed, so its first record is taken on trust\n", f->path);
		if (fl.lines) {
			memcpy(expect, last, sizeof(expect));
			chained = true;
			prev_file = f->path;
		}
		total += fl.lines;
		if (!json) {
			esc_fputs(f->path, stdout);
			printf(": %ld record%s%s\n", fl.lines, fl.lines == 1 ? "" : "s",
			       strcmp(v[i].start, "continues") ? "" : ", continuing the chain");
		}
	}
	if (json) {
		print_verify_json(s, v, bad_file ? i + 1 : i, total, chained ? expect : NULL,
				  bad_file, bad, why);
	} else if (bad_file) {
		printf("%s: %s\n", bad_file, why);
		printf("audit log NOT intact: %s, line %ld does not fit the chain\n", bad_file, bad);
	} else {
		printf("audit log intact: %ld record%s in %zu file%s\n", total,
		       total == 1 ? "" : "s", s->n, s->n == 1 ? "" : "s");
		if (chained)
			printf("chain head: %s\n", expect);
	}
	rc = bad_file ? GEOCTL_FINDINGS : GEOCTL_OK;
out:
	free(v);
	return rc;
}

/* ---- show ------------------------------------------------------------------- */

static bool digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool lit(const char **p, const char *chars)
{
	if (!**p || !strchr(chars, **p))
		return false;
	(*p)++;
	return true;
}

/* RFC 3339 ("2026-11-23T01:00:00Z", "...T10:00:00.5+09:00"), or with
 * date_ok a date ("2026-11-23", its start in UTC), to microseconds since
 * the epoch. 0 or -EINVAL. */
static int parse_time(const char *s, bool date_ok, long long *usec)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, frac = 0, scale = 100000;
	long long off = 0;
	struct tm tm = { 0 };
	char sign;
	time_t t;

	if (!digits(&s, 4, &y) || !lit(&s, "-") || !digits(&s, 2, &mo) || !lit(&s, "-") ||
	    !digits(&s, 2, &d))
		return -EINVAL;
	if (*s || !date_ok) {
		if (!lit(&s, "Tt ") || !digits(&s, 2, &h) || !lit(&s, ":") ||
		    !digits(&s, 2, &mi) || !lit(&s, ":") || !digits(&s, 2, &sec))
			return -EINVAL;
		if (lit(&s, ".")) {
			if (*s < '0' || *s > '9')
				return -EINVAL;
			for (; *s >= '0' && *s <= '9'; s++, scale /= 10)
				frac += (*s - '0') * scale;
		}
		sign = *s;
		if (lit(&s, "+-")) {
			if (!digits(&s, 2, &oh) || !lit(&s, ":") || !digits(&s, 2, &om) ||
			    oh > 23 || om > 59)
				return -EINVAL;
			off = (oh * 60LL + om) * 60 * (sign == '-' ? -1 : 1);
		} else if (!lit(&s, "Zz")) {
			return -EINVAL;
		}
		if (*s)
			return -EINVAL;
	}
	if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60 ||
	    d > mdays[mo - 1] + (mo == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	*usec = ((long long)t - off) * 1000000 + frac;
	return 0;
}

struct show {
	bool has_since, denied, json;
	long long since;
	const char *prefix, *op;
	const char *file;	/* being read */
	long skipped;
};

static bool under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	if (!path || strncmp(path, prefix, n) != 0)
		return false;
	return path[n] == '\0' || path[n] == '/' || (n > 0 && prefix[n - 1] == '/');
}

/* s for a terminal, "-" for NULL: as is, or quoted and escaped when it
 * holds control characters or bytes that are not UTF-8 (json.h's
 * escaping). Caller frees; NULL when out of memory. */
static char *disp(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m;

	if (!s)
		return strdup("-");
	m = open_memstream(&buf, &len);
	if (!m)
		return NULL;
	json_write_string(m, s);
	if (fclose(m) != 0) {
		free(buf);
		return NULL;
	}
	if (len == strlen(s) + 2 && memcmp(buf + 1, s, len - 2) == 0) {
		memmove(buf, buf + 1, len - 2);
		buf[len - 2] = '\0';
	}
	return buf;
}

static const char *or_q(const char *s)
{
	return s ? s : "?";
}

static void print_row(const struct audit_rec *r)
{
	char when[21] = "?", op[64], tag[160];
	size_t tlen = strlen(r->time);
	char *proc = disp(r->process), *cat = disp(r->category), *org = disp(r->origin);
	char *opd, *p1 = disp(r->path), *p2 = r->path2 ? disp(r->path2) : NULL;

	/* 2026-11-23T01:02:03.123456Z -> 2026-11-23T01:02:03Z */
	if (tlen >= 20 && r->time[tlen - 1] == 'Z')
		snprintf(when, sizeof(when), "%.19sZ", r->time);
	snprintf(op, sizeof(op), "%s%s%s", r->op ? r->op : "-", r->intent ? ":" : "",
		 r->intent ? r->intent : "");
	opd = disp(op);
	if (r->old_category || r->old_origin) {
		char *oc = disp(r->old_category), *oo = disp(r->old_origin);

		snprintf(tag, sizeof(tag), "%s/%s->%s/%s", or_q(oc), or_q(oo), or_q(cat), or_q(org));
		free(oc);
		free(oo);
	} else {
		snprintf(tag, sizeof(tag), "%s/%s", or_q(cat), or_q(org));
	}
	printf("%-20s %6lld  %-15s %-22s %-13s %-15s  %s%s%s\n", when, r->uid, or_q(proc),
	       or_q(opd), r->result, tag, or_q(p1), r->path2 ? " -> " : "",
	       r->path2 ? or_q(p2) : "");
	free(proc);
	free(cat);
	free(org);
	free(opd);
	free(p1);
	free(p2);
}

static int show_line(void *ctx, long n, const char *line, size_t len, enum audit_line_kind kind)
{
	struct show *sh = ctx;
	struct audit_rec rec;
	long long t = 0;
	char why[256];
	int r;

	if (kind != AUDIT_LINE_OK) {
		fprintf(stderr, "warning: %s:%ld: skipped: %s\n", sh->file, n,
			kind == AUDIT_LINE_TORN ? "incomplete last line" : "line too long");
		sh->skipped++;
		return 0;
	}
	r = audit_rec_parse(line, len, &rec, why, sizeof(why));
	if (r == -ENOMEM)
		return r;
	if (r == 0 && sh->has_since && parse_time(rec.time, false, &t) < 0) {
		snprintf(why, sizeof(why), "its time is not RFC 3339");
		audit_rec_free(&rec);
		r = -EINVAL;
	}
	if (r) {
		fprintf(stderr, "warning: %s:%ld: skipped: not a valid record: %s\n", sh->file,
			n, why);
		sh->skipped++;
		return 0;
	}
	if ((!sh->has_since || t >= sh->since) &&
	    (!sh->denied || strcmp(rec.result, "denied") == 0) &&
	    (!sh->op || (rec.op && strcmp(rec.op, sh->op) == 0)) &&
	    (!sh->prefix || under(rec.path, sh->prefix) || under(rec.path2, sh->prefix))) {
		if (sh->json) {
			fwrite(line, 1, len, stdout);
			fputc('\n', stdout);
		} else {
			print_row(&rec);
		}
	}
	audit_rec_free(&rec);
	return 0;
}

static int run_show(const struct logset *s, struct show *sh)
{
	if (!sh->json)
		printf("%-20s %6s  %-15s %-22s %-13s %-15s  %s\n", "TIME", "UID", "PROCESS", "OP",
		       "RESULT", "CATEGORY/ORIGIN", "PATH");
	for (size_t i = 0; i < s->n; i++) {
		int r;

		sh->file = s->f[i].path;
		r = audit_read_lines(sh->file, show_line, sh);
		if (r < 0) {
			fflush(stdout);
			geoctl_err("audit show: %s: %s", sh->file, strerror(-r));
			return GEOCTL_ERROR;
		}
	}
	if (fflush(stdout) != 0) {
		geoctl_err("audit show: writing the output: %s", strerror(errno));
		return GEOCTL_ERROR;
	}
	if (sh->skipped)
		fprintf(stderr, "warning: %ld line%s skipped; run `geoctl audit verify`\n",
			sh->skipped, plural((uint64_t)sh->skipped));
	return sh->skipped ? GEOCTL_FINDINGS : GEOCTL_OK;
}

/* ---- dispatch --------------------------------------------------------------- */

static int verb_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *config = NULL;
	struct logset s;
	bool json = false;
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'j': json = true; break;
		case 'h': fputs(verify_help, stdout); return GEOCTL_OK;
		default: fputs("usage: geoctl audit verify -c CONFIG [--json]\n", stderr);
			 return GEOCTL_ERROR;
		}
	}
	if (!config || optind < argc) {
		geoctl_err("audit verify: %s (see geoctl audit verify --help)",
			   config ? "unexpected argument" : "-c CONFIG is required");
		return GEOCTL_ERROR;
	}
	if (open_log("verify", config, &s) < 0)
		return GEOCTL_ERROR;
	rc = run_verify(&s, json);
	logset_free(&s);
	return rc;
}

static int verb_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "since", required_argument, NULL, 's' },
		{ "denied", no_argument, NULL, 'd' },
		{ "path", required_argument, NULL, 'p' },
		{ "op", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct show sh = { 0 };
	const char *config = NULL;
	struct logset s;
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:s:dp:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 's':
			if (parse_time(optarg, true, &sh.since) < 0) {
				geoctl_err("audit show: --since %s: expected RFC 3339 "
					   "(2026-11-23T01:00:00Z) or a date (2026-11-23)", optarg);
				return GEOCTL_ERROR;
			}
			sh.has_since = true;
			break;
		case 'd': sh.denied = true; break;
		case 'p': sh.prefix = optarg; break;
		case 'o': sh.op = optarg; break;
		case 'j': sh.json = true; break;
		case 'h': fputs(show_help, stdout); return GEOCTL_OK;
		default: fputs("usage: geoctl audit show -c CONFIG [--since TIME] [--denied] "
			       "[--path PREFIX] [--op OP] [--json]\n", stderr);
			 return GEOCTL_ERROR;
		}
	}
	if (!config || optind < argc) {
		geoctl_err("audit show: %s (see geoctl audit show --help)",
			   config ? "unexpected argument" : "-c CONFIG is required");
		return GEOCTL_ERROR;
	}
	if (open_log("show", config, &s) < 0)
		return GEOCTL_ERROR;
	rc = run_show(&s, &sh);
	logset_free(&s);
	return rc;
}

int cmd_audit(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(audit_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? GEOCTL_ERROR : GEOCTL_OK;
	}
	if (strcmp(argv[1], "verify") == 0)
		return verb_verify(argc - 1, argv + 1);
	if (strcmp(argv[1], "show") == 0)
		return verb_show(argc - 1, argv + 1);
	geoctl_err("audit: unknown verb '%s' (see geoctl audit --help)", argv[1]);
	return GEOCTL_ERROR;
}

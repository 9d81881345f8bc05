/*
 * stats_fmt.c — a status snapshot as JSON (user.geo.stats) and as
 * Prometheus text (the metrics file). Pure formatting, no state.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "json_esc.h"
#include "stats.h"

/* ---- JSON ---- */

/* A JSON string through the shared escaper (json_esc.h): paths are the
 * admin's bytes and need not be UTF-8. */
static void jstr(FILE *f, const char *s)
{
	json_esc_fput(f, s ? s : "");	/* the caller checks ferror(f) */
}

static void jkey(FILE *f, bool *first, const char *key)
{
	fputs(*first ? "" : ",", f);
	*first = false;
	jstr(f, key);
	fputc(':', f);
}

static void jkv_str(FILE *f, bool *first, const char *key, const char *val)
{
	jkey(f, first, key);
	if (val)
		jstr(f, val);
	else
		fputs("null", f);
}

static void jkv_u64(FILE *f, bool *first, const char *key, uint64_t val)
{
	jkey(f, first, key);
	fprintf(f, "%" PRIu64, val);
}

static void jkv_num(FILE *f, bool *first, const char *key, double val)
{
	jkey(f, first, key);
	fprintf(f, "%.3f", val);
}

static void jkv_bool(FILE *f, bool *first, const char *key, bool val)
{
	jkey(f, first, key);
	fputs(val ? "true" : "false", f);
}

/* A country list as configured ("origin,KR", "*") as a JSON array of its
 * words (["origin","KR"], ["*"]): the one shape geoctl gives every list. */
static void jkv_list(FILE *f, bool *first, const char *key, const char *list)
{
	bool f1 = true;

	jkey(f, first, key);
	fputc('[', f);
	for (const char *p = list; *p; ) {
		size_t n = strcspn(p, ",");
		char word[8];

		if (n && n < sizeof(word)) {
			memcpy(word, p, n);
			word[n] = '\0';
			fputs(f1 ? "" : ",", f);
			f1 = false;
			jstr(f, word);
		}
		p += n + (p[n] == ',');
	}
	fputc(']', f);
}

/* RFC 3339 UTC time, or null for 0. */
static void jkv_time(FILE *f, bool *first, const char *key, const struct timespec *t)
{
	char buf[64];
	struct tm tm;

	jkey(f, first, key);
	if (t->tv_sec == 0 || !gmtime_r(&t->tv_sec, &tm)) {
		fputs("null", f);
		return;
	}
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	jstr(f, buf);
}

static void json_policy(const struct stats_snap *s, FILE *f)
{
	bool first = true;

	fputc('{', f);
	jkv_str(f, &first, "default_category", s->default_category);
	jkv_str(f, &first, "default_origin", s->default_origin);
	jkey(f, &first, "categories");
	fputc('[', f);
	for (int i = 0; i < s->ncats; i++) {
		const struct stats_category *c = &s->cats[i];
		bool f1 = true;

		fputs(i ? ",{" : "{", f);
		jkv_str(f, &f1, "name", c->name);
		jkv_list(f, &f1, "store_in", c->store_in);
		jkv_list(f, &f1, "access_from", c->access_from);
		jkv_u64(f, &f1, "replicas", (uint64_t)c->replicas);
		jkv_str(f, &f1, "compress", c->compress ? "lz4" : "off");	/* as in the config */
		fputc('}', f);
	}
	fputs("]}", f);
}

static void json_backends(const struct stats_snap *s, FILE *f)
{
	fputc('[', f);
	for (int i = 0; i < s->nbackends; i++) {
		const struct stats_backend *b = &s->backends[i];
		bool first = true;

		fputs(i ? ",{" : "{", f);
		jkv_str(f, &first, "name", b->name);
		jkv_str(f, &first, "country", b->country);
		jkv_str(f, &first, "path", b->path);
		jkv_u64(f, &first, "weight", b->weight);
		jkv_bool(f, &first, "drain", b->drain);
		jkv_str(f, &first, "state", b->state);
		if (b->error[0])
			jkv_str(f, &first, "error", b->error);
		jkv_bool(f, &first, "counted", b->counted);
		jkv_u64(f, &first, "objects", b->objects);
		jkv_u64(f, &first, "bytes", b->bytes);
		jkv_u64(f, &first, "free", b->free);
		fputc('}', f);
	}
	fputc(']', f);
}

void stats_fmt_json(const struct stats_snap *s, FILE *f)
{
	const struct core_stats *k = &s->ctr;
	uint64_t lookups = s->cache_hits + s->cache_misses;
	bool first = true, f1 = true;

	fputc('{', f);
	jkv_u64(f, &first, "version", 2);	/* 2: lists are arrays, compress lz4|off */
	jkv_str(f, &first, "site", s->site);
	jkv_str(f, &first, "country", s->country);
	jkv_str(f, &first, "config", s->config);
	jkv_str(f, &first, "metrics_path", s->metrics_path);
	jkv_u64(f, &first, "pid", (uint64_t)s->pid);
	jkv_time(f, &first, "started", &s->started);
	jkv_u64(f, &first, "uptime_s", (uint64_t)(s->now.tv_sec - s->started.tv_sec));
	jkv_u64(f, &first, "reloads", s->reloads);
	jkv_u64(f, &first, "reload_failures", s->reload_failures);
	jkv_time(f, &first, "last_reload", &s->last_reload);
	jkv_str(f, &first, "last_reload_result",
		s->last_reload.tv_sec == 0 ? NULL : s->last_reload_rc ? "failed" : "ok");
	jkey(f, &first, "policy");
	json_policy(s, f);
	jkey(f, &first, "backends");
	json_backends(s, f);
	jkv_u64(f, &first, "misplaced_files", s->misplaced);

	jkey(f, &first, "counters");
	fputc('{', f);
	jkv_u64(f, &f1, "opens", k->opens);
	jkv_u64(f, &f1, "creates", k->creates);
	jkv_u64(f, &f1, "reads", k->reads);
	jkv_u64(f, &f1, "writes", k->writes);
	jkv_u64(f, &f1, "bytes_read", k->bytes_read);
	jkv_u64(f, &f1, "bytes_written", k->bytes_written);
	jkv_u64(f, &f1, "denied", k->denied);
	jkv_u64(f, &f1, "placement_refused", k->placement_refused);
	jkv_u64(f, &f1, "integrity_failures", k->integrity_failures);
	fputc('}', f);

	f1 = true;
	jkey(f, &first, "rates");
	fputc('{', f);
	jkv_num(f, &f1, "window_s", s->window);
	jkv_num(f, &f1, "ops_per_s", s->ops_rate);
	jkv_num(f, &f1, "read_bytes_per_s", s->read_rate);
	jkv_num(f, &f1, "write_bytes_per_s", s->write_rate);
	fputc('}', f);

	f1 = true;
	jkey(f, &first, "cache");
	fputc('{', f);
	jkv_u64(f, &f1, "hits", s->cache_hits);
	jkv_u64(f, &f1, "misses", s->cache_misses);
	jkey(f, &f1, "hit_rate");
	if (lookups)
		fprintf(f, "%.4f", (double)s->cache_hits / (double)lookups);
	else
		fputs("null", f);
	fputs("}}\n", f);
}

/* ---- Prometheus ---- */

/* A label value: the shared escaper's JSON body, its backslashes and
 * quotes escaped again for the text format (json_esc.h). Config names are
 * [A-Za-z0-9_.-] and come out unchanged. */
static void plabel(FILE *f, const char *name, const char *val, bool more)
{
	fprintf(f, "%s=\"", name);
	json_esc_fput_prom(f, val);
	fprintf(f, "\"%s", more ? "," : "");
}

static void phead(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP geofs_%s %s\n# TYPE geofs_%s %s\n", name, help, name, type);
}

static void pone(FILE *f, const char *name, const char *type, const char *help, uint64_t v)
{
	phead(f, name, type, help);
	fprintf(f, "geofs_%s %" PRIu64 "\n", name, v);
}

/* One per-backend metric: value(b) for every backend (counted ones only,
 * when only_counted). */
static void pbackend(FILE *f, const struct stats_snap *s, const char *name, const char *help,
		     bool only_counted, uint64_t (*value)(const struct stats_backend *))
{
	phead(f, name, "gauge", help);
	for (int i = 0; i < s->nbackends; i++) {
		const struct stats_backend *b = &s->backends[i];

		if (only_counted && !b->counted)
			continue;
		fprintf(f, "geofs_%s{", name);
		plabel(f, "backend", b->name, true);
		plabel(f, "country", b->country, false);
		fprintf(f, "} %" PRIu64 "\n", value(b));
	}
}

static uint64_t b_objects(const struct stats_backend *b) { return b->objects; }
static uint64_t b_bytes(const struct stats_backend *b) { return b->bytes; }
static uint64_t b_free(const struct stats_backend *b) { return b->free; }

static void pstates(FILE *f, const struct stats_snap *s)
{
	static const char *const states[] = { "ok", "full", "unreachable", "draining" };

	phead(f, "backend_state", "gauge",
	      "1 for the state each backend is in (ok, full, unreachable, draining), else 0.");
	for (int i = 0; i < s->nbackends; i++) {
		for (size_t k = 0; k < sizeof(states) / sizeof(states[0]); k++) {
			fputs("geofs_backend_state{", f);
			plabel(f, "backend", s->backends[i].name, true);
			plabel(f, "country", s->backends[i].country, true);
			plabel(f, "state", states[k], false);
			fprintf(f, "} %d\n", strcmp(s->backends[i].state, states[k]) == 0);
		}
	}
}

void stats_fmt_prom(const struct stats_snap *s, FILE *f)
{
	const struct core_stats *k = &s->ctr;
	static const char *const ops[] = { "open", "create", "read", "write" };
	const uint64_t nops[] = { k->opens, k->creates, k->reads, k->writes };

	phead(f, "info", "gauge", "Site and country of this geofs mount (always 1).");
	fputs("geofs_info{", f);
	plabel(f, "site", s->site, true);
	plabel(f, "country", s->country, false);
	fputs("} 1\n", f);
	pone(f, "start_time_seconds", "gauge", "When the daemon started, in Unix time.",
	     (uint64_t)s->started.tv_sec);

	phead(f, "operations_total", "counter",
	      "File operations served since mount: opens, creates, reads and writes.");
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		fprintf(f, "geofs_operations_total{op=\"%s\"} %" PRIu64 "\n", ops[i], nops[i]);
	pone(f, "read_bytes_total", "counter", "Bytes read by applications since mount.",
	     k->bytes_read);
	pone(f, "written_bytes_total", "counter", "Bytes written by applications since mount.",
	     k->bytes_written);
	pone(f, "denied_total", "counter",
	     "Operations refused with EACCES or EPERM since mount (audited).", k->denied);
	pone(f, "placement_refused_total", "counter",
	     "Writes refused because no allowed backend could take the data.",
	     k->placement_refused);
	pone(f, "integrity_failures_total", "counter",
	     "Shard objects that failed authentication (tampered, truncated, swapped).",
	     k->integrity_failures);
	pone(f, "cache_hits_total", "counter", "Reads served from the decoded-shard cache.",
	     s->cache_hits);
	pone(f, "cache_misses_total", "counter", "Reads that had to fetch and decode a shard.",
	     s->cache_misses);
	pone(f, "misplaced_files", "gauge",
	     "Files seen misplaced since mount and not seen compliant since.", s->misplaced);

	phead(f, "reloads_total", "counter", "Config reloads since mount, by result.");
	fprintf(f, "geofs_reloads_total{result=\"ok\"} %" PRIu64 "\n", s->reloads);
	fprintf(f, "geofs_reloads_total{result=\"failed\"} %" PRIu64 "\n", s->reload_failures);

	pbackend(f, s, "backend_objects", "Shard objects stored on each backend.", true,
		 b_objects);
	pbackend(f, s, "backend_stored_bytes", "Bytes of shard objects stored on each backend.",
		 true, b_bytes);
	pbackend(f, s, "backend_free_bytes", "Free space on each backend's filesystem.", false,
		 b_free);
	pstates(f, s);
}

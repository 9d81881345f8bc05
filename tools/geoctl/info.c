/*
 * info.c — reading and parsing user.geo.info (see info.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "info.h"
#include "xattrs.h"

#define INFO_MAX (1024 * 1024)	/* far above any real info text */

static int parse_cset(const char *s, struct cset *out)
{
	char code[3];

	cset_clear(out);
	if (strcmp(s, "*") == 0) {
		cset_fill(out);
		return 0;
	}
	if (*s == '\0' || strcmp(s, "-") == 0)
		return 0;
	for (;;) {
		int idx;

		if (!s[0] || !s[1] || (s[2] && s[2] != ','))
			return -EBADMSG;
		code[0] = s[0];
		code[1] = s[1];
		code[2] = '\0';
		idx = country_index(code);
		if (idx < 0)
			return -EBADMSG;
		cset_add(out, idx);
		if (!s[2])
			return 0;
		s += 3;
	}
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return (errno || end == s || *end || *s == '-') ? -EBADMSG : 0;
}

static int copy(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap)
		return -EBADMSG;
	memcpy(dst, src, n + 1);
	return 0;
}

static struct info_place *find_place(struct geo_info *gi, const char *backend)
{
	for (int i = 0; i < gi->nplace; i++)
		if (strcmp(gi->place[i].backend, backend) == 0)
			return &gi->place[i];
	return NULL;
}

static struct info_place *add_place(struct geo_info *gi, const char *cc, const char *backend)
{
	struct info_place *p = realloc(gi->place, (size_t)(gi->nplace + 1) * sizeof(*p));

	if (!p)
		return NULL;
	gi->place = p;
	p += gi->nplace;
	memset(p, 0, sizeof(*p));
	snprintf(p->country, sizeof(p->country), "%s", cc);
	snprintf(p->backend, sizeof(p->backend), "%s", backend);
	gi->nplace++;
	return p;
}

/* Walks a comma list calling fn on each item (modifies v). */
static int each_item(char *v, int (*fn)(struct geo_info *, char *), struct geo_info *gi)
{
	char *save = NULL;

	for (char *it = strtok_r(v, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
		int r = fn(gi, it);

		if (r < 0)
			return r;
	}
	return 0;
}

/* "JP/tokyo-1" */
static int placement_item(struct geo_info *gi, char *it)
{
	char *slash = strchr(it, '/');

	if (!slash || slash - it != 2 || !slash[1] || strlen(slash + 1) >= CFG_NAME_MAX)
		return -EBADMSG;
	*slash = '\0';
	if (find_place(gi, slash + 1))
		return 0;
	return add_place(gi, it, slash + 1) ? 0 : -ENOMEM;
}

/* "tokyo-1:123" */
static int bytes_item(struct geo_info *gi, char *it)
{
	char *colon = strrchr(it, ':');
	struct info_place *p;
	uint64_t n;

	if (!colon || colon == it || strlen(it) - strlen(colon) >= CFG_NAME_MAX)
		return -EBADMSG;
	*colon = '\0';
	if (parse_u64(colon + 1, &n) < 0)
		return -EBADMSG;
	p = find_place(gi, it);
	if (!p && !(p = add_place(gi, "??", it)))
		return -ENOMEM;
	p->bytes += n;
	return 0;
}

static int parse_type(const char *v, enum info_type *t)
{
	static const struct { const char *name; enum info_type type; } types[] = {
		{ "file", INFO_FILE }, { "dir", INFO_DIR },
		{ "symlink", INFO_SYMLINK }, { "other", INFO_OTHER },
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(v, types[i].name) == 0) {
			*t = types[i].type;
			return 0;
		}
	return -EBADMSG;
}

static int parse_src(const char *v, bool *set)
{
	if (strcmp(v, "set") == 0)
		*set = true;
	else if (strcmp(v, "inherited") == 0)
		*set = false;
	else
		return -EBADMSG;
	return 0;
}

static int parse_status(struct geo_info *gi, const char *v)
{
	snprintf(gi->status, sizeof(gi->status), "%s", v);	/* a long reason is cut */
	gi->misplaced = strncmp(v, "misplaced", 9) == 0;
	gi->reason = gi->status + (gi->misplaced ? 9 : strlen(gi->status));
	while (*gi->reason == ' ' || *gi->reason == ':')
		gi->reason++;
	return 0;
}

/* Backend_bytes is applied after placement so names join to countries. */
static int parse_line(struct geo_info *gi, char *key, char *v, char **bytes)
{
	uint64_t n;
	int r;

	if (strcmp(key, "type") == 0)
		return parse_type(v, &gi->type);
	if (strcmp(key, "category") == 0)
		return copy(gi->category, sizeof(gi->category), v);
	if (strcmp(key, "category_src") == 0)
		return parse_src(v, &gi->category_set);
	if (strcmp(key, "origin") == 0)
		return copy(gi->origin, sizeof(gi->origin), v);
	if (strcmp(key, "origin_src") == 0)
		return parse_src(v, &gi->origin_set);
	if (strcmp(key, "store_in") == 0)
		return copy(gi->store_in, sizeof(gi->store_in), v) ?: parse_cset(v, &gi->store_set);
	if (strcmp(key, "access_from") == 0)
		return copy(gi->access_from, sizeof(gi->access_from), v) ?:
			parse_cset(v, &gi->access_set);
	if (strcmp(key, "replicas") == 0) {
		r = parse_u64(v, &n);
		gi->replicas = (int)n;
		return r < 0 || n > 255 ? -EBADMSG : 0;
	}
	if (strcmp(key, "size") == 0) {
		gi->is_file_data = true;
		return parse_u64(v, &gi->size);
	}
	if (strcmp(key, "stored") == 0)
		return parse_u64(v, &gi->stored);
	if (strcmp(key, "shards") == 0)
		return parse_u64(v, &gi->shards);
	if (strcmp(key, "placement") == 0)
		return each_item(v, placement_item, gi);
	if (strcmp(key, "backend_bytes") == 0) {
		*bytes = v;
		return 0;
	}
	if (strcmp(key, "status") == 0)
		return parse_status(gi, v);
	return 0;	/* unknown keys: a newer daemon; ignore */
}

int info_parse(const char *text, size_t len, struct geo_info *gi)
{
	char *buf, *save = NULL, *bytes = NULL;
	bool have_type = false;
	int r = 0;

	memset(gi, 0, sizeof(*gi));
	strcpy(gi->status, "ok");
	gi->reason = gi->status + 2;
	while (len > 0 && text[len - 1] == '\0')
		len--;		/* a trailing NUL is tolerated, an embedded one is not */
	if (memchr(text, '\0', len))
		return -EBADMSG;
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, text, len);
	buf[len] = '\0';
	for (char *line = strtok_r(buf, "\n", &save); line && r == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		if (!eq) {
			r = -EBADMSG;
			break;
		}
		*eq = '\0';
		have_type |= strcmp(line, "type") == 0;
		r = parse_line(gi, line, eq + 1, &bytes);
	}
	if (r == 0 && bytes)
		r = each_item(bytes, bytes_item, gi);
	if (r == 0 && (!have_type || !gi->category[0] || !gi->origin[0]))
		r = -EBADMSG;
	free(buf);
	if (r < 0)
		info_free(gi);
	return r;
}

int info_get(const char *path, struct geo_info *gi)
{
	size_t cap = 4096;
	char *buf = NULL;
	ssize_t n;
	int r;

	memset(gi, 0, sizeof(*gi));	/* info_free() is safe whatever happens */
	for (;;) {
		char *nb = realloc(buf, cap);

		if (!nb) {
			free(buf);
			return -ENOMEM;
		}
		buf = nb;
		n = getxattr(path, XA_INFO, buf, cap);
		if (n >= 0 || errno != ERANGE || cap >= INFO_MAX)
			break;
		cap *= 4;
	}
	if (n < 0) {
		r = (errno == ENOTSUP || errno == ENODATA) ? -ENODATA : -errno;
		free(buf);
		return r;
	}
	r = info_parse(buf, (size_t)n, gi);
	free(buf);
	return r;
}

void info_free(struct geo_info *gi)
{
	if (!gi)
		return;
	free(gi->place);
	gi->place = NULL;
	gi->nplace = 0;
}

const char *info_strerror(int err)
{
	if (err == -ENODATA)
		return "not on a geofs mount (it has no user.geo.info)";
	if (err == -EBADMSG)
		return "the daemon's user.geo.info is malformed (geoctl and geofs versions differ?)";
	return strerror(-err);
}

bool info_looser(const struct geo_info *a, const struct geo_info *b)
{
	return !cset_subset(&a->store_set, &b->store_set) ||
	       !cset_subset(&a->access_set, &b->access_set);
}

uint64_t info_bytes_in(const struct geo_info *gi, const char *cc)
{
	uint64_t n = 0;

	for (int i = 0; i < gi->nplace; i++)
		if (strcmp(gi->place[i].country, cc) == 0)
			n += gi->place[i].bytes;
	return n;
}

bool info_may_store(const struct geo_info *gi, const char *cc)
{
	int idx = country_index(cc);

	return idx >= 0 && cset_has(&gi->store_set, idx);
}

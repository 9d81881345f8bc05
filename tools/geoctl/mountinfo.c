/*
 * mountinfo.c — geofs mounts from /proc/self/mountinfo (see mountinfo.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mountinfo.h"

#define GEOFS_FSTYPE "fuse.geofs"

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *o = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
}

/* "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw" */
static int parse(char *line, struct mount_entry *m)
{
	char *save = NULL, *f[5] = { 0 }, *tok;
	int i = 0;

	for (tok = strtok_r(line, " \n", &save); tok && i < 5; tok = strtok_r(NULL, " \n", &save))
		f[i++] = tok;
	if (i < 5)
		return -EINVAL;
	while (tok && strcmp(tok, "-") != 0)	/* optional fields */
		tok = strtok_r(NULL, " \n", &save);
	if (!tok)
		return -EINVAL;
	m->fstype = strtok_r(NULL, " \n", &save);
	m->source = strtok_r(NULL, " \n", &save);
	if (!m->fstype || !m->source)
		return -EINVAL;
	unescape(f[4]);
	unescape((char *)m->source);
	m->point = f[4];
	return 0;
}

int mountinfo_geofs(int (*fn)(const struct mount_entry *m, void *arg), void *arg)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int r = 0;

	if (!f)
		return -errno;
	while (r == 0 && getline(&line, &cap, f) > 0) {
		struct mount_entry m;

		if (parse(line, &m) == 0 && strcmp(m.fstype, GEOFS_FSTYPE) == 0)
			r = fn(&m, arg);
	}
	free(line);
	fclose(f);
	return r;
}

struct point_of {
	const char *real;
	char *out;
	size_t len, best;
};

static int longest(const struct mount_entry *m, void *arg)
{
	struct point_of *p = arg;
	size_t n = strlen(m->point);

	if (strncmp(p->real, m->point, n) == 0 && (p->real[n] == '/' || !p->real[n] ||
						   strcmp(m->point, "/") == 0) && n >= p->best) {
		snprintf(p->out, p->len, "%s", m->point);
		p->best = n;
	}
	return 0;
}

int mountinfo_point_of(const char *path, char *out, size_t len)
{
	char real[PATH_MAX];
	struct point_of p = { .real = real, .out = out, .len = len };
	int r;

	if (!realpath(path, real))
		return -errno;
	r = mountinfo_geofs(longest, &p);
	if (r < 0)
		return r;
	return p.best ? 0 : -ENOENT;
}

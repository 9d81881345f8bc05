/*
 * s3_creds.c — reading an AWS shared-credentials file (see s3_creds.h).
 * The file's bytes are read into locked memory too: they hold secrets of
 * every profile, not only the one wanted.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "s3_creds.h"
#include "secmem.h"

#define CREDS_FILE_MAX (256 * 1024)

static char *trim(char *s, char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	*end = '\0';
	return s;
}

/* True if section header text h (between [ and ]) names profile. */
static bool names_profile(const char *h, const char *profile)
{
	if (!strncmp(h, "profile", 7) && (h[7] == ' ' || h[7] == '\t'))
		for (h += 7; *h == ' ' || *h == '\t'; h++)
			;
	return !strcmp(h, profile);
}

static bool take(char *dst, const char *val)
{
	size_t n = strlen(val);

	if (!n || n >= S3_CRED_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)val[i] <= 0x20 || (unsigned char)val[i] >= 0x7f)
			return false;
	memcpy(dst, val, n + 1);
	return true;
}

/* Parses buf (NUL-terminated, changed in place) into c. */
static int parse(const char *name, char *buf, const char *profile, struct s3_creds *c,
		 char *err, size_t errlen)
{
	int line = 0, found = 0, idline = 0, secline = 0;
	bool in = false;
	char *next;

	for (char *s = buf; s; s = next) {
		char *nl = strchr(s, '\n'), *end = nl ? nl : s + strlen(s), *t, *eq;

		next = nl ? nl + 1 : NULL;
		line++;
		t = trim(s, end);
		if (!*t || *t == '#' || *t == ';')
			continue;
		if (*t == '[') {
			size_t n = strlen(t);

			if (t[n - 1] != ']') {
				snprintf(err, errlen, "%s:%d: section header does not end with ]; "
					 "expected [PROFILE]", name, line);
				return -EINVAL;
			}
			t[n - 1] = '\0';
			t = trim(t + 1, t + n - 1);
			in = names_profile(t, profile);
			found += in;
			continue;
		}
		eq = strchr(t, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%d: expected key = value, a [PROFILE] header or "
				 "a comment", name, line);
			return -EINVAL;
		}
		if (!in)
			continue;
		char *key = trim(t, eq), *val = trim(eq + 1, eq + 1 + strlen(eq + 1));
		if (!strcmp(key, "aws_access_key_id")) {
			if (!take(c->key_id, val)) {
				snprintf(err, errlen, "%s:%d: bad aws_access_key_id (empty, longer than "
					 "%d bytes, or with blanks or control characters)", name,
					 line, S3_CRED_MAX - 1);
				return -EINVAL;
			}
			idline = line;
		} else if (!strcmp(key, "aws_secret_access_key")) {
			if (!take(c->secret, val)) {
				snprintf(err, errlen, "%s:%d: bad aws_secret_access_key (empty, longer "
					 "than %d bytes, or with blanks or control characters)", name,
					 line, S3_CRED_MAX - 1);
				return -EINVAL;
			}
			secline = line;
		}
	}
	if (!found) {
		snprintf(err, errlen, "%s: no [%s] profile; expected a [%s] section with "
			 "aws_access_key_id and aws_secret_access_key", name, profile, profile);
		return -EINVAL;
	}
	if (!idline || !secline) {
		snprintf(err, errlen, "%s: profile [%s] has no %s; expected aws_access_key_id and "
			 "aws_secret_access_key", name, profile,
			 idline ? "aws_secret_access_key" : "aws_access_key_id");
		return -EINVAL;
	}
	return 0;
}

int s3_creds_parse(const char *name, const char *text, size_t len, const char *profile,
		   struct s3_creds **out, char *err, size_t errlen)
{
	size_t cap = secmem_round(len + 1);
	char *buf = secmem_alloc(cap);
	struct s3_creds *c = secmem_alloc(secmem_round(sizeof(*c)));
	int rc = -ENOMEM;

	*out = NULL;
	if (!buf || !c) {
		snprintf(err, errlen, "%s: out of memory", name);
		goto out;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (memchr(text, '\0', len)) {
		snprintf(err, errlen, "%s: holds a NUL byte; expected a text file", name);
		rc = -EINVAL;
		goto out;
	}
	rc = parse(name, buf, profile, c, err, errlen);
	if (!rc) {
		*out = c;
		c = NULL;
	}
out:
	secmem_free(buf, cap);
	s3_creds_free(c);
	return rc;
}

int s3_creds_load(const char *path, const char *profile, struct s3_creds **out,
		  char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), rc;
	size_t cap = secmem_round(CREDS_FILE_MAX);
	char *buf = NULL;
	struct stat st;
	long n;

	*out = NULL;
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		snprintf(err, errlen, "%s: not a regular file; expected an AWS shared-credentials file",
			 path);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		rc = -EACCES;
		snprintf(err, errlen, "%s: mode %04o gives group or others access to the S3 "
			 "credentials; run: chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		rc = -EACCES;
		snprintf(err, errlen, "%s: owned by uid %u, not by root or the user geofs runs as "
			 "(uid %u); run: chown %u %s", path, (unsigned)st.st_uid,
			 (unsigned)geteuid(), (unsigned)geteuid(), path);
		goto out;
	}
	if (st.st_size >= CREDS_FILE_MAX) {
		rc = -EFBIG;
		snprintf(err, errlen, "%s: larger than %d KiB; expected an AWS shared-credentials file",
			 path, CREDS_FILE_MAX / 1024);
		goto out;
	}
	buf = secmem_alloc(cap);
	if (!buf) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	n = fileio_pread_full(fd, buf, CREDS_FILE_MAX - 1, 0);
	if (n < 0) {
		rc = (int)n;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		goto out;
	}
	rc = s3_creds_parse(path, buf, (size_t)n, profile, out, err, errlen);
out:
	secmem_free(buf, cap);
	close(fd);
	return rc;
}

void s3_creds_free(struct s3_creds *c)
{
	secmem_free(c, secmem_round(sizeof(*c)));
}

/*
 * keyring_file.c — the keyring file format (see keys.h): the strict text
 * parser, loading a keyring file into locked memory, and writing one
 * (temp file, then rename or link). The keyring in memory is keys.c.
 *
 * Keyring grammar (one item per line, fields separated by blanks):
 *   file    = *( blank-line / comment ) header *( item / blank-line / comment )
 *   header  = "geofs-keyring" SP "1"
 *   item    = "master" SP HEX64
 *           / "domain" SP DOMAIN SP VERSION SP HEX64
 *           / "current" SP DOMAIN SP VERSION
 *   DOMAIN  = CC ":" 1*63( ALPHA / DIGIT / "_" / "." / "-" ), CC an ISO code
 *   VERSION = decimal 1..4294967295, no sign, no leading zero
 *   HEX64   = 64 hex digits (either case; written lower case)
 * Lines are at most KEYRING_LINE_MAX bytes; '#' (after optional blanks)
 * starts a comment line; a trailing CR is tolerated. At most one master,
 * one entry per (domain, version), one current per domain. Errors name
 * "FILE:LINE:" and never quote a field that may hold key bytes.
 *
 * Buffers holding a keyring's text (hex key bytes) sit in secmem.h memory
 * and are wiped when freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "appendf.h"
#include "fileio.h"
#include "keys.h"
#include "keys_int.h"

#include "secmem.h"

#define KEYRING_MAGIC     "geofs-keyring"
#define KEYRING_LINE_MAX  256
#define KEYRING_FILE_MAX  (4u << 20)	/* ~25k domain lines */

/* ---- small helpers ------------------------------------------------------ */

/* Exactly 2 * AEAD_KEY_LEN hex digits into key. 0 or -EINVAL. */
static int parse_key_hex(const char *s, uint8_t key[AEAD_KEY_LEN])
{
	if (strlen(s) != 2 * AEAD_KEY_LEN)
		return -EINVAL;
	for (int i = 0; i < AEAD_KEY_LEN; i++) {
		int hi = geo_hexval(s[2 * i]), lo = geo_hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* Decimal 1..UINT32_MAX, digits only, no leading zero. 0 or -EINVAL. */
static int parse_version(const char *s, uint32_t *out)
{
	uint64_t v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 10 || s[0] == '0')
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* ---- parsing ------------------------------------------------------------ */

struct parse_state {
	struct keyring *kr;
	const char *file;
	char *err;
	size_t errlen;
	int nerr;
	bool seen_header;
	bool stop;		/* not a keyring: read no further */
};

#define perr(ps, line, fmt, ...) do {						\
		appendf_line((ps)->err, (ps)->errlen, "%s:%d: " fmt, (ps)->file, (line),	\
			##__VA_ARGS__);						\
		(ps)->nerr++;							\
	} while (0)

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Splits line in place into at most max fields; returns the count, or
 * max + 1 if there are more. */
static int split_fields(char *line, char **f, int max)
{
	int n = 0;

	for (char *p = line; *p;) {
		while (is_blank(*p))
			p++;
		if (!*p)
			break;
		if (n == max)
			return max + 1;
		f[n++] = p;
		while (*p && !is_blank(*p))
			p++;
		if (*p)
			*p++ = '\0';
	}
	return n;
}

static void parse_master(struct parse_state *ps, int ln, char **f, int nf)
{
	if (nf != 2) {
		perr(ps, ln, "expected 'master HEX64'");
		return;
	}
	if (ps->kr->has_master) {
		perr(ps, ln, "second master line (a keyring holds one master)");
		return;
	}
	if (parse_key_hex(f[1], ps->kr->master) != 0) {
		crypto_wipe(ps->kr->master, AEAD_KEY_LEN);
		perr(ps, ln, "master key must be 64 hex digits");
		return;
	}
	ps->kr->has_master = true;
}

/* f[1] DOMAIN, f[2] VERSION shared by 'domain' and 'current' lines. */
static bool parse_dv(struct parse_state *ps, int ln, char **f, uint32_t *version)
{
	if (!keys_domain_valid(f[1])) {
		perr(ps, ln, "bad domain (expected CC:category, e.g. JP:medical)");
		return false;
	}
	if (parse_version(f[2], version) != 0) {
		perr(ps, ln, "bad version for %s (expected 1..4294967295)", f[1]);
		return false;
	}
	return true;
}

static void parse_domain(struct parse_state *ps, int ln, char **f, int nf)
{
	uint8_t key[AEAD_KEY_LEN];
	uint32_t v;
	int ret;

	if (nf != 4) {
		perr(ps, ln, "expected 'domain CC:category VERSION HEX64'");
		return;
	}
	if (!parse_dv(ps, ln, f, &v))
		return;
	if (find_domain(ps->kr, f[1], v)) {
		perr(ps, ln, "duplicate key for %s version %u", f[1], (unsigned)v);
		return;
	}
	if (parse_key_hex(f[3], key) != 0) {
		perr(ps, ln, "key of %s version %u must be 64 hex digits", f[1], (unsigned)v);
		goto out_wipe;
	}
	ret = keyring_add_domain(ps->kr, f[1], v, key);
	if (ret)
		perr(ps, ln, "cannot add %s: %s", f[1], strerror(-ret));
out_wipe:
	crypto_wipe(key, sizeof(key));
}

static void parse_current(struct parse_state *ps, int ln, char **f, int nf)
{
	uint32_t v;
	int ret;

	if (nf != 3) {
		perr(ps, ln, "expected 'current CC:category VERSION'");
		return;
	}
	if (!parse_dv(ps, ln, f, &v))
		return;
	if (find_current(ps->kr, f[1])) {
		perr(ps, ln, "second 'current' line for %s", f[1]);
		return;
	}
	ret = keyring_set_current(ps->kr, f[1], v);
	if (ret)
		perr(ps, ln, "cannot record %s: %s", f[1], strerror(-ret));
}

/* One line (NUL-terminated, no newline, at most KEYRING_LINE_MAX bytes). */
static void parse_line(struct parse_state *ps, int ln, char *line)
{
	char *f[5];
	int nf;

	nf = split_fields(line, f, 4);
	if (nf == 0 || f[0][0] == '#')
		return;
	if (!ps->seen_header) {
		if (nf == 2 && strcmp(f[0], KEYRING_MAGIC) == 0 && strcmp(f[1], "1") == 0)
			ps->seen_header = true;
		else if (nf == 2 && strcmp(f[0], KEYRING_MAGIC) == 0)
			perr(ps, ln, "unsupported keyring version (this geofs reads version 1)");
		else
			perr(ps, ln, "not a geofs keyring (expected first line '" KEYRING_MAGIC " 1')");
		/* Without the header nothing else is worth reading. */
		ps->stop = !ps->seen_header;
		return;
	}
	if (nf > 4)
		perr(ps, ln, "too many fields");
	else if (strcmp(f[0], "master") == 0)
		parse_master(ps, ln, f, nf);
	else if (strcmp(f[0], "domain") == 0)
		parse_domain(ps, ln, f, nf);
	else if (strcmp(f[0], "current") == 0)
		parse_current(ps, ln, f, nf);
	else
		perr(ps, ln, "unknown item (expected 'master', 'domain' or 'current')");
}

/* Parses text[0..len) into ps->kr; returns the number of errors. */
static int parse_text(struct parse_state *ps, const char *text, size_t len)
{
	char line[KEYRING_LINE_MAX + 1];
	size_t pos = 0;
	int ln = 0;

	while (pos < len && !ps->stop) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = (nl ? (size_t)(nl - text) : len) - pos;

		ln++;
		if (n > 0 && text[pos + n - 1] == '\r')
			n--;
		if (n > KEYRING_LINE_MAX) {
			perr(ps, ln, "line longer than %d bytes", KEYRING_LINE_MAX);
		} else if (memchr(text + pos, '\0', n)) {
			perr(ps, ln, "NUL byte in line");
		} else {
			memcpy(line, text + pos, n);
			line[n] = '\0';
			parse_line(ps, ln, line);
		}
		pos += (nl ? (size_t)(nl - text) - pos + 1 : len - pos);
	}
	crypto_wipe(line, sizeof(line));
	if (!ps->seen_header && ps->nerr == 0) {
		appendf_line(ps->err, ps->errlen, "%s: empty file (expected first line '"
			KEYRING_MAGIC " 1')", ps->file);
		ps->nerr++;
	}
	return ps->nerr;
}

/* Reads an open keyring file of about expect bytes into secure memory
 * (*buf, *bufsize, *len). A file that grew past its buffer is refused. */
static int read_secure(int fd, const char *path, size_t expect, char **buf, size_t *bufsize,
		       size_t *len, char *err, size_t errlen)
{
	size_t cap;
	char *b;
	long n;

	if (expect > KEYRING_FILE_MAX) {
		appendf_line(err, errlen, "%s: larger than %u bytes: not a keyring", path,
			KEYRING_FILE_MAX);
		return -EINVAL;
	}
	cap = secmem_round(expect + 1);
	b = secmem_alloc(cap);
	if (!b)
		return -ENOMEM;
	n = fileio_pread_full(fd, b, cap, 0);
	if (n < 0) {
		appendf_line(err, errlen, "%s: %s", path, strerror((int)-n));
		secmem_free(b, cap);
		return (int)n;
	}
	if ((size_t)n == cap) {
		appendf_line(err, errlen, "%s: changed while being read", path);
		secmem_free(b, cap);
		return -EAGAIN;
	}
	*buf = b;
	*bufsize = cap;
	*len = (size_t)n;
	return 0;
}

int keyring_parse(const char *name, const char *text, size_t len, struct keyring **out,
		  char *err, size_t errlen)
{
	struct parse_state ps = { .file = name ? name : "keyring", .err = err, .errlen = errlen };
	int ret;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (len > KEYRING_FILE_MAX) {
		appendf_line(err, errlen, "%s: larger than %u bytes: not a keyring", ps.file,
			KEYRING_FILE_MAX);
		return -EINVAL;
	}
	ret = keyring_new(false, &ps.kr);
	if (ret)
		return ret;
	if (parse_text(&ps, text, len) != 0) {
		keyring_free(ps.kr);
		return -EINVAL;
	}
	*out = ps.kr;
	return 0;
}

int keyring_load(const char *path, struct keyring **out, char *err, size_t errlen)
{
	size_t bufsize = 0, len = 0;
	char *buf = NULL;
	struct stat st;
	int fd, ret;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);	/* a FIFO must not block */
	if (fd < 0) {
		ret = -errno;
		if (ret == -ENOENT)
			appendf_line(err, errlen, "%s: no such keyring; create it with: "
				"geoctl keys init -c CONFIG", path);
		else
			appendf_line(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) != 0) {
		ret = -errno;
		appendf_line(err, errlen, "%s: %s", path, strerror(-ret));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		appendf_line(err, errlen, "%s: not a regular file", path);
		ret = -EINVAL;
		goto out_close;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		appendf_line(err, errlen, "%s: mode %04o gives group or others access to the keyring; "
			"run: chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
		ret = -EPERM;
		goto out_close;
	}
	/* As ssh does with its keys: whoever owns the file can change it. */
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		appendf_line(err, errlen, "%s: owned by uid %u, not by root or uid %u (who loads it); "
			"run: chown %u %s", path, (unsigned)st.st_uid, (unsigned)geteuid(),
			(unsigned)geteuid(), path);
		ret = -EPERM;
		goto out_close;
	}
	ret = read_secure(fd, path, (size_t)st.st_size, &buf, &bufsize, &len, err, errlen);
	if (ret)
		goto out_close;
	ret = keyring_parse(path, buf, len, out, err, errlen);
	secmem_free(buf, bufsize);
out_close:
	close(fd);
	return ret;
}

/* ---- writing ------------------------------------------------------------ */

static void hex_key(char out[2 * AEAD_KEY_LEN + 1], const uint8_t key[AEAD_KEY_LEN])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < AEAD_KEY_LEN; i++) {
		out[2 * i] = digits[key[i] >> 4];
		out[2 * i + 1] = digits[key[i] & 15];
	}
	out[2 * AEAD_KEY_LEN] = '\0';
}

int keyring_write(const struct keyring *kr, int fd)
{
	size_t per_line = KEYRING_LINE_MAX + 1;
	size_t cap = secmem_round(per_line * (3 + kr->ndom + kr->ncur));
	char *buf = secmem_alloc(cap);
	char hex[2 * AEAD_KEY_LEN + 1];
	size_t n = 0;
	int ret;

	if (!buf)
		return -ENOMEM;
	n += (size_t)snprintf(buf + n, cap - n, KEYRING_MAGIC " 1\n"
			      "# Secret key material: keep this file mode 0600. See geoctl keys --help.\n");
	if (kr->has_master) {
		hex_key(hex, kr->master);
		n += (size_t)snprintf(buf + n, cap - n, "master %s\n", hex);
	}
	for (size_t i = 0; i < kr->ndom; i++) {
		hex_key(hex, kr->dom[i].key);
		n += (size_t)snprintf(buf + n, cap - n, "domain %s %u %s\n", kr->dom[i].name,
				      (unsigned)kr->dom[i].version, hex);
	}
	for (size_t i = 0; i < kr->ncur; i++)
		n += (size_t)snprintf(buf + n, cap - n, "current %s %u\n", kr->cur[i].name,
				      (unsigned)kr->cur[i].version);
	crypto_wipe(hex, sizeof(hex));
	ret = fileio_write_all(fd, buf, n);
	secmem_free(buf, cap);
	return ret;
}

/* fsyncs the directory holding path, so a rename or link is durable. */
static int sync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd, ret = 0;

	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (!dir)
		return -ENOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		ret = -errno;
	if (fd >= 0)
		close(fd);
	free(dir);
	return ret;
}

int keyring_save(const struct keyring *kr, const char *path, bool exclusive,
		 char *err, size_t errlen)
{
	size_t tlen = strlen(path) + sizeof(".tmp-XXXXXX");
	char *tmp = malloc(tlen);
	int fd, ret = 0;

	if (err && errlen)
		err[0] = '\0';
	if (!tmp)
		return -ENOMEM;
	snprintf(tmp, tlen, "%s.tmp-XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC);	/* O_EXCL, mode 0600, same directory */
	if (fd < 0) {
		ret = -errno;
		appendf_line(err, errlen, "%s: cannot create a temporary file: %s", path,
			strerror(-ret));
		goto out_free;
	}
	if (fchmod(fd, 0600) != 0 || (ret = keyring_write(kr, fd)) != 0 || fsync(fd) != 0) {
		ret = ret ? ret : -errno;
		appendf_line(err, errlen, "%s: writing %s: %s", path, tmp, strerror(-ret));
		close(fd);
		goto out_unlink;
	}
	if (close(fd) != 0) {
		ret = -errno;
		appendf_line(err, errlen, "%s: writing %s: %s", path, tmp, strerror(-ret));
		goto out_unlink;
	}
	/* link() never replaces an existing name: the exclusive case. */
	if ((exclusive ? link(tmp, path) : rename(tmp, path)) != 0) {
		ret = -errno;
		if (ret == -EEXIST)
			appendf_line(err, errlen, "%s: exists; will not overwrite it", path);
		else
			appendf_line(err, errlen, "%s: %s", path, strerror(-ret));
		goto out_unlink;
	}
	if (exclusive)
		unlink(tmp);
	ret = sync_parent(path);
	if (ret)
		appendf_line(err, errlen, "%s: syncing its directory: %s", path, strerror(-ret));
	goto out_free;
out_unlink:
	unlink(tmp);
out_free:
	free(tmp);
	return ret;
}

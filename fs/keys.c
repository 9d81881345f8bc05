/*
 * keys.c — the site keyring (file format, locked memory, domain-key
 * derivation) and file-key wrapping. See keys.h.
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
 * All secrets (the keyring struct with the master, the domain-key table,
 * file buffers holding hex, files' data keys) sit in secmem.h memory:
 * mlock'ed when the limit allows, excluded from core dumps, wiped.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "country.h"
#include "keys.h"
#include "secmem.h"

#define KEYRING_MAGIC     "geofs-keyring"
#define KEYRING_LINE_MAX  256
#define KEYRING_FILE_MAX  (4u << 20)	/* ~25k domain lines */
#define KEYS_HKDF_SALT    "geofs-keyring-v1"
#define KEYS_WRAP_LABEL   "geofs-wrap-v1"
#define KEYS_CAT_MAX      63

struct kr_domain {
	char name[KEYS_DOMAIN_MAX];
	uint32_t version;
	uint8_t key[AEAD_KEY_LEN];
};

struct kr_current {
	char name[KEYS_DOMAIN_MAX];
	uint32_t version;
};

/* The struct itself lives in secure memory (it holds the master). */
struct keyring {
	size_t self_size;
	bool has_master;
	uint8_t master[AEAD_KEY_LEN];
	struct kr_domain *dom;		/* secure memory, dom_size bytes */
	size_t ndom, dom_size;
	struct kr_current *cur;		/* plain heap: no secrets */
	size_t ncur, ncur_cap;
};

void *keys_secret_alloc(size_t n)
{
	return n <= SECMEM_SLOT ? secmem_slot_alloc() : secmem_alloc(secmem_round(n));
}

void keys_secret_free(void *p, size_t n)
{
	if (n <= SECMEM_SLOT)
		secmem_slot_free(p);
	else
		secmem_free(p, secmem_round(n));
}

/* ---- small helpers ------------------------------------------------------ */

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Appends one formatted line to err (always NUL-terminated, truncates). */
static void __attribute__((format(printf, 3, 4)))
err_add(char *err, size_t errlen, const char *fmt, ...)
{
	size_t used;
	va_list ap;

	if (!err || errlen == 0)
		return;
	used = strnlen(err, errlen - 1);
	if (used && used < errlen - 1)
		err[used++] = '\n';
	err[used] = '\0';
	va_start(ap, fmt);
	vsnprintf(err + used, errlen - used, fmt, ap);
	va_end(ap);
}

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

bool keys_domain_valid(const char *domain)
{
	char cc[3];
	size_t n;

	if (!domain || strnlen(domain, KEYS_DOMAIN_MAX) >= KEYS_DOMAIN_MAX)
		return false;
	if (!domain[0] || !domain[1] || domain[2] != ':')
		return false;
	memcpy(cc, domain, 2);
	cc[2] = '\0';
	if (country_index(cc) < 0)
		return false;
	n = strlen(domain + 3);
	if (n < 1 || n > KEYS_CAT_MAX)
		return false;
	for (const char *p = domain + 3; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
			return false;
	return true;
}

void keys_domain(char out[KEYS_DOMAIN_MAX], const char *origin, const char *category)
{
	snprintf(out, KEYS_DOMAIN_MAX, "%s:%s", origin, category);
}

/* ---- the keyring in memory ---------------------------------------------- */

int keyring_new(bool with_master, struct keyring **out)
{
	size_t sz = secmem_round(sizeof(struct keyring));
	struct keyring *kr = secmem_alloc(sz);
	int ret;

	*out = NULL;
	if (!kr)
		return -ENOMEM;
	kr->self_size = sz;
	if (with_master) {
		ret = crypto_random(kr->master, AEAD_KEY_LEN);
		if (ret) {
			secmem_free(kr, sz);
			return ret;
		}
		kr->has_master = true;
	}
	*out = kr;
	return 0;
}

void keyring_free(struct keyring *kr)
{
	if (!kr)
		return;
	secmem_free(kr->dom, kr->dom_size);
	free(kr->cur);
	secmem_free(kr, kr->self_size);
}

bool keyring_has_master(const struct keyring *kr)
{
	return kr->has_master;
}

static struct kr_domain *find_domain(const struct keyring *kr, const char *d, uint32_t v)
{
	for (size_t i = 0; i < kr->ndom; i++)
		if (kr->dom[i].version == v && strcmp(kr->dom[i].name, d) == 0)
			return &kr->dom[i];
	return NULL;
}

static struct kr_current *find_current(const struct keyring *kr, const char *d)
{
	for (size_t i = 0; i < kr->ncur; i++)
		if (strcmp(kr->cur[i].name, d) == 0)
			return &kr->cur[i];
	return NULL;
}

int keyring_add_domain(struct keyring *kr, const char *domain, uint32_t version,
		       const uint8_t key[AEAD_KEY_LEN])
{
	struct kr_domain *e;

	if (!keys_domain_valid(domain) || version == 0)
		return -EINVAL;
	e = find_domain(kr, domain, version);
	if (!e) {
		if ((kr->ndom + 1) * sizeof(*e) > kr->dom_size) {
			size_t nsz = secmem_round((kr->ndom + 1) * sizeof(*e) * 2);
			struct kr_domain *nd = secmem_alloc(nsz);

			if (!nd)
				return -ENOMEM;
			if (kr->ndom)
				memcpy(nd, kr->dom, kr->ndom * sizeof(*e));
			secmem_free(kr->dom, kr->dom_size);
			kr->dom = nd;
			kr->dom_size = nsz;
		}
		e = &kr->dom[kr->ndom++];
		snprintf(e->name, sizeof(e->name), "%s", domain);
		e->version = version;
	}
	memcpy(e->key, key, AEAD_KEY_LEN);
	return 0;
}

int keyring_set_current(struct keyring *kr, const char *domain, uint32_t version)
{
	struct kr_current *c;

	if (!keys_domain_valid(domain) || version == 0)
		return -EINVAL;
	c = find_current(kr, domain);
	if (!c) {
		if (kr->ncur == kr->ncur_cap) {
			size_t ncap = kr->ncur_cap ? 2 * kr->ncur_cap : 16;
			struct kr_current *nc = realloc(kr->cur, ncap * sizeof(*nc));

			if (!nc)
				return -ENOMEM;
			kr->cur = nc;
			kr->ncur_cap = ncap;
		}
		c = &kr->cur[kr->ncur++];
		snprintf(c->name, sizeof(c->name), "%s", domain);
	}
	c->version = version;
	return 0;
}

uint32_t keyring_current(const struct keyring *kr, const char *domain)
{
	const struct kr_current *c = find_current(kr, domain);

	return c ? c->version : 1;
}

void keyring_foreach_domain(const struct keyring *kr,
			    void (*fn)(const char *domain, uint32_t version, void *arg), void *arg)
{
	for (size_t i = 0; i < kr->ndom; i++)
		fn(kr->dom[i].name, kr->dom[i].version, arg);
}

void keyring_foreach_current(const struct keyring *kr,
			     void (*fn)(const char *domain, uint32_t version, void *arg), void *arg)
{
	for (size_t i = 0; i < kr->ncur; i++)
		fn(kr->cur[i].name, kr->cur[i].version, arg);
}

bool keyring_has_explicit(const struct keyring *kr, const char *domain, uint32_t version)
{
	return find_domain(kr, domain, version) != NULL;
}

int keyring_domain_key(const struct keyring *kr, const char *domain, uint32_t version,
		       uint8_t key[AEAD_KEY_LEN])
{
	const struct kr_domain *e;
	char info[sizeof("geofs domain  v4294967295") + KEYS_DOMAIN_MAX];
	int n;

	if (!keys_domain_valid(domain) || version == 0)
		return -EINVAL;
	e = find_domain(kr, domain, version);
	if (e) {
		memcpy(key, e->key, AEAD_KEY_LEN);
		return 0;
	}
	if (!kr->has_master)
		return -ENOKEY;
	n = snprintf(info, sizeof(info), "geofs domain %s v%u", domain, (unsigned)version);
	return crypto_hkdf(kr->master, AEAD_KEY_LEN, KEYS_HKDF_SALT, strlen(KEYS_HKDF_SALT),
			   info, (size_t)n, key, AEAD_KEY_LEN);
}

int keyring_rotate(struct keyring *kr, const char *domain, uint32_t *newver, bool *fresh)
{
	uint32_t cur = keyring_current(kr, domain), next;
	uint8_t key[AEAD_KEY_LEN];
	int ret;

	*fresh = false;
	ret = keyring_domain_key(kr, domain, cur, key);	/* also validates domain */
	if (ret)
		return ret;
	if (cur == UINT32_MAX) {
		ret = -EOVERFLOW;
		goto out;
	}
	next = cur + 1;
	/* A domain whose keys came from elsewhere must not switch to keys
	 * derived from this site's master, which its home site cannot know. */
	if (!find_domain(kr, domain, next) &&
	    (!kr->has_master || find_domain(kr, domain, cur))) {
		ret = crypto_random(key, sizeof(key));
		if (!ret)
			ret = keyring_add_domain(kr, domain, next, key);
		if (ret)
			goto out;
		*fresh = true;
	}
	ret = keyring_set_current(kr, domain, next);
	if (ret) {
		if (*fresh)	/* drop the entry just appended: kr unchanged */
			crypto_wipe(&kr->dom[--kr->ndom], sizeof(kr->dom[0]));
		*fresh = false;
		goto out;
	}
	*newver = next;
out:
	crypto_wipe(key, sizeof(key));
	return ret;
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
		err_add((ps)->err, (ps)->errlen, "%s:%d: " fmt, (ps)->file, (line),	\
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
		err_add(ps->err, ps->errlen, "%s: empty file (expected first line '"
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
	size_t cap, got = 0;
	char *b;

	if (expect > KEYRING_FILE_MAX) {
		err_add(err, errlen, "%s: larger than %u bytes: not a keyring", path,
			KEYRING_FILE_MAX);
		return -EINVAL;
	}
	cap = secmem_round(expect + 1);
	b = secmem_alloc(cap);
	if (!b)
		return -ENOMEM;
	for (;;) {
		ssize_t r = read(fd, b + got, cap - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;

			err_add(err, errlen, "%s: %s", path, strerror(e));
			secmem_free(b, cap);
			return -e;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got == cap) {
			err_add(err, errlen, "%s: changed while being read", path);
			secmem_free(b, cap);
			return -EAGAIN;
		}
	}
	*buf = b;
	*bufsize = cap;
	*len = got;
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
		err_add(err, errlen, "%s: larger than %u bytes: not a keyring", ps.file,
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
			err_add(err, errlen, "%s: no such keyring; create it with: "
				"geoctl keys init -c CONFIG", path);
		else
			err_add(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) != 0) {
		ret = -errno;
		err_add(err, errlen, "%s: %s", path, strerror(-ret));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		err_add(err, errlen, "%s: not a regular file", path);
		ret = -EINVAL;
		goto out_close;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		err_add(err, errlen, "%s: mode %04o gives group or others access to the keyring; "
			"run: chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
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

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
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
	ret = write_all(fd, buf, n);
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
		err_add(err, errlen, "%s: cannot create a temporary file: %s", path,
			strerror(-ret));
		goto out_free;
	}
	if (fchmod(fd, 0600) != 0 || (ret = keyring_write(kr, fd)) != 0 || fsync(fd) != 0) {
		ret = ret ? ret : -errno;
		err_add(err, errlen, "%s: writing %s: %s", path, tmp, strerror(-ret));
		close(fd);
		goto out_unlink;
	}
	if (close(fd) != 0) {
		ret = -errno;
		err_add(err, errlen, "%s: writing %s: %s", path, tmp, strerror(-ret));
		goto out_unlink;
	}
	/* link() never replaces an existing name: the exclusive case. */
	if ((exclusive ? link(tmp, path) : rename(tmp, path)) != 0) {
		ret = -errno;
		if (ret == -EEXIST)
			err_add(err, errlen, "%s: exists; will not overwrite it", path);
		else
			err_add(err, errlen, "%s: %s", path, strerror(-ret));
		goto out_unlink;
	}
	if (exclusive)
		unlink(tmp);
	ret = sync_parent(path);
	if (ret)
		err_add(err, errlen, "%s: syncing its directory: %s", path, strerror(-ret));
	goto out_free;
out_unlink:
	unlink(tmp);
out_free:
	free(tmp);
	return ret;
}

/* ---- wrapping file keys ------------------------------------------------- */

#define WRAP_AAD_MAX (sizeof(KEYS_WRAP_LABEL) - 1 + GEO_ID_LEN + KEYS_DOMAIN_MAX + 4)

/* "geofs-wrap-v1" | file id | domain | 0 | version u32 LE. Returns length
 * or -EINVAL for an over-long domain. */
static int wrap_aad(uint8_t aad[WRAP_AAD_MAX], const struct geo_id *fid, const char *domain,
		    uint32_t version)
{
	size_t dl = strnlen(domain, KEYS_DOMAIN_MAX), off = sizeof(KEYS_WRAP_LABEL) - 1;

	if (dl >= KEYS_DOMAIN_MAX)
		return -EINVAL;
	memcpy(aad, KEYS_WRAP_LABEL, off);
	memcpy(aad + off, fid->b, GEO_ID_LEN);
	off += GEO_ID_LEN;
	memcpy(aad + off, domain, dl + 1);	/* with its NUL */
	off += dl + 1;
	put_le32(aad + off, version);
	return (int)(off + 4);
}

int keys_wrap(const uint8_t dkey[AEAD_KEY_LEN], const struct geo_id *fid,
	      const char *domain, uint32_t version, const uint8_t fkey[AEAD_KEY_LEN],
	      uint8_t out[KEYS_WRAPPED_LEN])
{
	uint8_t aad[WRAP_AAD_MAX];
	int alen, ret;

	alen = wrap_aad(aad, fid, domain, version);
	if (alen < 0)
		return alen;
	ret = crypto_random(out, AEAD_NONCE_LEN);
	if (ret)
		return ret;
	return crypto_aead_seal(dkey, out, aad, (size_t)alen, fkey, AEAD_KEY_LEN,
				out + AEAD_NONCE_LEN, out + AEAD_NONCE_LEN + AEAD_KEY_LEN);
}

int keys_unwrap(const uint8_t dkey[AEAD_KEY_LEN], const struct geo_id *fid,
		const char *domain, uint32_t version, const uint8_t in[KEYS_WRAPPED_LEN],
		uint8_t fkey[AEAD_KEY_LEN])
{
	uint8_t aad[WRAP_AAD_MAX];
	int alen;

	alen = wrap_aad(aad, fid, domain, version);
	if (alen < 0)
		return -EIO;
	return crypto_aead_open(dkey, in, aad, (size_t)alen, in + AEAD_NONCE_LEN,
				AEAD_KEY_LEN, fkey, in + AEAD_NONCE_LEN + AEAD_KEY_LEN);
}

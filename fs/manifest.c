/*
 * manifest.c — the per-file manifest in memory and on disk. See manifest.h.
 *
 * Serialized layout (all integers little endian):
 *   off  size  field
 *     0     8  magic "GEOMAN01"
 *     8    16  file id
 *    24     8  generation
 *    32     8  size (logical bytes)
 *    40     4  shard_size, CFG_SHARD_MIN..CFG_SHARD_MAX
 *    44     1  flags, only MANIFEST_CAT_SET | MANIFEST_ORIGIN_SET
 *    45     1  category length L, 1..CFG_NAME_MAX-1
 *    46     L  category, [A-Za-z0-9_.-]
 *            2  origin, two upper-case ASCII letters
 *            4  key_version, >= 1
 *           60  wrapped data key (KEYS_WRAPPED_LEN)
 *            1  backend count B, 0..MANIFEST_MAX_BACKENDS
 *    B times:   u8 length N (1..CFG_NAME_MAX-1), N bytes of printable ASCII
 *               without blanks; names are distinct
 *            8  entry count E: shards that hold data (holes are absent)
 *    E times, index strictly increasing:
 *            8  shard index, < ceil(size / shard_size)
 *            8  generation the shard was encoded with
 *            4  object length, CODEC_OVERHEAD..codec_max_object(shard_size)
 *            1  replica count R, 1..CFG_MAX_REPLICAS
 *       R times: u8 backend (< B), 16-byte object id
 *            4  CRC-32C (Castagnoli) of every preceding byte
 * Nothing may follow the checksum.
 *
 * In memory, shards[] is dense but only reaches the highest stored index
 * (+1): indices at or past nshards are holes. Parsing allocates it with
 * calloc and touches only stored entries, and refuses a stored index past
 * MANIFEST_MAX_DENSE, so a small hostile input costs at most that much
 * address space and about a page per entry it really contains.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "manifest.h"

#define MAN_MAGIC      "GEOMAN01"
#define MAN_MAGIC_LEN  8
#define MAN_FIXED_LEN  (MAN_MAGIC_LEN + GEO_ID_LEN + 8 + 8 + 4 + 1 + 1 + 2 + 4 + \
			KEYS_WRAPPED_LEN + 1 + 8 + 4)	/* without strings and entries */
#define MAN_ENTRY_LEN  (8 + 8 + 4 + 1)			/* without replicas */
#define MAN_REP_LEN    (1 + GEO_ID_LEN)
#define MAN_FLAGS_ALL  (MANIFEST_CAT_SET | MANIFEST_ORIGIN_SET)

/* ---- CRC-32C ------------------------------------------------------------ */

static uint32_t crc32c_table[256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static void crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;	/* reflected 0x1EDC6F41 */
		crc32c_table[i] = c;
	}
}

static uint32_t crc32c(const uint8_t *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;

	pthread_once(&crc32c_once, crc32c_init);
	while (n--)
		c = crc32c_table[(c ^ *p++) & 0xFF] ^ (c >> 8);
	return c ^ 0xFFFFFFFFu;
}

/* ---- in memory ---------------------------------------------------------- */

struct manifest *manifest_new(void)
{
	struct manifest *m = calloc(1, sizeof(*m));

	if (m)
		m->key_version = 1;
	return m;
}

void manifest_free(struct manifest *m)
{
	if (!m)
		return;
	free(m->shards);
	free(m);
}

int manifest_reserve(struct manifest *m, uint64_t n)
{
	struct shard_ref *ns;
	uint64_t ncap;

	if (n <= m->nshards)
		return 0;
	if (n > MANIFEST_MAX_DENSE)
		return -EFBIG;
	if (!m->shards) {
		/* calloc: holes stay untouched zero pages until written */
		ns = calloc(n, sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		m->shards = ns;
		m->cap = m->nshards = n;
		return 0;
	}
	if (n > m->cap) {
		ncap = m->cap * 2 > n ? m->cap * 2 : n;
		if (ncap > MANIFEST_MAX_DENSE)
			ncap = MANIFEST_MAX_DENSE;
		ns = realloc(m->shards, ncap * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		m->shards = ns;
		m->cap = ncap;
	}
	/* Entries past nshards may be stale if the caller shrank nshards. */
	memset(&m->shards[m->nshards], 0, (n - m->nshards) * sizeof(*ns));
	m->nshards = n;
	return 0;
}

struct manifest *manifest_dup(const struct manifest *m)
{
	struct manifest *d = malloc(sizeof(*d));

	if (!d)
		return NULL;
	*d = *m;
	d->shards = NULL;
	d->nshards = d->cap = 0;
	if (m->nshards) {
		d->shards = calloc(m->nshards, sizeof(*d->shards));
		if (!d->shards) {
			free(d);
			return NULL;
		}
		d->nshards = d->cap = m->nshards;
		for (uint64_t i = 0; i < m->nshards; i++)
			if (m->shards[i].nrep)	/* holes stay untouched zero pages */
				d->shards[i] = m->shards[i];
	}
	return d;
}

int manifest_backend(struct manifest *m, const char *name)
{
	size_t len = strnlen(name, CFG_NAME_MAX);

	for (int i = 0; i < m->nbackends; i++)
		if (strcmp(m->bnames[i], name) == 0)
			return i;
	if (len == 0 || len >= CFG_NAME_MAX)
		return -EINVAL;
	if (m->nbackends >= MANIFEST_MAX_BACKENDS)
		return -ENOSPC;
	memcpy(m->bnames[m->nbackends], name, len + 1);
	return m->nbackends++;
}

uint64_t manifest_stored_bytes(const struct manifest *m)
{
	uint64_t sum = 0;

	for (uint64_t i = 0; i < m->nshards; i++)
		sum += (uint64_t)m->shards[i].objlen * m->shards[i].nrep;
	return sum;
}

/* ---- validation shared by serialize and parse --------------------------- */

/* Writes the reason into err (if any) and returns -EINVAL. */
static int __attribute__((format(printf, 3, 4)))
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool category_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

static bool backend_char_ok(char c)
{
	return c > ' ' && c < 0x7f;
}

static bool name_ok(const char *s, bool (*char_ok)(char))
{
	size_t n = strnlen(s, CFG_NAME_MAX);

	if (n == 0 || n >= CFG_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!char_ok(s[i]))
			return false;
	return true;
}

uint64_t manifest_shards_for(const struct manifest *m, uint64_t size)
{
	if (m->shard_size == 0)
		return 0;
	return size / m->shard_size + (size % m->shard_size != 0);
}

/* Everything but the shard table. 0 or -EINVAL with a reason. */
static int check_fields(const struct manifest *m, char *err, size_t errlen)
{
	if (m->shard_size < CFG_SHARD_MIN || m->shard_size > CFG_SHARD_MAX)
		return fail(err, errlen, "shard size %u out of range", m->shard_size);
	if (manifest_shards_for(m, m->size) > MANIFEST_MAX_SHARDS)
		return fail(err, errlen, "size needs more than %llu shards",
			       (unsigned long long)MANIFEST_MAX_SHARDS);
	if (m->flags & ~MAN_FLAGS_ALL)
		return fail(err, errlen, "unknown flags 0x%02x", m->flags);
	if (!name_ok(m->category, category_char_ok))
		return fail(err, errlen, "bad category name");
	if (m->origin[0] < 'A' || m->origin[0] > 'Z' || m->origin[1] < 'A' ||
	    m->origin[1] > 'Z' || m->origin[2] != '\0')
		return fail(err, errlen, "bad origin");
	if (m->key_version == 0)
		return fail(err, errlen, "key version 0");
	if (m->nbackends < 0 || m->nbackends > MANIFEST_MAX_BACKENDS)
		return fail(err, errlen, "bad backend count");
	for (int i = 0; i < m->nbackends; i++) {
		if (!name_ok(m->bnames[i], backend_char_ok))
			return fail(err, errlen, "bad backend name #%d", i);
		for (int j = 0; j < i; j++)
			if (strcmp(m->bnames[i], m->bnames[j]) == 0)
				return fail(err, errlen, "duplicate backend name #%d", i);
	}
	return 0;
}

/* One stored shard (nrep != 0). 0 or -EINVAL with a reason. */
static int check_shard(const struct manifest *m, uint64_t idx, const struct shard_ref *s,
		       char *err, size_t errlen)
{
	if (idx >= manifest_shards_for(m, m->size))
		return fail(err, errlen, "shard %llu lies past the end of the file",
			       (unsigned long long)idx);
	if (s->nrep < 1 || s->nrep > CFG_MAX_REPLICAS)
		return fail(err, errlen, "shard %llu: bad replica count",
			       (unsigned long long)idx);
	if (s->objlen < CODEC_OVERHEAD || s->objlen > codec_max_object(m->shard_size))
		return fail(err, errlen, "shard %llu: bad object length",
			       (unsigned long long)idx);
	for (int r = 0; r < s->nrep; r++)
		if (s->rep[r].backend >= m->nbackends)
			return fail(err, errlen, "shard %llu: backend index out of range",
				       (unsigned long long)idx);
	return 0;
}

/* ---- serialize ---------------------------------------------------------- */

static uint8_t *put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + n;
}

static uint8_t *put_bytes(uint8_t *p, const void *src, size_t n)
{
	memcpy(p, src, n);
	return p + n;
}

static uint8_t *put_name(uint8_t *p, const char *s)
{
	size_t n = strlen(s);

	*p++ = (uint8_t)n;
	return put_bytes(p, s, n);
}

int manifest_serialize(const struct manifest *m, uint8_t **out, size_t *len)
{
	size_t total = MAN_FIXED_LEN + strlen(m->category);
	uint64_t nent = 0;
	uint8_t *buf, *p;
	int ret;

	*out = NULL;
	*len = 0;
	ret = check_fields(m, NULL, 0);
	if (ret)
		return ret;
	for (int i = 0; i < m->nbackends; i++)
		total += 1 + strlen(m->bnames[i]);
	for (uint64_t i = 0; i < m->nshards; i++) {
		const struct shard_ref *s = &m->shards[i];

		if (!s->nrep)
			continue;
		ret = check_shard(m, i, s, NULL, 0);
		if (ret)
			return ret;
		total += MAN_ENTRY_LEN + (size_t)s->nrep * MAN_REP_LEN;
		nent++;
	}

	buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	p = put_bytes(buf, MAN_MAGIC, MAN_MAGIC_LEN);
	p = put_bytes(p, m->id.b, GEO_ID_LEN);
	p = put_le(p, m->generation, 8);
	p = put_le(p, m->size, 8);
	p = put_le(p, m->shard_size, 4);
	*p++ = m->flags;
	p = put_name(p, m->category);
	p = put_bytes(p, m->origin, 2);
	p = put_le(p, m->key_version, 4);
	p = put_bytes(p, m->wrapped_key, KEYS_WRAPPED_LEN);
	*p++ = (uint8_t)m->nbackends;
	for (int i = 0; i < m->nbackends; i++)
		p = put_name(p, m->bnames[i]);
	p = put_le(p, nent, 8);
	for (uint64_t i = 0; i < m->nshards; i++) {
		const struct shard_ref *s = &m->shards[i];

		if (!s->nrep)
			continue;
		p = put_le(p, i, 8);
		p = put_le(p, s->gen, 8);
		p = put_le(p, s->objlen, 4);
		*p++ = s->nrep;
		for (int r = 0; r < s->nrep; r++) {
			*p++ = s->rep[r].backend;
			p = put_bytes(p, s->rep[r].oid.b, GEO_ID_LEN);
		}
	}
	p = put_le(p, crc32c(buf, (size_t)(p - buf)), 4);
	*out = buf;
	*len = (size_t)(p - buf);
	return 0;
}

/* ---- parse -------------------------------------------------------------- */

struct reader {
	const uint8_t *p;
	size_t left;
};

static bool rd_bytes(struct reader *r, void *dst, size_t n)
{
	if (r->left < n)
		return false;
	memcpy(dst, r->p, n);
	r->p += n;
	r->left -= n;
	return true;
}

static bool rd_le(struct reader *r, uint64_t *v, int n)
{
	uint8_t b[8];

	if (!rd_bytes(r, b, (size_t)n))
		return false;
	*v = 0;
	for (int i = n - 1; i >= 0; i--)
		*v = *v << 8 | b[i];
	return true;
}

/* u8 length (1..CFG_NAME_MAX-1) + bytes into out, NUL-terminated. */
static bool rd_name(struct reader *r, char out[CFG_NAME_MAX])
{
	uint8_t n;

	if (!rd_bytes(r, &n, 1) || n == 0 || n >= CFG_NAME_MAX || !rd_bytes(r, out, n))
		return false;
	out[n] = '\0';
	return strlen(out) == n;	/* no embedded NUL */
}

static int parse_header(struct reader *r, struct manifest *m, char *err, size_t errlen)
{
	uint64_t shard_size, flags, key_version, nb;

	if (!rd_bytes(r, m->id.b, GEO_ID_LEN) || !rd_le(r, &m->generation, 8) ||
	    !rd_le(r, &m->size, 8) || !rd_le(r, &shard_size, 4) || !rd_le(r, &flags, 1))
		return fail(err, errlen, "truncated header");
	if (!rd_name(r, m->category))
		return fail(err, errlen, "bad or truncated category");
	if (!rd_bytes(r, m->origin, 2) || !rd_le(r, &key_version, 4) ||
	    !rd_bytes(r, m->wrapped_key, KEYS_WRAPPED_LEN) || !rd_le(r, &nb, 1))
		return fail(err, errlen, "truncated header");
	m->origin[2] = '\0';
	m->shard_size = (uint32_t)shard_size;
	m->flags = (uint8_t)flags;
	m->key_version = (uint32_t)key_version;
	m->nbackends = (int)nb;
	for (int i = 0; i < m->nbackends; i++)
		if (!rd_name(r, m->bnames[i]))
			return fail(err, errlen, "bad or truncated backend name");
	return check_fields(m, err, errlen);
}

/* Reads one entry into *idx and *s; on the second pass the caller already
 * knows it is valid. 0 or -EINVAL. */
static int read_entry(struct reader *r, const struct manifest *m, uint64_t *idx,
		      struct shard_ref *s, char *err, size_t errlen)
{
	uint64_t gen, objlen, nrep;

	memset(s, 0, sizeof(*s));
	if (!rd_le(r, idx, 8) || !rd_le(r, &gen, 8) || !rd_le(r, &objlen, 4) ||
	    !rd_le(r, &nrep, 1))
		return fail(err, errlen, "truncated shard table");
	if (nrep < 1 || nrep > CFG_MAX_REPLICAS)
		return fail(err, errlen, "shard %llu: bad replica count",
			       (unsigned long long)*idx);
	s->gen = gen;
	s->objlen = (uint32_t)objlen;
	s->nrep = (uint8_t)nrep;
	for (int i = 0; i < s->nrep; i++)
		if (!rd_bytes(r, &s->rep[i].backend, 1) ||
		    !rd_bytes(r, s->rep[i].oid.b, GEO_ID_LEN))
			return fail(err, errlen, "truncated shard table");
	return check_shard(m, *idx, s, err, errlen);
}

/* Pass one: validates count entries in order; *top gets the last index. */
static int scan_entries(struct reader r, const struct manifest *m, uint64_t count,
			uint64_t *top, char *err, size_t errlen)
{
	struct shard_ref s;
	uint64_t idx;
	int ret;

	for (uint64_t i = 0; i < count; i++) {
		ret = read_entry(&r, m, &idx, &s, err, errlen);
		if (ret)
			return ret;
		if (i > 0 && idx <= *top)
			return fail(err, errlen, "shard indices not strictly increasing");
		*top = idx;
	}
	if (r.left != 0)
		return fail(err, errlen, "trailing bytes after the shard table");
	return 0;
}

int manifest_parse(const uint8_t *buf, size_t len, struct manifest **out,
		   char *err, size_t errlen)
{
	struct reader r;
	struct manifest *m;
	uint64_t count, top = 0, idx, stored_crc;
	int ret;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (len < MAN_FIXED_LEN)
		return fail(err, errlen, "truncated manifest");
	if (memcmp(buf, MAN_MAGIC, MAN_MAGIC_LEN) != 0)
		return fail(err, errlen, "not a manifest (bad magic)");
	r = (struct reader){ buf + len - 4, 4 };
	rd_le(&r, &stored_crc, 4);
	if (crc32c(buf, len - 4) != stored_crc)
		return fail(err, errlen, "bad checksum");

	m = manifest_new();
	if (!m)
		return -ENOMEM;
	r = (struct reader){ buf + MAN_MAGIC_LEN, len - MAN_MAGIC_LEN - 4 };
	ret = parse_header(&r, m, err, errlen);
	if (ret)
		goto out_free;
	if (!rd_le(&r, &count, 8)) {
		ret = fail(err, errlen, "truncated shard count");
		goto out_free;
	}
	/* Every entry takes at least MAN_ENTRY_LEN + MAN_REP_LEN bytes. */
	if (count > r.left / (MAN_ENTRY_LEN + MAN_REP_LEN)) {
		ret = fail(err, errlen, "shard count exceeds the manifest's length");
		goto out_free;
	}
	ret = scan_entries(r, m, count, &top, err, errlen);
	if (ret)
		goto out_free;
	if (count == 0)
		goto out_ok;
	if (top >= MANIFEST_MAX_DENSE) {
		ret = fail(err, errlen, "shard %llu beyond the supported %llu",
			      (unsigned long long)top, (unsigned long long)MANIFEST_MAX_DENSE);
		goto out_free;
	}
	ret = manifest_reserve(m, top + 1);
	if (ret)
		goto out_free;
	for (uint64_t i = 0; i < count; i++) {
		struct shard_ref s;

		read_entry(&r, m, &idx, &s, NULL, 0);	/* validated by scan_entries */
		m->shards[idx] = s;
	}
out_ok:
	*out = m;
	return 0;
out_free:
	manifest_free(m);
	return ret;
}

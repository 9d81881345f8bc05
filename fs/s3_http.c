/*
 * s3_http.c — the S3 transport over libcurl (see s3_http.h).
 *
 * Easy handles live in a free list: a caller takes one (or makes one),
 * runs its request and gives it back, so connections stay alive across
 * requests of the same worker, and at most as many exist as requests ever
 * ran at once. curl_easy_reset() between requests keeps the connection.
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "s3_http.h"
#include "s3_xml.h"
#include "secmem.h"

#define RETRIES      3		/* attempts for a retryable failure */
#define ERRBODY_MAX  2048	/* how much of an error answer is kept */
/* curl's receive buffer. The default (16 KiB) costs a GET of a 1 MiB
 * object some 90 recv() and poll() calls; this size, a handful. One per
 * pooled handle, i.e. per request in flight. */
#define RECV_BUFFER  (256L << 10)

struct pooled {
	CURL *curl;
	struct pooled *next;
};

struct s3_http {
	char *endpoint, *bucket, *ca_file;
	char sigv4[64];			/* "aws:amz:REGION:s3" */
	char *userpwd;			/* "KEY:SECRET", locked memory */
	size_t userpwd_cap;
	long connect_ms, request_ms;
	pthread_mutex_t lock;		/* guards pool */
	struct pooled *pool;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int s3_http_new(const struct s3_http_conf *conf, struct s3_http **out)
{
	struct s3_http *h;
	size_t n;

	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return -EIO;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	pthread_mutex_init(&h->lock, NULL);
	n = strlen(conf->key_id) + strlen(conf->secret) + 2;
	h->userpwd_cap = secmem_round(n);
	h->userpwd = secmem_alloc(h->userpwd_cap);
	h->endpoint = strdup(conf->endpoint);
	h->bucket = strdup(conf->bucket);
	h->ca_file = conf->ca_file ? strdup(conf->ca_file) : NULL;
	if (!h->userpwd || !h->endpoint || !h->bucket || (conf->ca_file && !h->ca_file)) {
		s3_http_free(h);
		return -ENOMEM;
	}
	snprintf(h->userpwd, n, "%s:%s", conf->key_id, conf->secret);
	snprintf(h->sigv4, sizeof(h->sigv4), "aws:amz:%s:s3", conf->region);
	h->connect_ms = (long)conf->connect_timeout * 1000;
	h->request_ms = (long)conf->request_timeout * 1000;
	*out = h;
	return 0;
}

void s3_http_free(struct s3_http *h)
{
	if (!h)
		return;
	while (h->pool) {
		struct pooled *p = h->pool;

		h->pool = p->next;
		curl_easy_cleanup(p->curl);
		free(p);
	}
	secmem_free(h->userpwd, h->userpwd_cap);
	free(h->endpoint);
	free(h->bucket);
	free(h->ca_file);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

static struct pooled *take(struct s3_http *h)
{
	struct pooled *p;

	pthread_mutex_lock(&h->lock);
	p = h->pool;
	if (p)
		h->pool = p->next;
	pthread_mutex_unlock(&h->lock);
	if (p) {
		curl_easy_reset(p->curl);
		return p;
	}
	p = calloc(1, sizeof(*p));
	if (p && !(p->curl = curl_easy_init())) {
		free(p);
		p = NULL;
	}
	return p;
}

static void give_back(struct s3_http *h, struct pooled *p)
{
	pthread_mutex_lock(&h->lock);
	p->next = h->pool;
	h->pool = p;
	pthread_mutex_unlock(&h->lock);
}

/* ---- names ----------------------------------------------------------------- */

int s3_url(const char *endpoint, const char *bucket, const char *key, const char *query,
	   char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/%s%s%s%s%s", endpoint, bucket, key ? "/" : "",
			 key ? key : "", query ? "?" : "", query ? query : "");

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int s3_query_escape(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			     (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';

		if (n + (plain ? 1 : 3) >= cap)
			return -ENAMETOOLONG;
		if (plain) {
			out[n++] = (char)c;
		} else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	if (n >= cap)
		return -ENAMETOOLONG;
	out[n] = '\0';
	return (int)n;
}

/* ---- errors ---------------------------------------------------------------- */

int s3_errno(int cc, long status, const char *code)
{
	switch (cc) {
	case CURLE_OK:
		break;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		return -EPROTO;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return -ECONNRESET;
	case CURLE_WRITE_ERROR:
		return -EFBIG;		/* our write callback refused: the body is too big */
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
	if (status >= 200 && status < 300)
		return 0;
	if (code && !strcmp(code, "QuotaExceeded"))
		return -EDQUOT;
	switch (status) {
	case 404:
		return -ENOENT;
	case 409:
	case 412:
		return -EEXIST;
	case 401:
	case 403:
		return -EACCES;
	case 400:
	case 411:
	case 416:
		return -EINVAL;
	case 429:
	case 503:
		return -EAGAIN;
	case 507:
		return -ENOSPC;
	default:
		return -EIO;
	}
}

bool s3_retryable(int cc, long status)
{
	if (cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING ||
	    cc == CURLE_PARTIAL_FILE || cc == CURLE_COULDNT_CONNECT)
		return true;
	return cc == CURLE_OK && (status == 429 || status >= 500);
}

/* ---- one transfer ---------------------------------------------------------- */

struct xfer {
	struct s3_req *r;
	CURL *curl;
	const char *up;		/* upload cursor */
	size_t upleft;
	char errbody[ERRBODY_MAX];
	size_t errlen;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;
	long status = 0;

	curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status >= 300) {
		size_t k = n < sizeof(x->errbody) - 1 - x->errlen ? n : sizeof(x->errbody) - 1 - x->errlen;

		memcpy(x->errbody + x->errlen, data, k);
		x->errlen += k;
		return n;
	}
	if (!x->r->out || n > x->r->cap - x->r->outlen)
		return 0;	/* CURLE_WRITE_ERROR: -EFBIG */
	memcpy((char *)x->r->out + x->r->outlen, data, n);
	x->r->outlen += n;
	return n;
}

static size_t on_upload(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb < x->upleft ? size * nmemb : x->upleft;

	memcpy(buf, x->up, n);
	x->up += n;
	x->upleft -= n;
	return n;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One attempt with at most `budget` ms; *cc and r->status say how it went. */
static int attempt(struct s3_http *h, CURL *c, struct s3_req *r, const char *url,
		   const char *sha_hex, long budget, int *cc, char *code, size_t codecap)
{
	struct xfer x = { .r = r, .curl = c, .up = r->body, .upleft = r->len };
	char shahdr[96], cerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL, *t;
	curl_off_t clen = -1;

	r->outlen = 0;
	r->status = 0;
	code[0] = '\0';
	snprintf(shahdr, sizeof(shahdr), "x-amz-content-sha256: %s", sha_hex);
	/* No "Expect:" here to turn 100-continue off: curl 7.88 would sign the
	 * empty header it then does not send. */
	hdrs = curl_slist_append(hdrs, shahdr);
	if (hdrs && r->if_none_match && (t = curl_slist_append(hdrs, "If-None-Match: *")))
		hdrs = t;
	if (!hdrs) {
		*cc = CURLE_OUT_OF_MEMORY;
		return -ENOMEM;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_AWS_SIGV4, h->sigv4);
	curl_easy_setopt(c, CURLOPT_USERPWD, h->userpwd);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->connect_ms < budget ? h->connect_ms : budget);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, budget);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	if (h->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, RECV_BUFFER);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
	if (!strcmp(r->method, "PUT")) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_upload);
		curl_easy_setopt(c, CURLOPT_READDATA, &x);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->len);
	} else if (!strcmp(r->method, "HEAD")) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(r->method, "GET")) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
	}
	*cc = (int)curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &clen);
	r->length = clen;
	curl_slist_free_all(hdrs);
	if (*cc == CURLE_OK && x.errlen)
		s3_xml_text(x.errbody, x.errlen, "Code", code, codecap);
	int rc = s3_errno(*cc, r->status, code);
	if (rc && *cc != CURLE_OK)
		/* curl's message names the host and the cause, never the key. */
		snprintf(r->error, sizeof(r->error), "%s %s: %s", r->method,
			 r->key ? r->key : "(bucket)", cerr[0] ? cerr : curl_easy_strerror(*cc));
	else if (rc)
		snprintf(r->error, sizeof(r->error), "%s %s: HTTP %ld%s%s", r->method,
			 r->key ? r->key : "(bucket)", r->status, code[0] ? " " : "", code);
	return rc;
}

int s3_http_do(struct s3_http *h, struct s3_req *r)
{
	char url[4096], sha[2 * SHA256_LEN + 1], code[64];
	long long deadline = now_ms() + h->request_ms;
	struct pooled *p;
	int rc, cc = 0;

	r->attempts = 0;
	r->error[0] = '\0';
	r->length = -1;
	rc = s3_url(h->endpoint, h->bucket, r->key, r->query, url, sizeof(url));
	if (rc) {
		snprintf(r->error, sizeof(r->error), "%s: URL too long", r->method);
		return rc;
	}
	/* Over TLS the channel protects the body in transit, and radosgw and S3
	 * take UNSIGNED-PAYLOAD: a PUT then costs no SHA-256 pass over the
	 * object (about 0.6 ms per MiB here, more than its AES-GCM). Over
	 * plain http the hash is the body's only integrity on the wire: a
	 * damaged PUT would be accepted and found only when read. */
	if (r->body && r->len && !strncmp(h->endpoint, "https://", 8))
		snprintf(sha, sizeof(sha), "UNSIGNED-PAYLOAD");
	else
		crypto_sha256_hex(r->body ? r->body : "", r->body ? r->len : 0, sha);
	p = take(h);
	if (!p) {
		snprintf(r->error, sizeof(r->error), "%s: out of memory", r->method);
		return -ENOMEM;
	}
	for (;;) {
		long long left = deadline - now_ms();

		r->attempts++;
		rc = attempt(h, p->curl, r, url, sha, left > 1 ? (long)left : 1, &cc, code, sizeof(code));
		if (!rc || r->attempts >= RETRIES || !s3_retryable(cc, r->status))
			break;
		/* Backoff 100 ms, 400 ms, within the deadline. */
		long wait = 100L << (2 * (r->attempts - 1));
		if (now_ms() + wait >= deadline)
			break;
		struct timespec ts = { wait / 1000, (wait % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
	give_back(h, p);
	return rc;
}

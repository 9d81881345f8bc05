/*
 * s3_http.h — the S3 transport: one request at a time per call, over
 * libcurl easy handles kept in a pool so that each concurrent caller (a
 * worker thread) reuses a keep-alive connection. Requests are path-style
 * (ENDPOINT/BUCKET/KEY) and signed with SigV4 by libcurl
 * (CURLOPT_AWS_SIGV4), with the payload's SHA-256 in x-amz-content-sha256.
 * TLS certificates are always verified (ca_file, or the system's CAs).
 *
 * Errors: s3_errno() is the one place where curl codes and HTTP statuses
 * become -errno. Idempotent requests (everything but a plain POST, which
 * geofs never sends) are retried with backoff on connection resets, 429
 * and 5xx, within one overall deadline of request_timeout; a connect
 * attempt gives up after connect_timeout.
 *
 * No message this module writes (err, logs) contains the key id, the
 * secret or a signature. Depends on s3_xml.h and crypto.h (SHA-256).
 */
#ifndef GEOFS_S3_HTTP_H
#define GEOFS_S3_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct s3_http;

struct s3_http_conf {
	const char *endpoint;		/* "http[s]://HOST[:PORT]" */
	const char *bucket;
	const char *region;
	const char *key_id, *secret;	/* copied into locked memory */
	const char *ca_file;		/* NULL: system CAs */
	unsigned connect_timeout, request_timeout;	/* seconds */
};

/* 0 and a new transport in *out, or -ENOMEM / -EIO (libcurl init). */
int s3_http_new(const struct s3_http_conf *conf, struct s3_http **out);
void s3_http_free(struct s3_http *h);		/* wipes the secret; NULL ok */

struct s3_req {
	const char *method;	/* "GET", "PUT", "HEAD", "DELETE" */
	const char *key;	/* object key (no leading /), NULL: the bucket itself */
	const char *query;	/* already encoded, params in sorted order; NULL: none */
	const void *body;	/* PUT payload (may be NULL with len 0) */
	size_t len;
	bool if_none_match;	/* PUT: If-None-Match: * (never overwrite) */
	void *out;		/* GET: the body goes here ... */
	size_t cap;		/* ... up to cap bytes (more: -EFBIG) */
	/* results */
	size_t outlen;		/* bytes of body received */
	long status;		/* HTTP status, 0 if none came */
	long long length;	/* Content-Length of the answer, -1 if none */
	int attempts;		/* how many were made */
	char error[256];	/* on failure: what went wrong, for logs and status */
};

/* Sends r (retrying as above). 0 on a 2xx answer, else -errno from
 * s3_errno() with r->error filled. */
int s3_http_do(struct s3_http *h, struct s3_req *r);

/* "ENDPOINT/BUCKET[/KEY][?QUERY]" into out; -ENAMETOOLONG if it does not fit. */
int s3_url(const char *endpoint, const char *bucket, const char *key, const char *query,
	   char *out, size_t cap);

/* Percent-encodes s for a query value (RFC 3986 unreserved kept). Length,
 * or -ENAMETOOLONG. */
int s3_query_escape(const char *s, char *out, size_t cap);

/* The errno for a transfer's outcome: curl code cc (a CURLcode), HTTP
 * status, and the S3 error <Code> if any ("" if none). */
int s3_errno(int cc, long status, const char *code);

/* Whether an outcome is worth retrying (connection reset, 429, 5xx). */
bool s3_retryable(int cc, long status);

#endif

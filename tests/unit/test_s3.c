/*
 * test_s3.c — the pieces of the S3 backend kind that need no server: the
 * AWS shared-credentials parser (profiles, comments, errors with FILE:LINE,
 * the mode check), the ListObjectsV2 / error parser (pagination fields,
 * entity decoding, malformed input), URL and query building, and the
 * mapping of curl codes and HTTP statuses to errno.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "s3_creds.h"
#include "s3_http.h"
#include "s3_xml.h"
#include "testutil.h"

static int parse(const char *text, const char *profile, struct s3_creds **c, char *err)
{
	return s3_creds_parse("creds", text, strlen(text), profile, c, err, 512);
}

static void creds_profiles(void **state)
{
	const char *text = "# comment\n; another\n\n[default]\naws_access_key_id = AK1\n"
			   "aws_secret_access_key=SECRET1 \nregion = x\n\n[profile kr]\n"
			   "aws_access_key_id = AK2\r\naws_secret_access_key = S/2+x\r\n";
	struct s3_creds *c;
	char err[512];

	assert_int_equal(parse(text, "default", &c, err), 0);
	assert_string_equal(c->key_id, "AK1");
	assert_string_equal(c->secret, "SECRET1");
	s3_creds_free(c);
	assert_int_equal(parse(text, "kr", &c, err), 0);
	assert_string_equal(c->key_id, "AK2");
	assert_string_equal(c->secret, "S/2+x");
	s3_creds_free(c);
}

static void creds_errors(void **state)
{
	struct s3_creds *c = (void *)1;
	char err[512];

	assert_int_equal(parse("[default]\naws_access_key_id = A\n", "default", &c, err), -EINVAL);
	assert_null(c);
	assert_non_null(strstr(err, "no aws_secret_access_key"));
	assert_int_equal(parse("[other]\naws_access_key_id = A\naws_secret_access_key = B\n",
			       "default", &c, err), -EINVAL);
	assert_non_null(strstr(err, "no [default] profile"));
	assert_int_equal(parse("[default\n", "default", &c, err), -EINVAL);
	assert_non_null(strstr(err, "creds:1:"));
	assert_int_equal(parse("[default]\njunk line\n", "default", &c, err), -EINVAL);
	assert_non_null(strstr(err, "creds:2:"));
	assert_int_equal(parse("[default]\naws_access_key_id = has space\n", "default", &c, err),
			 -EINVAL);
	assert_non_null(strstr(err, "creds:2: bad aws_access_key_id"));
	/* A secret never shows up in a message. */
	assert_int_equal(parse("[default]\naws_secret_access_key = TOPSECRET\n", "default", &c, err),
			 -EINVAL);
	assert_null(strstr(err, "TOPSECRET"));
}

static void creds_file_mode(void **state)
{
	char *dir = tu_tmpdir(), path[4200], err[512];
	struct s3_creds *c;
	int fd;

	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/credentials", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "[default]\naws_access_key_id=A\naws_secret_access_key=B\n", 54), 54);
	close(fd);
	assert_int_equal(s3_creds_load(path, "default", &c, err, sizeof(err)), 0);
	assert_string_equal(c->secret, "B");
	s3_creds_free(c);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(s3_creds_load(path, "default", &c, err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "chmod 600"));
	assert_int_equal(tu_rmtree(dir), 0);
}

struct seen {
	char keys[8][64];
	uint64_t sizes[8];
	int n;
};

static int collect(const char *key, uint64_t size, void *arg)
{
	struct seen *s = arg;

	if (s->n >= 8)
		return 99;
	snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", key);
	s->sizes[s->n++] = size;
	return 0;
}

#define HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name><KeyCount>2</KeyCount>"

static int list(const char *xml, struct seen *s, bool *more, char *tok)
{
	memset(s, 0, sizeof(*s));
	return s3_list_parse(xml, strlen(xml), collect, s, more, tok, S3_TOKEN_MAX);
}

static void list_pages(void **state)
{
	char tok[S3_TOKEN_MAX];
	struct seen s;
	bool more;

	assert_int_equal(list(HEAD "<IsTruncated>true</IsTruncated><Contents><Key>p/objects/a&amp;b</Key>"
			      "<ETag>&quot;x&quot;</ETag><Size>12</Size></Contents><Contents><Key>k&#x41;&#66;&lt;</Key>"
			      "<Size>0</Size></Contents><NextContinuationToken>1ab/+=</NextContinuationToken>"
			      "</ListBucketResult>", &s, &more, tok), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.keys[0], "p/objects/a&b");
	assert_int_equal(s.sizes[0], 12);
	assert_string_equal(s.keys[1], "kAB<");
	assert_true(more);
	assert_string_equal(tok, "1ab/+=");

	assert_int_equal(list(HEAD "<IsTruncated>false</IsTruncated></ListBucketResult>", &s, &more, tok), 0);
	assert_int_equal(s.n, 0);
	assert_false(more);
	/* Unicode by reference comes out as UTF-8. */
	assert_int_equal(list(HEAD "<Contents><Key>&#x65e5;</Key><Size>1</Size></Contents>"
			      "<IsTruncated>false</IsTruncated></ListBucketResult>", &s, &more, tok), 0);
	assert_string_equal(s.keys[0], "\xe6\x97\xa5");
}

static void list_malformed(void **state)
{
	static const char *const bad[] = {
		"<Error><Code>AccessDenied</Code></Error>",		/* no list */
		HEAD "<Contents><Key>a</Key></Contents></ListBucketResult>",	/* no Size */
		HEAD "<Contents><Key>a</Key><Size>-1</Size></Contents>",
		HEAD "<Contents><Key>a</Key><Size>99999999999999999999999</Size></Contents>",
		HEAD "<Contents><Key>a&bogus;</Key><Size>1</Size></Contents>",
		HEAD "<Contents><Key>a&#0;</Key><Size>1</Size></Contents>",
		HEAD "<Contents><Key>a&#xd800;</Key><Size>1</Size></Contents>",
		HEAD "<Contents><Key>a&amp</Key><Size>1</Size></Contents>",
		HEAD "<Contents><Key>unterminated",
		HEAD "<Contents><Key>a</Key><Size>1</Size>",		/* no </Contents> */
		HEAD "<IsTruncated>true</IsTruncated></ListBucketResult>",	/* no token */
		HEAD "<IsTruncated>maybe</IsTruncated></ListBucketResult>",
	};
	char tok[S3_TOKEN_MAX];
	struct seen s;
	bool more;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(list(bad[i], &s, &more, tok), -EINVAL);
	/* Every prefix of a good page is refused or parsed, never read past. */
	const char *good = HEAD "<IsTruncated>true</IsTruncated><Contents><Key>x&amp;y</Key>"
			   "<Size>5</Size></Contents><NextContinuationToken>t</NextContinuationToken>";
	for (size_t n = 0; n < strlen(good); n++) {
		char *cut = malloc(n ? n : 1);
		assert_non_null(cut);
		memcpy(cut, good, n);
		memset(&s, 0, sizeof(s));
		int rc = s3_list_parse(cut, n, collect, &s, &more, tok, sizeof(tok));
		assert_true(rc == 0 || rc == -EINVAL);
		free(cut);
	}
	/* fn's nonzero return stops the walk and comes back. */
	char many[4096] = HEAD;
	for (int i = 0; i < 10; i++)
		strcat(many, "<Contents><Key>k</Key><Size>1</Size></Contents>");
	assert_int_equal(list(many, &s, &more, tok), 99);
}

static void error_code(void **state)
{
	const char *xml = "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code>"
			  "<RequestId>x</RequestId></Error>";
	char code[64];

	assert_int_equal(s3_xml_text(xml, strlen(xml), "Code", code, sizeof(code)), 0);
	assert_string_equal(code, "SignatureDoesNotMatch");
	assert_int_equal(s3_xml_text(xml, strlen(xml), "Message", code, sizeof(code)), -ENOENT);
	assert_int_equal(s3_xml_text(xml, strlen(xml), "Code", code, 4), -EINVAL);
}

static void urls(void **state)
{
	char out[128];

	assert_int_equal(s3_url("http://127.0.0.1:7480", "geofs-kr", "p/objects/ab", NULL, out,
				sizeof(out)), 0);
	assert_string_equal(out, "http://127.0.0.1:7480/geofs-kr/p/objects/ab");
	assert_int_equal(s3_url("https://s3.example", "b", NULL, "list-type=2", out, sizeof(out)), 0);
	assert_string_equal(out, "https://s3.example/b?list-type=2");
	assert_int_equal(s3_url("https://s3.example", "b", "k", NULL, out, 10), -ENAMETOOLONG);
	assert_int_equal(s3_query_escape("geofs/kr/objects/", out, sizeof(out)), 23);
	assert_string_equal(out, "geofs%2Fkr%2Fobjects%2F");
	assert_int_equal(s3_query_escape("a+b= ~._-", out, sizeof(out)), 15);
	assert_string_equal(out, "a%2Bb%3D%20~._-");
	assert_int_equal(s3_query_escape("////", out, 12), -ENAMETOOLONG);
}

static void errnos(void **state)
{
	assert_int_equal(s3_errno(CURLE_OK, 200, ""), 0);
	assert_int_equal(s3_errno(CURLE_OK, 204, ""), 0);
	assert_int_equal(s3_errno(CURLE_OK, 404, "NoSuchKey"), -ENOENT);
	assert_int_equal(s3_errno(CURLE_OK, 412, "PreconditionFailed"), -EEXIST);
	assert_int_equal(s3_errno(CURLE_OK, 403, "SignatureDoesNotMatch"), -EACCES);
	assert_int_equal(s3_errno(CURLE_OK, 403, "QuotaExceeded"), -EDQUOT);
	assert_int_equal(s3_errno(CURLE_OK, 503, "SlowDown"), -EAGAIN);
	assert_int_equal(s3_errno(CURLE_OK, 500, ""), -EIO);
	assert_int_equal(s3_errno(CURLE_COULDNT_CONNECT, 0, ""), -ECONNREFUSED);
	assert_int_equal(s3_errno(CURLE_OPERATION_TIMEDOUT, 0, ""), -ETIMEDOUT);
	assert_int_equal(s3_errno(CURLE_PEER_FAILED_VERIFICATION, 0, ""), -EPROTO);
	assert_int_equal(s3_errno(CURLE_RECV_ERROR, 0, ""), -ECONNRESET);
	assert_int_equal(s3_errno(CURLE_WRITE_ERROR, 200, ""), -EFBIG);
	assert_true(s3_retryable(CURLE_OK, 503));
	assert_true(s3_retryable(CURLE_OK, 429));
	assert_true(s3_retryable(CURLE_RECV_ERROR, 0));
	assert_false(s3_retryable(CURLE_OK, 404));
	assert_false(s3_retryable(CURLE_OK, 412));
	assert_false(s3_retryable(CURLE_OPERATION_TIMEDOUT, 0));	/* the deadline is spent */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(creds_profiles),
		cmocka_unit_test(creds_errors),
		cmocka_unit_test(creds_file_mode),
		cmocka_unit_test(list_pages),
		cmocka_unit_test(list_malformed),
		cmocka_unit_test(error_code),
		cmocka_unit_test(urls),
		cmocka_unit_test(errnos),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

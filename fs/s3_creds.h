/*
 * s3_creds.h — the AWS shared-credentials file (~/.aws/credentials format):
 *
 *     [default]
 *     aws_access_key_id = AKIA...
 *     aws_secret_access_key = ...
 *
 * One profile is read (a section [NAME]; "[profile NAME]" is accepted too,
 * as the AWS config file writes it). Blank lines and lines starting with
 * # or ; are comments; other keys of the profile (region, aws_session_token
 * ...) are ignored. The file must be a regular file that neither group nor
 * others may read or write, owned by root or the user geofs runs as, as
 * for the keyring.
 *
 * Depends on secmem.h only. The key pair lives in locked memory and is
 * wiped by s3_creds_free(); no message ever holds a key or a secret.
 */
#ifndef GEOFS_S3_CREDS_H
#define GEOFS_S3_CREDS_H

#include <stddef.h>

#define S3_CRED_MAX 256		/* longest key id or secret, bytes */

struct s3_creds {
	char key_id[S3_CRED_MAX];
	char secret[S3_CRED_MAX];
};

/* Parses text (len bytes, `name` in messages) for `profile`. On success
 * *out is a new s3_creds (free with s3_creds_free) and 0 is returned; else
 * -EINVAL (or -ENOMEM) with "NAME:LINE: what was wrong" (or "NAME: ...")
 * in err. */
int s3_creds_parse(const char *name, const char *text, size_t len, const char *profile,
		   struct s3_creds **out, char *err, size_t errlen);

/* Reads and parses the file at path: -EACCES when group or others may
 * read it or when it is owned by another user than root or the effective
 * one (err names the file and the chmod or chown that fixes it), -errno when it
 * cannot be read, else as s3_creds_parse. */
int s3_creds_load(const char *path, const char *profile, struct s3_creds **out,
		  char *err, size_t errlen);

void s3_creds_free(struct s3_creds *c);		/* wipes; NULL ok */

#endif

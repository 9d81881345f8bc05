/*
 * audit_int.h — what the audit log's writer (audit.c) and its reader and
 * verifier (audit_read.c) share; not an interface for anything else.
 */
#ifndef GEOFS_AUDIT_INT_H
#define GEOFS_AUDIT_INT_H

#include <stddef.h>

#include "crypto.h"
#include "utf8.h"

#define HEX_LEN (2 * SHA256_LEN)

/* The "prev" of the first record of a chain. */
#define ZERO_HEX "0000000000000000000000000000000000000000000000000000000000000000"

#endif

/*
 * fuzz.h — shared by the libFuzzer targets in tests/fuzz/ and by
 * tests/unit/test_regressions.c, which includes the target sources with
 * FUZZ_NO_MAIN defined and replays the corpora and every crash input
 * through the same checks.
 *
 * Each target is one function `int fuzz_<name>(const uint8_t *data, size_t
 * size)` that feeds the input to a parser and checks what the parser
 * promises (never only "it did not crash"): a broken promise aborts through
 * FUZZ_CHECK, which libFuzzer and cmocka both report as a failure.
 */
#ifndef GEOFS_FUZZ_H
#define GEOFS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond) do {							\
		if (!(cond)) {							\
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
				__LINE__, #cond);					\
			abort();						\
		}								\
	} while (0)

int fuzz_config(const uint8_t *data, size_t size);
int fuzz_manifest(const uint8_t *data, size_t size);
int fuzz_object(const uint8_t *data, size_t size);
int fuzz_keyring(const uint8_t *data, size_t size);
int fuzz_audit(const uint8_t *data, size_t size);
int fuzz_s3list(const uint8_t *data, size_t size);

#ifdef FUZZ_NO_MAIN
#define FUZZ_ENTRY(fn)
#else
#define FUZZ_ENTRY(fn)								\
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);		\
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)		\
	{									\
		return fn(data, size);						\
	}
#endif

#endif

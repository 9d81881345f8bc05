/*
 * secmem.h — memory for secrets: zeroed, page-aligned, mlock'ed (best
 * effort: RLIMIT_MEMLOCK may be small), left out of core dumps, and wiped
 * when freed.
 *
 * Whole regions (a keyring, a key file being parsed) come from
 * secmem_alloc; small secrets that come and go with every open file (a
 * file's 32-byte data key) come from secmem_slot_alloc, which carves them
 * out of locked pages kept for reuse, so opening a file costs no mmap,
 * mlock or madvise.
 */
#ifndef GEOFS_SECMEM_H
#define GEOFS_SECMEM_H

#include <stddef.h>

/* n rounded up to whole pages: the size to pass to secmem_alloc/free. */
size_t secmem_round(size_t n);
void *secmem_alloc(size_t n);		/* n from secmem_round; NULL on failure */
void secmem_free(void *p, size_t n);	/* wipes; NULL ok */

/* A zeroed slot of SECMEM_SLOT bytes, NULL on failure; freeing wipes it.
 * Pages, once locked, stay with the process for the next slots. */
#define SECMEM_SLOT 64
void *secmem_slot_alloc(void);
void secmem_slot_free(void *p);		/* NULL ok */

#endif

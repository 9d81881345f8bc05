/*
 * secmem.c — locked, undumped, wiped memory for secrets (see secmem.h).
 */
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "crypto.h"
#include "secmem.h"

size_t secmem_round(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (n + pg - 1) / pg * pg;
}

void *secmem_alloc(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	(void)mlock(p, n);	/* best effort */
	(void)madvise(p, n, MADV_DONTDUMP);
	return p;
}

void secmem_free(void *p, size_t n)
{
	if (!p)
		return;
	crypto_wipe(p, n);
	(void)munlock(p, n);
	munmap(p, n);
}

/* Free slots, linked through their first bytes (a free slot holds no
 * secret: it was wiped before it was linked). */
struct slot {
	struct slot *next;
};

static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot *slot_free_list;

/* Locks one more page and links its slots. Caller holds slot_lock. */
static int slot_grow(void)
{
	size_t pg = secmem_round(1);
	uint8_t *p = secmem_alloc(pg);

	if (!p)
		return -1;
	for (size_t off = 0; off + SECMEM_SLOT <= pg; off += SECMEM_SLOT) {
		struct slot *s = (struct slot *)(p + off);
		s->next = slot_free_list;
		slot_free_list = s;
	}
	return 0;
}

void *secmem_slot_alloc(void)
{
	struct slot *s = NULL;

	pthread_mutex_lock(&slot_lock);
	if (slot_free_list || slot_grow() == 0) {
		s = slot_free_list;
		slot_free_list = s->next;
	}
	pthread_mutex_unlock(&slot_lock);
	if (s)
		crypto_wipe(s, sizeof(*s));
	return s;
}

void secmem_slot_free(void *p)
{
	struct slot *s = p;

	if (!s)
		return;
	crypto_wipe(s, SECMEM_SLOT);
	pthread_mutex_lock(&slot_lock);
	s->next = slot_free_list;
	slot_free_list = s;
	pthread_mutex_unlock(&slot_lock);
}

/*
 * workers.c — fixed thread pool with one FIFO queue (see workers.h).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "workers.h"

struct job {
	void (*fn)(void *);
	void *arg;
	struct job *next;
};

struct workers {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail;
	bool stop;
	int n;
	pthread_t thr[];
};

static void *worker_main(void *arg)
{
	struct workers *w = arg;

	for (;;) {
		struct job *j;

		pthread_mutex_lock(&w->lock);
		while (!w->head && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		j = w->head;
		if (!j) {
			pthread_mutex_unlock(&w->lock);
			return NULL;
		}
		w->head = j->next;
		if (!w->head)
			w->tail = NULL;
		pthread_mutex_unlock(&w->lock);
		j->fn(j->arg);
		free(j);
	}
}

struct workers *workers_new(int n)
{
	struct workers *w;

	if (n < 1)
		n = 1;
	w = calloc(1, sizeof(*w) + (size_t)n * sizeof(pthread_t));
	if (!w)
		return NULL;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	for (w->n = 0; w->n < n; w->n++)
		if (pthread_create(&w->thr[w->n], NULL, worker_main, w) != 0)
			break;
	if (w->n == 0) {
		workers_free(w);
		return NULL;
	}
	return w;
}

void workers_free(struct workers *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (int i = 0; i < w->n; i++)
		pthread_join(w->thr[i], NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

void workers_submit(struct workers *w, void (*fn)(void *), void *arg)
{
	struct job *j = malloc(sizeof(*j));

	if (!j) {
		fn(arg);
		return;
	}
	j->fn = fn;
	j->arg = arg;
	j->next = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->tail)
		w->tail->next = j;
	else
		w->head = j;
	w->tail = j;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

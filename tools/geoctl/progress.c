/*
 * progress.c — progress bar / plain lines on stderr (see progress.h).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "escape.h"
#include "geoctl.h"
#include "progress.h"
#include "table.h"

#define BAR_WIDTH 24

double progress_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void progress_start(struct progress *p, const char *verb, uint64_t files_total,
		    uint64_t bytes_total, bool lines)
{
	memset(p, 0, sizeof(*p));
	p->f = stderr;
	p->tty = isatty(STDERR_FILENO);
	p->lines = lines && !p->tty;
	p->verb = verb;
	p->files_total = files_total;
	p->bytes_total = bytes_total;
	p->t0 = progress_now();
}

double progress_rate(const struct progress *p)
{
	double dt = progress_now() - p->t0;

	return dt > 0 ? (double)p->bytes_done / dt : 0;
}

/* "12/40 files, 1.20 MiB/4.00 MiB, 0.52 MB/s, ETA 0:07" */
static void counters(const struct progress *p, char *buf, size_t len)
{
	char a[TABLE_BYTES_LEN], b[TABLE_BYTES_LEN], eta[32] = "";
	double measured = progress_rate(p), rate = measured;
	int n;

	n = snprintf(buf, len, "%" PRIu64 "/%" PRIu64 " file%s", p->files_done, p->files_total,
		     plural(p->files_total));
	if (p->bytes_total == 0 || n < 0 || (size_t)n >= len)
		return;
	if (p->limit > 0 && (rate == 0 || rate > p->limit))
		rate = p->limit;	/* a throttled run settles there */
	if (rate > 0 && p->bytes_done < p->bytes_total) {
		uint64_t s = (uint64_t)((double)(p->bytes_total - p->bytes_done) / rate);

		snprintf(eta, sizeof(eta), ", ETA %" PRIu64 ":%02" PRIu64, s / 60, s % 60);
	}
	snprintf(buf + n, len - (size_t)n, ", %s/%s, %.2f MB/s%s",
		 table_bytes(p->bytes_done, a), table_bytes(p->bytes_total, b), measured / 1e6, eta);
}

static int columns(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
		return ws.ws_col;
	return 80;
}

static void draw(struct progress *p, const char *item)
{
	char cnt[160], bar[BAR_WIDTH + 1];
	uint64_t num = p->bytes_total ? p->bytes_done : p->files_done;
	uint64_t den = p->bytes_total ? p->bytes_total : p->files_total;
	int fill = den ? (int)((double)num / (double)den * BAR_WIDTH) : BAR_WIDTH;
	int room;

	if (fill > BAR_WIDTH)
		fill = BAR_WIDTH;
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, '.', (size_t)(BAR_WIDTH - fill));
	bar[BAR_WIDTH] = '\0';
	counters(p, cnt, sizeof(cnt));
	room = columns() - (int)strlen(cnt) - BAR_WIDTH - 6;
	fprintf(p->f, "\r\033[K[%s] %s", bar, cnt);
	if (item && room > 8) {
		char *e = esc_dup(item);

		/* keep the end of the path (the name), cut at a character */
		if (e && esc_width(e) > room)
			fprintf(p->f, "  ...%s", e + esc_tail(e, room - 3));
		else if (e)
			fprintf(p->f, "  %s", e);
		free(e);
	}
	fflush(p->f);
	p->drawn = true;
	p->last_draw = progress_now();
}

void progress_step(struct progress *p, uint64_t bytes, const char *item)
{
	char cnt[160];

	p->files_done++;
	p->bytes_done += bytes;
	if (p->tty) {
		if (progress_now() - p->last_draw >= 0.1 || p->files_done == p->files_total)
			draw(p, item);
	} else if (p->lines) {
		counters(p, cnt, sizeof(cnt));
		fprintf(p->f, "%s ", p->verb);
		esc_fputs(item ? item : "", p->f);
		fprintf(p->f, " (%s)\n", cnt);
		fflush(p->f);
	}
}

void progress_note(struct progress *p, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	int n;

	if (p->drawn)
		fputs("\r\033[K", p->f);
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	esc_fputs(n >= 0 ? msg : fmt, p->f);	/* notes name files: escape.h */
	free(msg);
	fputc('\n', p->f);
	if (p->drawn)
		draw(p, NULL);
	fflush(p->f);
}

void progress_end(struct progress *p)
{
	if (p->drawn)
		fputs("\r\033[K", p->f);
	p->drawn = false;
	fflush(p->f);
}

/*
 * report_evidence.c — what makes a transparency report usable as evidence:
 * which site and config produced it (name, country, SHA-256 of the config
 * file's bytes), the geofs version, the audit chain's head at report time
 * and the absolute paths covered. The site and config come from the
 * daemon (user.geo.stats, root or the admin group); what cannot be had is
 * left empty and the report says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "fileio.h"
#include "geoctl.h"
#include "jsonread.h"
#include "report.h"

#define TAIL_MAX (1 << 20)	/* an audit record is far shorter */

/* SHA-256 hex of the whole file (at most 16 MiB). 0 or -errno. */
static int file_sha256(const char *path, char out[65])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;
	char *buf = NULL;
	size_t len = 0;

	if (fd < 0)
		return -errno;
	rc = fileio_read_whole(fd, 16u << 20, &buf, &len);
	close(fd);
	if (rc == 0)
		crypto_sha256_hex(buf, len, out);
	free(buf);
	return rc;
}

/* The chain head: SHA-256 of the log's last complete line (the value the
 * next record's prev will carry; audit verify prints the same). */
static int audit_head(const char *path, char out[65])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -ENODATA;
	off_t end, start;
	char *buf = NULL, *last, *nl;
	ssize_t n;

	if (fd < 0)
		return -errno;
	end = lseek(fd, 0, SEEK_END);
	start = end > TAIL_MAX ? end - TAIL_MAX : 0;
	buf = end > 0 ? malloc((size_t)(end - start) + 1) : NULL;
	if (!buf)
		goto out;
	n = pread(fd, buf, (size_t)(end - start), start);
	if (n <= 0)
		goto out;
	buf[n] = '\0';
	nl = memrchr(buf, '\n', (size_t)n);	/* end of the last complete line */
	if (!nl)
		goto out;
	*nl = '\0';
	last = strrchr(buf, '\n');
	last = last ? last + 1 : buf;
	if (last == buf && start > 0)
		goto out;
	crypto_sha256_hex(last, (size_t)(nl - last), out);
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

/* Site, country and config path from the daemon serving path. */
static void from_daemon(struct report *rp, const char *path)
{
	char root[4096], *json = NULL;
	struct jval *doc = NULL;

	if (geoctl_fetch_stats(path, root, sizeof(root), &json) != 0)
		return;
	if (jread_parse(json, strlen(json), &doc) == 0) {
		snprintf(rp->site, sizeof(rp->site), "%s", jread_str(doc, "site", ""));
		snprintf(rp->site_country, sizeof(rp->site_country), "%s",
			 jread_str(doc, "country", ""));
		snprintf(rp->config, sizeof(rp->config), "%s", jread_str(doc, "config", ""));
	}
	jread_free(doc);
	free(json);
}

void report_evidence(struct report *rp)
{
	struct geo_config *cfg = NULL;
	char err[CFG_ERR_MAX];

	for (int i = 0; i < rp->npaths && i < REPORT_MAX_PATHS; i++) {
		char *real = realpath(rp->paths[i], NULL);

		snprintf(rp->abspaths[i], sizeof(rp->abspaths[i]), "%s", real ? real : rp->paths[i]);
		free(real);
	}
	if (!rp->mount[0])
		return;
	from_daemon(rp, rp->paths[0]);
	if (!rp->config[0])
		return;
	if (file_sha256(rp->config, rp->config_sha256) != 0)
		rp->config_sha256[0] = '\0';
	if (config_load(rp->config, &cfg, err, sizeof(err)) == 0 && cfg->audit_path &&
	    audit_head(cfg->audit_path, rp->audit_head) != 0)
		rp->audit_head[0] = '\0';
	config_free(cfg);
}

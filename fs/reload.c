/*
 * reload.c — rereading the mount config while mounted (see reload.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "country.h"
#include "gfile.h"
#include "log.h"
#include "policy.h"
#include "reload.h"
#include "stats.h"

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Changes a running mount cannot follow. -EINVAL with the reason in err. */
static int check_fixed(const struct geo_config *old, const struct geo_config *cfg,
		       char *err, size_t errlen)
{
	if (strcmp(old->meta_path, cfg->meta_path) != 0) {
		snprintf(err, errlen, "%s: [meta] path changed from %s to %s: the meta root "
			 "cannot change while mounted; unmount and mount again", cfg->file,
			 old->meta_path, cfg->meta_path);
		return -EINVAL;
	}
	return 0;
}

/* Changes that are accepted but wait for the next mount. */
static void warn_deferred(const struct geo_config *old, const struct geo_config *cfg)
{
	if (strcmp(old->site_name, cfg->site_name) != 0)
		log_warn("reload: [site] name %s -> %s: the mount name and audit records keep "
			 "%s until the next mount", old->site_name, cfg->site_name, old->site_name);
	if (!same_str(old->audit_path, cfg->audit_path) || old->audit_sync_ms != cfg->audit_sync_ms)
		log_warn("reload: [audit] changes take effect at the next mount");
	if (old->cache_size != cfg->cache_size)
		log_warn("reload: [data] cache_size takes effect at the next mount");
	for (int i = 0; i < old->nbackends; i++)
		if (config_backend(cfg, old->backends[i].name) < 0)
			log_warn("reload: backend %s was removed: files with shards there can no "
				 "longer read them (drain and rebalance a backend before removing it)",
				 old->backends[i].name);
}

/* Backends of cfg the running config lacks, or has at another path or in
 * another country: those must be present and marked for the reload to go on. */
static uint64_t new_backends(const struct geo_config *old, const struct geo_config *cfg)
{
	uint64_t mask = 0;

	for (int i = 0; i < cfg->nbackends; i++) {
		const struct cfg_backend *b = &cfg->backends[i];
		int j = config_backend(old, b->name);

		if (j < 0 || strcmp(old->backends[j].kind, b->kind) != 0 ||
		    strcmp(old->backends[j].where, b->where) != 0 ||
		    old->backends[j].country != b->country)
			mask |= UINT64_C(1) << i;
	}
	return mask;
}

/* "name,name" of the backends selected by pick, or "none". */
static void backend_list(const struct geo_config *cfg, uint64_t pick, char *buf, size_t len)
{
	size_t pos = 0;

	buf[0] = '\0';
	for (int i = 0; i < cfg->nbackends && pos < len; i++) {
		if (!(pick & (UINT64_C(1) << i)))
			continue;
		int n = snprintf(buf + pos, len - pos, "%s%s", pos ? "," : "", cfg->backends[i].name);
		pos += n > 0 ? (size_t)n : 0;
	}
	if (!buf[0])
		snprintf(buf, len, "none");
}

static void log_lines(const char *text)
{
	const char *p = text;

	while (*p) {
		size_t n = strcspn(p, "\n");
		log_event(LOG_LVL_ERR, "reload-rejected", NULL, NULL, "reload: rejected: %.*s",
			  (int)n, p);
		p += n + (p[n] == '\n');
	}
}

void core_backends_report(struct core *c, char *buf, size_t len)
{
	struct backend_state st[CFG_MAX_BACKENDS];
	const char *names[CFG_MAX_BACKENDS];
	const struct geo_config *cfg = c->cfg;
	size_t pos = 0;

	store_state(c->store, st);	/* reports each backend to log.h */
	buf[0] = '\0';
	for (int i = 0; i < cfg->nbackends; i++) {
		names[i] = cfg->backends[i].name;
		int n = snprintf(buf + pos, pos < len ? len - pos : 0, "%s%s %s %s", i ? ", " : "",
				 names[i], country_code(cfg->backends[i].country),
				 st[i].healthy ? "up" : "down");
		pos += n > 0 ? (size_t)n : 0;
	}
	log_backends_retain(names, cfg->nbackends);
}

struct rebind {
	struct core *c;
	const struct geo_config *old;
};

static void quiesce_one(struct gfile *gf, void *arg)
{
	gfile_quiesce(gf);
}

static void rebind_one(struct gfile *gf, void *arg)
{
	struct rebind *rb = arg;

	gfile_rebind(&rb->c->eng, gf, rb->old);
}

/* Swaps the prepared state in; returns the old state through the args. */
static void swap_in(struct core *c, struct geo_config **cfg, struct keyring **keys,
		    struct store **store)
{
	struct geo_config *ocfg = c->cfg;
	struct keyring *okeys = c->keys;
	struct store *ostore = c->store;
	struct rebind rb = { c, ocfg };
	bool have;
	gid_t gid = 0;

	core_resolve_admin(*cfg, &have, &gid);
	pthread_rwlock_wrlock(&c->reload_lock);
	/* No call is in progress now; worker jobs may still run on their own. */
	gtable_foreach(c->eng.files, quiesce_one, NULL);
	c->cfg = *cfg;
	c->keys = *keys;
	c->store = *store;
	engine_bind(&c->eng, c->cfg, c->keys, c->store);
	c->have_admin_gid = have;
	c->admin_gid = gid;
	store_adopt_usage(c->store, ostore);
	gtable_foreach(c->eng.files, rebind_one, &rb);
	pthread_rwlock_unlock(&c->reload_lock);
	*cfg = ocfg;
	*keys = okeys;
	*store = ostore;
}

int core_reload(struct core *c, const struct geo_req *r, char *err, size_t errlen)
{
	struct geo_config *cfg = NULL;
	struct keyring *keys = NULL;
	struct store *store = NULL;
	char added[512], draining[512];
	uint64_t drain = 0, fresh = 0;
	int rc;

	pthread_mutex_lock(&c->reload_serial);
	log_notify_reloading();
	err[0] = '\0';
	log_info("reload: rereading %s", c->config_path);
	/* c->cfg is only ever replaced under reload_serial, held here. */
	rc = config_load(c->config_path, &cfg, err, errlen);
	if (!rc)
		rc = check_fixed(c->cfg, cfg, err, errlen);
	if (!rc)
		rc = keyring_load(cfg->keyring_path, &keys, err, errlen);
	if (!rc) {
		fresh = new_backends(c->cfg, cfg);
		rc = store_open(cfg, fresh, &store, err, errlen);
	}
	if (rc) {
		log_lines(err);
		log_event(LOG_LVL_ERR, "reload-rejected", c->config_path, NULL,
			  "reload: %s rejected, the running config stays in force", c->config_path);
		goto out;
	}
	warn_deferred(c->cfg, cfg);
	for (int i = 0; i < cfg->nbackends; i++)
		drain |= cfg->backends[i].drain ? UINT64_C(1) << i : 0;
	backend_list(cfg, fresh, added, sizeof(added));
	backend_list(cfg, drain, draining, sizeof(draining));
	log_info("reload: %s in force: %d categories, %d backends (new or moved: %s; "
		 "draining: %s)", c->config_path, cfg->ncats, cfg->nbackends, added, draining);

	swap_in(c, &cfg, &keys, &store);
	char states[2048];
	core_backends_report(c, states, sizeof(states));
	log_event(LOG_LVL_INFO, "reload", c->config_path, NULL, "reload: ok: backends %s", states);
out:
	store_close(store);
	keyring_free(keys);
	config_free(cfg);
	stats_note_reload(c, rc);
	core_audit(c, r, "reload", NULL, NULL, NULL, NULL, rc, NULL,
		   rc ? "config rejected, old config kept" : c->config_path);
	log_notify_ready();
	pthread_mutex_unlock(&c->reload_serial);
	return rc;
}

int core_reload_xattr(struct core *c, const struct geo_req *r)
{
	char err[CFG_ERR_MAX];
	bool admin;

	core_enter(c);
	admin = core_is_admin(c, r);
	core_leave(c);
	if (!admin) {
		core_audit(c, r, "reload", NULL, NULL, NULL, NULL, -EPERM, NULL,
			   "only root or the admin group may reload");
		return -EPERM;
	}
	return core_reload(c, r, err, sizeof(err)) ? -EINVAL : 0;
}

/*
 * config_int.h — what the mount config's line parser (config.c) and its
 * whole-file checks (config_check.c) share; internal to those two files,
 * not an interface for anything else.
 */
#ifndef GEOFS_CONFIG_INT_H
#define GEOFS_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define MSG_MAX       1024		/* one formatted problem */
#define KEYS_MAX      8			/* keys per section */

struct parser;
struct word;

struct key_def {
	const char *name;
	bool required;
	bool (*parse)(struct parser *p, const char *val, void *field);
	size_t offset, width;		/* of the field in the section's struct */
	const char *expect;		/* what a valid value looks like */
	uint64_t lo, hi;		/* range for numbers and sizes */
	const struct word *words;	/* for choice keys, NULL-terminated */
};

enum sec_kind { SEC_SINGLE, SEC_BACKEND, SEC_CATEGORY };

struct section_def {
	const char *name;
	enum sec_kind kind;
	bool required;
	const struct key_def *keys;
	size_t nkeys;
};

enum { S_SITE, S_META, S_KEYS, S_AUDIT, S_DATA, S_BACKEND, S_CATEGORY, S_DEFAULTS, S_STATUS,
       NSECTIONS };

/* The sections a file may have, by S_*; with their key tables, in config.c. */
extern const struct section_def config_sections[NSECTIONS];

/* One section as written: where it started, where each key was set. */
struct sect_inst {
	int line;			/* header line; 0 if never declared */
	int keyline[KEYS_MAX];		/* line each key was set on, or 0 */
	bool bad;			/* a problem was reported inside */
};

struct parser {
	const char *file;
	char *err;
	size_t errlen, errused;
	int nerr;
	bool oom;
	int line;
	char *dir;			/* absolute directory of the file */
	struct geo_config *cfg;
	const struct section_def *sec;	/* NULL: skip keys until next header */
	struct sect_inst *inst;
	void *base;			/* struct the current section fills */
	const char *sec_name;		/* NAME of [backend NAME] etc. */
	const struct key_def *key;	/* key being parsed */
	bool skipping;			/* after a bad header: ignore its keys */
	struct sect_inst single[16];	/* by index in config_sections[] */
	struct sect_inst backend[CFG_MAX_BACKENDS];
	struct sect_inst cat[CFG_MAX_CATEGORIES];
	struct cfg_cspec *site_items[2 * CFG_MAX_CATEGORIES];
	int nsite_items;
	bool origin_is_site;
	char defcat[CFG_NAME_MAX];
};

/* Reporting, in config.c: a problem at a line, a section's label, its key names. */
void config_problem_at(struct parser *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const char *config_sect_label(const struct section_def *def, const char *name,
			      char *buf, size_t len);
void config_list_keys(const struct section_def *def, bool required, char *buf, size_t len);

/* In config_check.c: the checks that need the whole file, once every line is parsed. */
void config_validate(struct parser *p);

#endif

/*
 * config_int.h — what the mount config's parser files share, bottom up:
 * reporting and lookups (config_report.c), the value parsers
 * (config_values.c), the section and key tables (config_keys.c), the
 * whole-file checks (config_check.c) and the line parser (config.c);
 * internal to those files, not an interface for anything else.
 */
#ifndef GEOFS_CONFIG_INT_H
#define GEOFS_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define MSG_MAX       1024		/* one formatted problem */
#define KEYS_MAX      16			/* keys per section */
#define LINE_MAX_LEN  8192		/* longest accepted line, bytes */
#define SHOW_MAX      48		/* how much of a bad value is echoed */

#define CODE_EXPECT   "an ISO 3166-1 alpha-2 code such as JP"
#define NAME_EXPECT   "1..63 characters from A-Z a-z 0-9 _ . -"
#define LIST_EXPECT   "a comma-separated list of ISO 3166-1 alpha-2 codes such as JP, origin, site, or * alone"

struct parser;

/* A word accepted by a two-way choice key, and the bool it stands for. */
struct word {
	const char *word;
	bool value;
};

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

/* The sections a file may have, by S_*; with their key tables, in config_keys.c. */
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

/* Reporting, in config_report.c: a problem at a line (problem(): at the current
 * one), a section's label, its key names, a printable bounded copy of a value. */
void config_problem_at(struct parser *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define problem(p, ...) config_problem_at((p), (p)->line, __VA_ARGS__)
const char *config_sect_label(const struct section_def *def, const char *name,
			      char *buf, size_t len);
void config_list_keys(const struct section_def *def, bool required, char *buf, size_t len);
const char *config_shown(const char *s, char buf[SHOW_MAX + 4]);
/* Also in config_report.c: the index of the [backend NAME] (kind SEC_BACKEND)
 * or [category NAME] so far of that name, or -1. */
int config_find_named(const struct geo_config *cfg, enum sec_kind kind, const char *name);

/*
 * The value parsers, in config_values.c, named by the key tables in config_keys.c:
 * each stores the non-empty value of key p->key, mostly into `field` (its place
 * in the section's struct), and returns true; or returns false after reporting
 * the problem (or setting p->oom).
 */
bool cfgval_name(struct parser *p, const char *val, void *field);
bool cfgval_country(struct parser *p, const char *val, void *field);
bool cfgval_path(struct parser *p, const char *val, void *field);
bool cfgval_number(struct parser *p, const char *val, void *field);
bool cfgval_size(struct parser *p, const char *val, void *field);
bool cfgval_choice(struct parser *p, const char *val, void *field);
bool cfgval_list(struct parser *p, const char *val, void *field);
bool cfgval_defcat(struct parser *p, const char *val, void *field);
bool cfgval_origin(struct parser *p, const char *val, void *field);
bool cfgval_kind(struct parser *p, const char *val, void *field);
bool cfgval_endpoint(struct parser *p, const char *val, void *field);
bool cfgval_bucket(struct parser *p, const char *val, void *field);
bool cfgval_prefix(struct parser *p, const char *val, void *field);
bool cfgval_region(struct parser *p, const char *val, void *field);

/* Also in config_values.c, for the line parser too: blanks trimmed off both
 * ends in place, and whether a section or site name is valid. */
char *config_trim(char *s);
bool config_valid_name(const char *s);

/* In config_check.c: the checks that need the whole file, once every line is parsed. */
void config_validate(struct parser *p);

#endif

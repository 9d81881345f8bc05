/*
 * log.h — the daemon's and tools' only way to print diagnostics.
 *
 * Messages go to stderr, or to syslog once log_to_syslog() was called
 * (daemonized). Levels filter like syslog's. Never pass key material.
 */
#ifndef GEOFS_LOG_H
#define GEOFS_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_ERR = 3, LOG_LVL_WARN = 4, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

void log_set_level(enum log_level lvl);
/* Parses "error", "warning", "info", "debug". 0 or -EINVAL. */
int log_parse_level(const char *s, enum log_level *out);
void log_to_syslog(const char *ident);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif

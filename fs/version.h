/*
 * version.h — the geofs version, one definition for the daemon, geoctl
 * and the reports (the build may override it with -DGEOFS_VERSION=...).
 */
#ifndef GEOFS_VERSION_H
#define GEOFS_VERSION_H

#ifndef GEOFS_VERSION
#define GEOFS_VERSION "0.1"
#endif

#endif

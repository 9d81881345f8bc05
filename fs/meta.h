/*
 * meta.h — the meta root: namespace, tags of directories, file stubs and
 * manifests. It stays in the home country.
 *
 * Layout:
 *   META/<the namespace>     directories, symlinks, FIFOs as they are; a
 *                            regular file is a "stub": an empty sparse file
 *                            whose size is the logical size (a hint for
 *                            stat), whose mode/owner/times are the file's,
 *                            with xattr user.geofs.id = file id (32 hex).
 *                            Hard links are hard links of the stub.
 *                            A small file's manifest (at most
 *                            META_INLINE_MAX bytes encoded: a few shards)
 *                            is the stub's xattr user.geofs.manifest, and
 *                            there is no manifest file: one inode, one
 *                            rename and two flushes less per small file.
 *                            A file that outgrows it (or whose own xattrs
 *                            need the room: gfile_unstub) gets a manifest
 *                            file and never goes back; where both exist (a
 *                            crash in that move), the manifest file wins.
 *   directories carry        user.geofs.category, user.geofs.origin,
 *                            user.geofs.tagset ("", "c", "o" or "co": which
 *                            were set explicitly rather than inherited)
 *   META/.geofs/format       "geofs-meta 1"
 *   META/.geofs/manifests/ab/<32 hex>   the manifest of file id <hex>
 *   META/.geofs/tmp/         temp files for atomic manifest replacement
 *                            (<hex>.tmp), and stubs of new files on a
 *                            meta root without O_TMPFILE (<hex>.stub,
 *                            newstub.h)
 *
 * Paths from FUSE ("/a/b") are resolved under the root with openat2()
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS for the parent, so a symlink
 * planted in the meta root can never lead outside it, and paths of any
 * length up to PATH_MAX work.
 */
#ifndef GEOFS_META_H
#define GEOFS_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "geoid.h"
#include "manifest.h"

#define META_DIR        ".geofs"
#define META_XA_ID      "user.geofs.id"
#define META_XA_CAT     "user.geofs.category"
#define META_XA_ORIGIN  "user.geofs.origin"
#define META_XA_TAGSET  "user.geofs.tagset"
#define META_XA_MANIFEST "user.geofs.manifest"

/* The largest manifest kept on its stub (encoded bytes). Small, so that
 * it fits beside the application's own xattrs in one xattr block. */
#define META_INLINE_MAX 512

struct meta;

/* Opens the meta root, creating .geofs/ (and the root itself if create).
 * 0 or -errno with a message. */
int meta_open(const char *path, bool create, struct meta **out, char *err, size_t errlen);
void meta_close(struct meta *m);		/* NULL ok */

int meta_rootfd(const struct meta *m);
/* META/.geofs/tmp, open for the meta root's lifetime. */
int meta_tmpdir(const struct meta *m);

/* The largest file size the meta root's filesystem can represent (a
 * stub's size is the file's): probed once on a scratch file in
 * .geofs/tmp, then cached. Sizes past it are EFBIG. */
uint64_t meta_max_size(struct meta *m);

/* Holds META/.geofs/lock: shared by every mounted daemon, exclusive for
 * offline repair (fsck --repair), so repair never runs under a live mount.
 * Non-blocking: -EBUSY if the other kind is held. Released by meta_close. */
int meta_hold(struct meta *m, bool exclusive);

/* Splits a mount path into an opened parent directory and the last
 * component. "/" gives the root's parent = root fd and name ".".
 * Release *dirfd with meta_put_dir(). 0 or -errno (-ENOENT, -ENOTDIR,
 * -ELOOP for a symlink in the meta root, -ENAMETOOLONG). */
int meta_parent(struct meta *m, const char *path, int *dirfd, const char **name);
void meta_put_dir(struct meta *m, int dirfd);

/* The inode counts to report for a mount (statfs) from those of the meta
 * root's filesystem (ms), into out's f_files, f_ffree, f_favail: as they
 * are when sane; where the filesystem reports no limit (CephFS: f_ffree
 * = -1) or values past 2^63, a finite count, f_files = META_INODES_NOLIMIT
 * (2^32 - 1, so 32-bit callers see no overflow) of which the inodes used
 * are taken; always f_favail <= f_ffree <= f_files. */
#define META_INODES_NOLIMIT UINT64_C(0xffffffff)
struct statvfs;
void meta_inode_counts(const struct statvfs *ms, struct statvfs *out);

/* Opens a directory of the namespace (O_RDONLY|O_DIRECTORY). -errno. */
int meta_open_dir(struct meta *m, const char *path);

/* True for a name an NFS client gives a file that was unlinked while open
 * (silly rename: ".nfs" and 24 hex digits). geofs hides such names from
 * listings and from rmdir's emptiness (they vanish when the client closes
 * the file); an rmdir moves them under .geofs/tmp as <hex>.silly. */
bool meta_silly_name(const char *name);
#define META_SILLY_SUFFIX ".silly"

/* True for the names geofs keeps to itself: ".geofs" at the root (and
 * everything under it), and an NFS client's silly-rename name (see
 * meta_silly_name) anywhere. Looking one up gives ENOENT and making one
 * EPERM, so a name that listings hide and rmdir moves away can never hold
 * a user's file. */
bool meta_reserved(const char *path);

/* Stub id from an open stub fd. 0, -ENODATA if it has none (not a geofs
 * file), -EINVAL if malformed. */
int meta_stub_id(int fd, struct geo_id *id);
int meta_set_stub_id(int fd, const struct geo_id *id);

/* Manifests by file id. load: 0, -ENOENT, -EINVAL (malformed; logged with
 * the id and reason). store: temp + (fsync if durable) + rename (+ fsync of
 * the directory if durable). */
int meta_manifest_load(struct meta *m, const struct geo_id *id, struct manifest **out);
int meta_manifest_store(struct meta *m, const struct manifest *mf, bool durable);

/* meta_manifest_store in two steps, so a caller can make other data durable
 * between writing the new manifest and publishing it: stage writes it to a
 * temp file (not yet visible); install (durable: fdatasync, rename, fsync
 * of the directory) publishes it; abort drops it. Install and abort both
 * end the staging, whatever they return. */
struct meta_staged {
	int fd;
	char tmp[GEO_HEX_LEN + 8];
	char rel[3 + GEO_HEX_LEN + 1];
};
int meta_manifest_stage(struct meta *m, const struct manifest *mf, struct meta_staged *st);
int meta_manifest_install(struct meta *m, struct meta_staged *st, bool durable);
void meta_manifest_abort(struct meta *m, struct meta_staged *st);
int meta_manifest_delete(struct meta *m, const struct geo_id *id);

/* Makes a manifest file installed without durability durable: fdatasync
 * of the file, fsync of its directory. 0 or -errno. */
int meta_manifest_sync(struct meta *m, const struct geo_id *id);

/* The manifest of the file whose stub is stubfd (id from its
 * user.geofs.id): the manifest file, or, when there is none, the stub's
 * own (user.geofs.manifest; *from_stub set). -ENOENT if neither exists,
 * -EINVAL if malformed or for another id. Safe against another mount
 * moving the manifest from the stub to a file meanwhile. */
int meta_manifest_load_stub(struct meta *m, int stubfd, const struct geo_id *id,
			    struct manifest **out, bool *from_stub);

/* Replaces the manifest on a stub (an atomic xattr replacement; the
 * caller fsyncs the stub for durability): -E2BIG if it encodes to more
 * than META_INLINE_MAX bytes, -ENOSPC if the stub's xattrs have no room
 * left (either way: use a manifest file), else 0 or -errno. clear removes
 * it once a manifest file has been installed (ENODATA is fine). */
int meta_stub_manifest_set(int stubfd, const struct manifest *mf);
int meta_stub_manifest_clear(int stubfd);

/* Calls fn for every manifest id present under .geofs/manifests (a file
 * named as manifest_relpath() names it: "ab/ab<30 hex>"), and misnamed
 * (unless NULL) with the relpath of every other entry there (a name that
 * is no id, or an id in the wrong fan-out directory: nothing loads it).
 * A nonzero return of either stops the walk and is returned. */
int meta_walk_manifests(struct meta *m, int (*fn)(const struct geo_id *id, void *arg),
			int (*misnamed)(const char *relpath, void *arg), void *arg);

/* Directory tags on an open directory fd. get: 0 or -ENODATA when the
 * directory has none (callers fall back to the parent / the defaults). */
int meta_dir_tags_get(int dirfd, char cat[CFG_NAME_MAX], char origin[3], unsigned *flags);
int meta_dir_tags_set(int dirfd, const char *cat, const char *origin, unsigned flags);

#endif

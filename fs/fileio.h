/*
 * fileio.h — whole-buffer reads and writes on file descriptors, retrying
 * short transfers and EINTR, so no module writes its own loop; reading a
 * whole file into memory; and flock(2) with its result as -errno.
 */
#ifndef GEOFS_FILEIO_H
#define GEOFS_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* Writes all len bytes at the file position. 0 or -errno. */
int fileio_write_all(int fd, const void *buf, size_t len);

/* Reads up to len bytes from offset off (pread), stopping early only at
 * end of file. Returns the count read or -errno. */
long fileio_pread_full(int fd, void *buf, size_t len, off_t off);

/* Reads the whole file open at fd into a new buffer: *out (caller frees with
 * free()) holds *len bytes and a NUL after them. A regular file yields exactly
 * the size fstat gives at the start, read from offset 0 (-EIO if it shrinks
 * meanwhile: a torn read); anything else (a pipe, /dev/stdin) is read from
 * its position to end of file. 0; -EFBIG when it holds more than max bytes;
 * -ENOMEM; -errno. Not for secrets (the buffer is ordinary memory). */
int fileio_read_whole(int fd, size_t max, char **out, size_t *len);

/* flock(fd, op), retrying EINTR. 0 or -errno: -EWOULDBLOCK with LOCK_NB
 * when held elsewhere; -EBADF where the filesystem wants the file open for
 * writing to lock it (NFS: open what you lock O_RDWR); -ENOLCK. */
int fileio_flock(int fd, int op);

#endif

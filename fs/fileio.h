/*
 * fileio.h — whole-buffer reads and writes on file descriptors, retrying
 * short transfers and EINTR, so no module writes its own loop; and
 * flock(2) with its result as -errno.
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

/* flock(fd, op), retrying EINTR. 0 or -errno: -EWOULDBLOCK with LOCK_NB
 * when held elsewhere; -EBADF where the filesystem wants the file open for
 * writing to lock it (NFS: open what you lock O_RDWR); -ENOLCK. */
int fileio_flock(int fd, int op);

#endif

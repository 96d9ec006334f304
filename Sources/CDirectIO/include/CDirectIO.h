#ifndef CKPT_CDIRECTIO_H
#define CKPT_CDIRECTIO_H
#include <hdf5.h>
#include <stdint.h>

/* An HDF5 file driver for the files ckpt writes: the POSIX driver's behaviour (pread/pwrite on
   one descriptor, HDF5's metadata aggregation and accumulation), except that large raw-data
   writes (chunks) go to the file through a second descriptor opened with O_DIRECT: the
   4096-byte-aligned middle of such a write moves straight from ckpt's buffer to the device
   instead of being copied into the page cache first. The unaligned head and tail of each write,
   all metadata and every read use the buffered descriptor, so every byte lands where the POSIX
   driver would have put it; the file is an ordinary HDF5 file. Where O_DIRECT is refused
   (filesystems without it, misaligned buffers) a write falls back to the buffered descriptor.

   Thread safety: HDF5 calls drivers under its global lock; the counters are atomic. */

/* The driver's id, registered on first use; negative when this HDF5 cannot take it (its
   driver interface differs from 1.10/1.12's) or registration failed. */
hid_t ckpt_direct_driver(void);

/* Sets the driver on a file access list, with the 4096-byte alignment of objects of at least
   `threshold` bytes that lets chunk writes start on a block boundary. Returns 0, or -1 when
   the driver is unavailable (the list is left unchanged). */
int ckpt_direct_set_fapl(hid_t fapl, hsize_t threshold);

/* Bytes written through the direct descriptor and through the buffered one since the process
   started (every file of this driver). */
uint64_t ckpt_direct_bytes_direct(void);
uint64_t ckpt_direct_bytes_buffered(void);

/* Bytes `file` (open through this driver) has had written directly and buffered; 0, or -1 when
   the file is not on this driver. */
int ckpt_direct_file_stats(hid_t file, uint64_t *direct, uint64_t *buffered);

/* Direct reads (foreign inputs: DCP items, zip members, safetensors).

   Reads `count` bytes at `offset` into `out` through `dfd`, a descriptor of the file opened
   with O_DIRECT: block-aligned reads of at most `bounce_size` bytes into `bounce` (aligned to
   CKPT_DIRECT_ALIGN, `bounce_size` a multiple of it), each copied out. Returns 0, EINVAL when
   the filesystem refuses the transfer (read the range buffered instead), ENODATA when the file
   ends before `offset + count`, or another errno value. */
int ckpt_direct_pread(int dfd, void *out, size_t count, off_t offset, void *bounce, size_t bounce_size);

/* Reads the block-aligned span around [offset, offset + count) into `buf` (aligned to
   CKPT_DIRECT_ALIGN, `capacity` bytes) through `dfd` (O_DIRECT), without copying: the range
   starts at `buf + *delta`. Returns 0; ERANGE when the span does not fit `capacity` or `buf`
   is misaligned (read buffered instead); EINVAL when the filesystem refuses the transfer;
   ENODATA when the file ends before the range does; or another errno value. */
int ckpt_direct_pread_span(int dfd, void *buf, size_t capacity, off_t offset, size_t count, size_t *delta);

/* The share (0-100) of the pages of `fd`'s range [offset, offset + count) that are in the page
   cache (the cachestat system call, else mmap + mincore); -1 when neither can tell. */
int ckpt_cached_percent(int fd, off_t offset, size_t count);

/* Opens `path` read-only with O_DIRECT and close-on-exec; -1 (errno set) when refused. */
int ckpt_open_direct_read(const char *path);

/* The smallest raw-data write sent through O_DIRECT (bytes). */
#define CKPT_DIRECT_MIN_WRITE (256u * 1024u)
/* Block alignment of direct writes: addresses, lengths and buffer addresses. */
#define CKPT_DIRECT_ALIGN 4096u

#endif

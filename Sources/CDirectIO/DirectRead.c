#define _GNU_SOURCE
#include "CDirectIO.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int ckpt_open_direct_read(const char *path) {
    int fd;
    do { fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC); } while (fd < 0 && errno == EINTR);
    return fd;
}

int ckpt_direct_pread(int dfd, void *out, size_t count, off_t offset, void *bounce, size_t bounce_size) {
    const off_t a = (off_t)CKPT_DIRECT_ALIGN;
    if (offset < 0 || bounce_size < (size_t)a || bounce_size % (size_t)a || ((uintptr_t)bounce) % (uintptr_t)a) return EINVAL;
    unsigned char *dst = out;
    off_t pos = offset;
    const off_t end = offset + (off_t)count;
    while (pos < end) {
        off_t start = pos / a * a;
        size_t want = (size_t)(((end - start) + a - 1) / a * a);
        if (want > bounce_size) want = bounce_size;
        ssize_t n = pread(dfd, bounce, want, start);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno;
        if (n <= pos - start) return ENODATA; /* the file ends before the range does */
        size_t take = (size_t)(start + n - pos);
        if (take > (size_t)(end - pos)) take = (size_t)(end - pos);
        memcpy(dst, (unsigned char *)bounce + (pos - start), take);
        dst += take;
        pos += (off_t)take;
    }
    return 0;
}

int ckpt_direct_pread_span(int dfd, void *buf, size_t capacity, off_t offset, size_t count, size_t *delta) {
    const off_t a = (off_t)CKPT_DIRECT_ALIGN;
    if (offset < 0 || ((uintptr_t)buf) % (uintptr_t)a) return ERANGE;
    off_t start = offset / a * a;
    size_t need = (size_t)(offset - start) + count;
    size_t len = (need + (size_t)a - 1) / (size_t)a * (size_t)a;
    if (len > capacity) return ERANGE;
    size_t done = 0;
    while (done < need) {
        ssize_t n = pread(dfd, (unsigned char *)buf + done, len - done, start + (off_t)done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno;
        if (n == 0) return ENODATA;
        done += (size_t)n;
    }
    *delta = (size_t)(offset - start);
    return 0;
}

#ifndef __NR_cachestat
#define __NR_cachestat 451 /* the same number on every Linux architecture (generic table) */
#endif

struct ckpt_cachestat_range { uint64_t off, len; };
struct ckpt_cachestat { uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted; };

int ckpt_cached_percent(int fd, off_t offset, size_t count) {
    if (count == 0 || offset < 0) return 100;
    long page = sysconf(_SC_PAGESIZE);
    off_t lo = offset / page * page;
    size_t len = (size_t)(offset + (off_t)count - lo);
    size_t pages = (len + (size_t)page - 1) / (size_t)page;
    struct ckpt_cachestat_range r = {(uint64_t)lo, (uint64_t)len};
    struct ckpt_cachestat cs;
    if (syscall(__NR_cachestat, fd, &r, &cs, 0) == 0) {
        uint64_t c = cs.nr_cache > pages ? pages : cs.nr_cache;
        return (int)(c * 100 / pages);
    }
    /* Kernels before 6.5: map the range (no page is touched) and ask mincore. */
    void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, lo);
    if (m == MAP_FAILED) return -1;
    unsigned char vec[4096];
    size_t resident = 0, done = 0;
    int ok = 1;
    while (done < pages && ok) {
        size_t n = pages - done < sizeof vec ? pages - done : sizeof vec;
        if (mincore((unsigned char *)m + done * (size_t)page, n * (size_t)page, vec) != 0) ok = 0;
        for (size_t i = 0; ok && i < n; i++) resident += vec[i] & 1;
        done += n;
    }
    munmap(m, len);
    return ok ? (int)(resident * 100 / pages) : -1;
}

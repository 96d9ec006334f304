#define _GNU_SOURCE
#include "CDirectIO.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static _Atomic uint64_t bytes_direct = 0;
static _Atomic uint64_t bytes_buffered = 0;

uint64_t ckpt_direct_bytes_direct(void) { return atomic_load(&bytes_direct); }
uint64_t ckpt_direct_bytes_buffered(void) { return atomic_load(&bytes_buffered); }

#if H5_VERS_MAJOR == 1 && (H5_VERS_MINOR == 10 || H5_VERS_MINOR == 12)

/* The largest single pread/pwrite Linux performs (it returns short counts above it). */
#define CKPT_MAX_IO ((size_t)0x7ffff000)
/* HDF5 addresses are offsets into an off_t-sized file. */
#define CKPT_MAXADDR (((haddr_t)1 << (8 * sizeof(off_t) - 1)) - 1)

typedef struct {
    H5FD_t pub; /* must come first: HDF5 casts between the two */
    int fd;     /* buffered: metadata, reads, unaligned heads and tails */
    int dfd;    /* O_DIRECT on the same file, or -1 */
    haddr_t eoa;
    haddr_t eof;
    dev_t device;
    ino_t inode;
    uint64_t written_direct;   /* this file's bytes through dfd */
    uint64_t written_buffered; /* and through fd */
} direct_file;

static void push(const char *func, int line, hid_t major, hid_t minor, const char *what, haddr_t addr, int err) {
    H5Epush2(H5E_DEFAULT, __FILE__, func, (unsigned)line, H5E_ERR_CLS, major, minor, "%s at %llu: %s", what,
             (unsigned long long)addr, strerror(err));
}

static H5FD_t *d_open(const char *name, unsigned flags, hid_t fapl, haddr_t maxaddr) {
    (void)fapl;
    if (!name || !*name || maxaddr == 0 || maxaddr == HADDR_UNDEF || maxaddr > CKPT_MAXADDR) return NULL;
    int o = (flags & H5F_ACC_RDWR) ? O_RDWR : O_RDONLY;
    if (flags & H5F_ACC_TRUNC) o |= O_TRUNC;
    if (flags & H5F_ACC_CREAT) o |= O_CREAT;
    if (flags & H5F_ACC_EXCL) o |= O_EXCL;
    int fd;
    do { fd = open(name, o | O_CLOEXEC, 0666); } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        push(__func__, __LINE__, H5E_FILE, H5E_CANTOPENFILE, "cannot open the file", 0, errno);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        push(__func__, __LINE__, H5E_FILE, H5E_CANTOPENFILE, "cannot stat the file", 0, errno);
        close(fd);
        return NULL;
    }
    direct_file *f = calloc(1, sizeof(direct_file));
    if (!f) {
        close(fd);
        return NULL;
    }
    f->fd = fd;
    f->dfd = -1;
    /* Only writers use the direct descriptor; a filesystem that refuses O_DIRECT leaves it -1. */
    if (flags & H5F_ACC_RDWR) {
        int d;
        do { d = open(name, O_RDWR | O_DIRECT | O_CLOEXEC); } while (d < 0 && errno == EINTR);
        f->dfd = d;
    }
    f->eof = (haddr_t)st.st_size;
    f->device = st.st_dev;
    f->inode = st.st_ino;
    return &f->pub;
}

static herr_t d_close(H5FD_t *file) {
    direct_file *f = (direct_file *)file;
    int rc = 0;
    if (f->dfd >= 0) close(f->dfd);
    if (close(f->fd) != 0) {
        push(__func__, __LINE__, H5E_IO, H5E_CANTCLOSEFILE, "cannot close the file", 0, errno);
        rc = -1;
    }
    free(f);
    return rc;
}

static int d_cmp(const H5FD_t *a, const H5FD_t *b) {
    const direct_file *x = (const direct_file *)a, *y = (const direct_file *)b;
    if (x->device != y->device) return x->device < y->device ? -1 : 1;
    if (x->inode != y->inode) return x->inode < y->inode ? -1 : 1;
    return 0;
}

static herr_t d_query(const H5FD_t *file, unsigned long *flags) {
    (void)file;
    /* The POSIX driver's features: HDF5 aggregates and accumulates metadata exactly as there. */
    *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_DATA_SIEVE |
             H5FD_FEAT_AGGREGATE_SMALLDATA | H5FD_FEAT_POSIX_COMPAT_HANDLE | H5FD_FEAT_DEFAULT_VFD_COMPATIBLE;
    return 0;
}

static haddr_t d_get_eoa(const H5FD_t *file, H5FD_mem_t type) {
    (void)type;
    return ((const direct_file *)file)->eoa;
}

static herr_t d_set_eoa(H5FD_t *file, H5FD_mem_t type, haddr_t addr) {
    (void)type;
    ((direct_file *)file)->eoa = addr;
    return 0;
}

static haddr_t d_get_eof(const H5FD_t *file, H5FD_mem_t type) {
    (void)type;
    return ((const direct_file *)file)->eof;
}

static herr_t d_get_handle(H5FD_t *file, hid_t fapl, void **handle) {
    (void)fapl;
    if (!handle) return -1;
    *handle = &((direct_file *)file)->fd;
    return 0;
}

static herr_t d_read(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, void *buf) {
    (void)type;
    (void)dxpl;
    direct_file *f = (direct_file *)file;
    if (addr == HADDR_UNDEF || addr > CKPT_MAXADDR || size > CKPT_MAXADDR - addr) {
        push(__func__, __LINE__, H5E_ARGS, H5E_OVERFLOW, "read address out of range", addr, EINVAL);
        return -1;
    }
    unsigned char *p = buf;
    while (size > 0) {
        ssize_t n = pread(f->fd, p, size < CKPT_MAX_IO ? size : CKPT_MAX_IO, (off_t)addr);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            push(__func__, __LINE__, H5E_IO, H5E_READERROR, "read failed", addr, errno);
            return -1;
        }
        if (n == 0) { /* past the end of the file: HDF5 expects zeros */
            memset(p, 0, size);
            break;
        }
        p += n;
        addr += (haddr_t)n;
        size -= (size_t)n;
    }
    return 0;
}

/* pwrite of every byte through `fd`; 0 or an errno value. */
static int write_all(int fd, const unsigned char *p, size_t size, haddr_t addr, size_t *written) {
    *written = 0;
    while (size > 0) {
        ssize_t n = pwrite(fd, p, size < CKPT_MAX_IO ? size : CKPT_MAX_IO, (off_t)addr);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno;
        if (n == 0) return EIO;
        p += n;
        addr += (haddr_t)n;
        size -= (size_t)n;
        *written += (size_t)n;
    }
    return 0;
}

static herr_t buffered(direct_file *f, const unsigned char *p, size_t size, haddr_t addr) {
    size_t done;
    int e = write_all(f->fd, p, size, addr, &done);
    atomic_fetch_add(&bytes_buffered, done);
    f->written_buffered += done;
    if (e) {
        push("d_write", __LINE__, H5E_IO, H5E_WRITEERROR, "write failed", addr + done, e);
        errno = e; /* ckpt names the cause (disk full, ...) from errno after H5Dwrite_chunk */
        return -1;
    }
    return 0;
}

static herr_t d_write(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, const void *buf) {
    (void)dxpl;
    direct_file *f = (direct_file *)file;
    if (addr == HADDR_UNDEF || addr > CKPT_MAXADDR || size > CKPT_MAXADDR - addr || addr + size > f->eoa) {
        push(__func__, __LINE__, H5E_ARGS, H5E_OVERFLOW, "write address out of range", addr, EINVAL);
        return -1;
    }
    const unsigned char *p = buf;
    const haddr_t end = addr + size;
    const size_t a = CKPT_DIRECT_ALIGN;
    size_t head = (size_t)((a - addr % a) % a);
    /* Direct only when the buffer is aligned where the file is: the head's end in memory falls
       on a block boundary too. The body is the whole blocks after the head. */
    if (f->dfd >= 0 && type == H5FD_MEM_DRAW && size >= CKPT_DIRECT_MIN_WRITE && head < size &&
        ((uintptr_t)(p + head)) % a == 0) {
        size_t body = (size - head) / a * a;
        if (head > 0 && buffered(f, p, head, addr) < 0) return -1;
        size_t done = 0;
        int e = write_all(f->dfd, p + head, body, addr + head, &done);
        atomic_fetch_add(&bytes_direct, done);
        f->written_direct += done;
        if (e == EINVAL && done % a == 0) {
            /* The filesystem took the open but not the write: buffered from here on. */
            close(f->dfd);
            f->dfd = -1;
        } else if (e) {
            push(__func__, __LINE__, H5E_IO, H5E_WRITEERROR, "direct write failed", addr + head + done, e);
            errno = e;
            return -1;
        }
        size_t from = head + done;
        if (from < size && buffered(f, p + from, size - from, addr + from) < 0) return -1;
    } else if (buffered(f, p, size, addr) < 0) {
        return -1;
    }
    if (end > f->eof) f->eof = end;
    return 0;
}

static herr_t d_truncate(H5FD_t *file, hid_t dxpl, hbool_t closing) {
    (void)dxpl;
    (void)closing;
    direct_file *f = (direct_file *)file;
    if (f->eoa == f->eof) return 0;
    if (ftruncate(f->fd, (off_t)f->eoa) != 0) {
        push(__func__, __LINE__, H5E_IO, H5E_SEEKERROR, "cannot set the file's size", f->eoa, errno);
        return -1;
    }
    f->eof = f->eoa;
    return 0;
}

static herr_t d_lock(H5FD_t *file, hbool_t rw) {
    direct_file *f = (direct_file *)file;
    if (flock(f->fd, (rw ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 && errno != ENOSYS) {
        push(__func__, __LINE__, H5E_FILE, H5E_CANTLOCKFILE, "unable to lock the file", 0, errno);
        return -1;
    }
    return 0;
}

static herr_t d_unlock(H5FD_t *file) {
    direct_file *f = (direct_file *)file;
    if (flock(f->fd, LOCK_UN) != 0 && errno != ENOSYS) {
        push(__func__, __LINE__, H5E_FILE, H5E_CANTUNLOCKFILE, "unable to unlock the file", 0, errno);
        return -1;
    }
    return 0;
}

static const H5FD_class_t direct_class = {
    "ckpt_direct",       /* name */
    CKPT_MAXADDR,        /* maxaddr */
    H5F_CLOSE_WEAK,      /* fc_degree */
    NULL,                /* terminate */
    NULL, NULL, NULL,    /* superblock: none of its own */
    0, NULL, NULL, NULL, /* fapl */
    0, NULL, NULL,       /* dxpl */
    d_open, d_close, d_cmp, d_query,
    NULL,                /* get_type_map */
    NULL, NULL,          /* alloc, free: HDF5's */
    d_get_eoa, d_set_eoa, d_get_eof, d_get_handle,
    d_read, d_write,
    NULL,                /* flush: nothing buffered in the driver */
    d_truncate, d_lock, d_unlock,
    H5FD_FLMAP_DICHOTOMY,
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static hid_t driver_id = -1;

static void register_driver(void) { driver_id = H5FDregister(&direct_class); }

hid_t ckpt_direct_driver(void) {
    pthread_once(&once, register_driver);
    return driver_id;
}

int ckpt_direct_file_stats(hid_t file, uint64_t *direct, uint64_t *buffered) {
    hid_t fapl = H5Fget_access_plist(file);
    if (fapl < 0) return -1;
    hid_t driver = H5Pget_driver(fapl);
    H5Pclose(fapl);
    void *handle = NULL;
    if (driver != ckpt_direct_driver() || H5Fget_vfd_handle(file, H5P_DEFAULT, &handle) < 0 || !handle) return -1;
    /* The handle is the address of the file's `fd` member (d_get_handle). */
    const direct_file *f = (const direct_file *)((const char *)handle - offsetof(direct_file, fd));
    *direct = f->written_direct;
    *buffered = f->written_buffered;
    return 0;
}

#else

hid_t ckpt_direct_driver(void) { return -1; }
int ckpt_direct_file_stats(hid_t file, uint64_t *direct, uint64_t *buffered) { (void)file; (void)direct; (void)buffered; return -1; }

#endif

int ckpt_direct_set_fapl(hid_t fapl, hsize_t threshold) {
    hid_t id = ckpt_direct_driver();
    if (id < 0) return -1;
    if (H5Pset_driver(fapl, id, NULL) < 0) return -1;
    if (H5Pset_alignment(fapl, threshold, CKPT_DIRECT_ALIGN) < 0) return -1;
    return 0;
}

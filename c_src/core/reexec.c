/* SPDX-License-Identifier: ISC */
/* An exec of the alcove program by an event loop: see reexec.h. */
#include "core/reexec.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* The mark of an alcove image: an ELF note, name "alcove", type 1, whose
 * descriptor is the version of the handover below. */
#define NOTE_TYPE 1
#define HANDOVER_VERSION 1
#define STR(x) #x
#define XSTR(x) STR(x)

#if defined(__arm__)
#define NOTE_KIND "%note"
#else
#define NOTE_KIND "@note"
#endif

__asm__(
    ".pushsection .note.alcove,\"a\"," NOTE_KIND "\n"
    ".balign 4\n"
    ".long 7\n"
    ".long 4\n"
    ".long " XSTR(NOTE_TYPE) "\n"
                             ".asciz \"alcove\"\n"
                             ".balign 4\n"
                             ".long " XSTR(HANDOVER_VERSION) "\n"
                                                             ".popsection\n");

/* What the old image hands over: this header, then the requests it had
 * read and not run. */
typedef struct {
    char magic[16];
    uint32_t version;
    uint32_t id;
    int32_t depth;
    int32_t ppid;
    int32_t up_in, up_out, upctl;
    /* getopt/3's options: a limit lowered is not lifted by a re-exec */
    int32_t maxchild, maxforkdepth, exit_status, termsig, flowcontrol,
        signaloneof;
    uint8_t fork_fast; /* 0: a filter may deny what fast forks use */
    uint8_t filter[32];
    uint8_t child_filter[32];
    uint8_t sigdisp[NSIG];
    uint64_t pending; /* bytes of requests that follow */
} handover_t;

static const char magic[16] = "alcove handover";

/* The largest note segment read: alcove's are a few dozen bytes. */
#define NOTES_MAX 4096
#define PHDRS_MAX 64

static bool pread_all(int fd, void *buf, size_t len, off_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, (char *)buf + got, len - got, off + (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    return true;
}

static bool pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(fd, (const char *)buf + done, len - done,
                           off + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            errno = n < 0 ? errno : EIO;
            return false;
        }
        done += (size_t)n;
    }
    return true;
}

static bool notes_hold_mark(const char *p, size_t len)
{
    size_t off = 0;
    while (len - off >= sizeof(ElfW(Nhdr))) {
        ElfW(Nhdr) nh;
        memcpy(&nh, p + off, sizeof(nh));
        off += sizeof(nh);
        size_t name = ((size_t)nh.n_namesz + 3) & ~(size_t)3;
        size_t desc = ((size_t)nh.n_descsz + 3) & ~(size_t)3;
        if (name > len - off || desc > len - off - name)
            return false;
        uint32_t version = 0;
        if (nh.n_type == NOTE_TYPE && nh.n_namesz == 7 &&
            memcmp(p + off, "alcove", 7) == 0 && nh.n_descsz == 4) {
            memcpy(&version, p + off + name, 4);
            return version == HANDOVER_VERSION;
        }
        off += name + desc;
    }
    return false;
}

bool reexec_is_alcove_fd(int fd)
{
    ElfW(Ehdr) eh;
    if (!pread_all(fd, &eh, sizeof(eh), 0) ||
        memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
        eh.e_ident[EI_CLASS] !=
            (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32) ||
        eh.e_phentsize != sizeof(ElfW(Phdr)) || eh.e_phnum > PHDRS_MAX)
        return false;
    ElfW(Phdr) ph[PHDRS_MAX];
    if (!pread_all(fd, ph, eh.e_phnum * sizeof(ph[0]), (off_t)eh.e_phoff))
        return false;
    for (size_t i = 0; i < eh.e_phnum; i++) {
        char notes[NOTES_MAX];
        if (ph[i].p_type != PT_NOTE || ph[i].p_filesz > sizeof(notes))
            continue;
        if (pread_all(fd, notes, ph[i].p_filesz, (off_t)ph[i].p_offset) &&
            notes_hold_mark(notes, ph[i].p_filesz))
            return true;
    }
    return false;
}

static bool is_alcove_at(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool yes = reexec_is_alcove_fd(fd);
    close(fd);
    return yes;
}

/* The file execvp(3) would run: the first executable file in PATH. It
 * is looked at, then run: one replaced in between (by whoever may write
 * it) is run without its handover, as any other program. */
bool reexec_is_alcove_path(const char *path, bool search)
{
    if (!search || strchr(path, '/') != NULL)
        return is_alcove_at(path);
    const char *dirs = getenv("PATH");
    if (dirs == NULL)
        dirs = "/bin:/usr/bin";
    for (const char *p = dirs;; p++) {
        const char *end = strchrnul(p, ':');
        char file[PATH_MAX];
        int n = snprintf(file, sizeof(file), "%.*s%s%s", (int)(end - p), p,
                         end == p ? "" : "/", path);
        struct stat st;
        if (n > 0 && (size_t)n < sizeof(file) && stat(file, &st) == 0 &&
            S_ISREG(st.st_mode) && access(file, X_OK) == 0)
            return is_alcove_at(file);
        if (*end == '\0')
            return false;
        p = end;
    }
}

static int cloexec(int fd, bool on)
{
    int fl = fcntl(fd, F_GETFD);
    if (fl < 0)
        return -1;
    return fcntl(fd, F_SETFD, on ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC);
}

/* What REEXEC_FD held before, put back if the exec fails. */
static int saved_fd = -1;

static int handover_write(alcove_t *ap, uint32_t id)
{
#ifdef __linux__
    handover_t h = {.version = HANDOVER_VERSION,
                    .id = id,
                    .depth = ap->depth,
                    .ppid = ap->ppid,
                    .up_in = ap->up_in.fd,
                    .up_out = ap->up_out.fd,
                    .upctl = ap->upctl,
                    .maxchild = ap->maxchild,
                    .maxforkdepth = ap->maxforkdepth,
                    .exit_status = ap->exit_status,
                    .termsig = ap->termsig,
                    .flowcontrol = ap->flowcontrol,
                    .signaloneof = ap->signaloneof,
                    .fork_fast = ap->fork_fast};
    memcpy(h.magic, magic, sizeof(h.magic));
    memcpy(h.filter, ap->filter, sizeof(h.filter));
    memcpy(h.child_filter, ap->child_filter, sizeof(h.child_filter));
    for (int i = 0; i < NSIG; i++)
        h.sigdisp[i] = (uint8_t)ap->sigdisp[i];

    /* the request being run (the exec) is whole at the head (up_frames
     * runs only whole frames): what follows it is handed over */
    const abuf_t *b = &ap->up_ibuf;
    size_t used = b->len < FRAME_LEN ? 0 : FRAME_LEN + get32(abuf_head(b));
    if (used > b->len)
        used = b->len;
    const char *rest = abuf_head(b) + used;
    h.pending = b->len - used;

    int fd = memfd_create("alcove-handover", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    if (!pwrite_all(fd, &h, sizeof(h), 0) ||
        !pwrite_all(fd, rest, (size_t)h.pending, (off_t)sizeof(h))) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
#else
    (void)ap;
    (void)id;
    errno = ENOTSUP;
    return -1;
#endif
}

int reexec_prepare(alcove_t *ap, uint32_t id)
{
    int fd = handover_write(ap, id);
    if (fd < 0)
        return -1;
    /* out of the way of REEXEC_FD, which it could be */
    int hi = fcntl(fd, F_DUPFD_CLOEXEC, ap->fd_base);
    close(fd);
    if (hi < 0)
        return -1;
    fd = hi;
    /* what REEXEC_FD holds is kept, or nothing is done */
    saved_fd = fcntl(REEXEC_FD, F_DUPFD_CLOEXEC, ap->fd_base);
    if (saved_fd < 0 && errno != EBADF) {
        close(fd);
        return -1;
    }
    /* dup2 leaves it open across exec */
    if (dup2(fd, REEXEC_FD) < 0) {
        int err = errno;
        close(fd);
        reexec_undo(ap);
        errno = err;
        return -1;
    }
    close(fd);
    /* upstream is kept: on 0 and 1 for the port, which are kept anyway */
    if (cloexec(ap->up_in.fd, false) < 0 ||
        cloexec(ap->up_out.fd, false) < 0 ||
        (ap->upctl >= 0 && cloexec(ap->upctl, false) < 0)) {
        int err = errno;
        reexec_undo(ap);
        errno = err;
        return -1;
    }
    return 0;
}

void reexec_undo(alcove_t *ap)
{
    if (saved_fd >= 0) {
        (void)dup2(saved_fd, REEXEC_FD);
        close(saved_fd);
        saved_fd = -1;
    } else {
        close(REEXEC_FD);
    }
    if (ap->depth > 0) {
        (void)cloexec(ap->up_in.fd, true);
        (void)cloexec(ap->up_out.fd, true);
    }
    if (ap->upctl >= 0)
        (void)cloexec(ap->upctl, true);
}

static bool fd_open(int fd) { return fd >= 0 && fcntl(fd, F_GETFD) >= 0; }

bool reexec_resume(alcove_t *ap, reexec_t *r)
{
    struct stat st;
    handover_t h;
    if (fstat(REEXEC_FD, &st) < 0 || !S_ISREG(st.st_mode) ||
        !pread_all(REEXEC_FD, &h, sizeof(h), 0) ||
        memcmp(h.magic, magic, sizeof(magic)) != 0 ||
        h.version != HANDOVER_VERSION || h.depth < 0 ||
        h.pending > (uint64_t)st.st_size - sizeof(h) || !fd_open(h.up_in) ||
        !fd_open(h.up_out) || (h.upctl >= 0 && !fd_open(h.upctl)))
        return false;

    ap->depth = h.depth;
    ap->ppid = h.ppid;
    ap->upctl = h.upctl;
    ap->maxchild = h.maxchild;
    ap->maxforkdepth = h.maxforkdepth;
    ap->exit_status = h.exit_status;
    ap->termsig = h.termsig;
    ap->flowcontrol = h.flowcontrol;
    ap->signaloneof = h.signaloneof;
    /* the probe itself may be what a filter kills on */
    ap->fork_never = h.fork_fast == 0;
    memcpy(ap->filter, h.filter, sizeof(ap->filter));
    memcpy(ap->child_filter, h.child_filter, sizeof(ap->child_filter));
    for (int i = 1; i < NSIG; i++)
        r->sigdisp[i] = h.sigdisp[i] < SIGDISP_KEEP ? (sigdisp_t)h.sigdisp[i]
                                                    : SIGDISP_DFL;
    if (h.pending > 0 && (abuf_reserve(&ap->up_ibuf, (size_t)h.pending) < 0 ||
                          !pread_all(REEXEC_FD, abuf_tail(&ap->up_ibuf),
                                     (size_t)h.pending, (off_t)sizeof(h))))
        die(DIE_SYS, "handover");
    ap->up_ibuf.len += (size_t)h.pending;
    close(REEXEC_FD);

    if (ap->depth > 0) {
        (void)cloexec(h.up_in, true);
        (void)cloexec(h.up_out, true);
    }
    if (ap->upctl >= 0)
        (void)cloexec(ap->upctl, true);
    r->in = h.up_in;
    r->out = h.up_out;
    r->id = h.id;
    return true;
}

void ctl_hello(alcove_t *ap, const char *body, size_t len)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (ap->depth != 0 || ap->upctl >= 0 || len <= CTL_SECRET_LEN ||
        len - CTL_SECRET_LEN > sizeof(sa.sun_path))
        return;
    memcpy(sa.sun_path, body + CTL_SECRET_LEN, len - CTL_SECRET_LEN);
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                                  len - CTL_SECRET_LEN);

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    int rv;
    do
        rv = connect(fd, (struct sockaddr *)&sa, salen);
    while (rv < 0 && errno == EINTR);
    size_t done = 0;
    while (rv == 0 && done < CTL_SECRET_LEN) {
        ssize_t n = write(fd, body + done, CTL_SECRET_LEN - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rv = -1;
        else
            done += (size_t)n;
    }
    if (rv < 0) {
        close(fd);
        return;
    }
    ap->upctl = fd_high(ap, fd);
}

void ctl_say(alcove_t *ap, char what)
{
    if (ap->upctl < 0)
        return;
    ssize_t n;
    do
        n = write(ap->upctl, &what, 1);
    while (n < 0 && errno == EINTR);
}

/* Accepting at the descriptor limit without spinning (see util_accept.h). */
#include "util/util_accept.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "util/util_log.h"
#include "util/util_time.h"

static int spare_open(void) { return open("/dev/null", O_RDONLY | O_CLOEXEC); }

void util_acceptor_init(util_acceptor_t *a)
{
    memset(a, 0, sizeof(*a));
    a->spare_fd = spare_open();
}

void util_acceptor_fini(util_acceptor_t *a)
{
    if (a->spare_fd >= 0) close(a->spare_fd);
    a->spare_fd = -1;
}

int util_acceptor_accept(util_acceptor_t *a, int lfd, struct sockaddr *sa, socklen_t *sl, int flags,
                         const char *what)
{
    int fd = accept4(lfd, sa, sl, flags);
    if (fd >= 0 || (errno != EMFILE && errno != ENFILE)) return fd;
    int err = errno;
    if (a->spare_fd < 0) a->spare_fd = spare_open();
    if (a->spare_fd < 0) {
        errno = err;
        return -1;
    }
    close(a->spare_fd);
    int victim = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    int verr = errno;
    if (victim >= 0) {
        close(victim);
        a->shed++;
    }
    a->spare_fd = spare_open();
    uint64_t now = util_now_ms();
    if (a->shed > a->shed_logged && now - a->log_ms >= 1000) {
        LOG_WARN("%s: accept: %s; dropped %llu connection(s) at once (%llu in all) until descriptors free up", what,
                 strerror(err), (unsigned long long)(a->shed - a->shed_logged), (unsigned long long)a->shed);
        a->shed_logged = a->shed;
        a->log_ms = now;
    }
    if (victim < 0) { /* nothing pending any more, or another error */
        errno = verr;
        return -1;
    }
    return UTIL_ACCEPT_SHED;
}

/*
 * Accepting connections when file descriptors run out. A listener whose
 * accept fails with EMFILE/ENFILE still has the connection pending, so a
 * level-triggered poll wakes it again at once: the thread spins and logs
 * until a descriptor frees up. util_acceptor_accept spends a spare
 * descriptor kept for the purpose to accept that connection and close it
 * (the client sees a clean close and may retry), takes the spare back, and
 * logs at most once a second with a count.
 *
 * One util_acceptor_t per listener; not thread-safe (one accepting thread).
 */
#ifndef UTIL_ACCEPT_H
#define UTIL_ACCEPT_H

#include <stdint.h>
#include <sys/socket.h>

typedef struct util_acceptor {
    int spare_fd;                 /* -1 when it could not be (re)opened */
    uint64_t shed, shed_logged;   /* connections dropped for lack of descriptors; count at the last log */
    uint64_t log_ms;
} util_acceptor_t;

#define UTIL_ACCEPT_SHED (-2)

void util_acceptor_init(util_acceptor_t *a);
void util_acceptor_fini(util_acceptor_t *a);
/*
 * accept4(lfd, sa, sl, flags). Returns the new fd; UTIL_ACCEPT_SHED when the
 * process was out of descriptors and one pending connection was dropped (call
 * again: more may be pending); -1 with errno as accept4 otherwise (EMFILE
 * only when no spare descriptor could be had). `what` names the listener in
 * the log line.
 */
int util_acceptor_accept(util_acceptor_t *a, int lfd, struct sockaddr *sa, socklen_t *sl, int flags,
                         const char *what);

#endif

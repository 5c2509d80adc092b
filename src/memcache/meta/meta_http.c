/* The MetaService's HTTP thread (see meta_http.h). */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "memcache/meta/meta_http.h"
#include "memcache/mmc_def.h"
#include "util/util_accept.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"

struct meta_http {
    int lfd;
    int stop_fd;
    util_acceptor_t acc; /* the HTTP thread's: sheds connections at the descriptor limit */
    uint16_t port;
    pthread_t thread;
    meta_http_handler_cb_t cb;
    void *arg;
};

static int32_t http_parse_url(const char *url, char *host, size_t hcap, char *port, size_t pcap)
{
    const char *p = strncmp(url, "http://", 7) == 0 ? url + 7 : NULL;
    if (p == NULL) return util_err_set(MMC_INVALID_PARAM, "metrics URL '%s' must be http://HOST:PORT", url);
    const char *colon;
    size_t hl;
    if (*p == '[') {
        const char *rb = strchr(p, ']');
        if (rb == NULL || rb[1] != ':') return util_err_set(MMC_INVALID_PARAM, "metrics URL '%s': bad [IPv6]:PORT", url);
        hl = (size_t)(rb - p - 1);
        p++;
        colon = rb + 1;
    } else {
        colon = strrchr(p, ':');
        if (colon == NULL) return util_err_set(MMC_INVALID_PARAM, "metrics URL '%s' has no port", url);
        hl = (size_t)(colon - p);
    }
    size_t pl = strlen(colon + 1);
    if (hl == 0 || hl >= hcap || pl == 0 || pl >= pcap || strspn(colon + 1, "0123456789") != pl || atoi(colon + 1) > 65535)
        return util_err_set(MMC_INVALID_PARAM, "metrics URL '%s': bad host or port", url);
    memcpy(host, p, hl);
    host[hl] = '\0';
    memcpy(port, colon + 1, pl + 1);
    return MMC_OK;
}

static void http_send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return; /* client went away; nothing more to do */
        c += k;
        n -= (size_t)k;
    }
}

static const char *http_reason(int code)
{
    switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
    }
}

static void http_reply(int fd, int code, const char *ctype, const void *body, size_t len, bool head_only)
{
    char hdr[256];
    int n = snprintf(hdr, sizeof(hdr),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", code,
                     http_reason(code), ctype, len);
    http_send_all(fd, hdr, (size_t)n);
    if (!head_only && len > 0) http_send_all(fd, body, len);
}

static void http_error(int fd, int code)
{
    char body[64];
    int n = snprintf(body, sizeof(body), "%d %s\n", code, http_reason(code));
    http_reply(fd, code, "text/plain", body, (size_t)n, false);
}

/* Reads the header block; returns its length (up to and including the blank line) or -code. */
static int http_read_head(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    uint64_t deadline = util_now_ms() + META_HTTP_TIMEOUT_MS;
    for (;;) {
        int64_t left = util_ms_left(deadline);
        if (left <= 0) return -408;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) return -408;
        ssize_t k = recv(fd, buf + len, cap - 1 - len, 0);
        if (k < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (k <= 0) return -400; /* closed or failed before a full request */
        if (memchr(buf + len, '\0', (size_t)k) != NULL) return -400; /* never valid in a header: say so now */
        len += (size_t)k;
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end != NULL) return (int)(end - buf + 4);
        end = strstr(buf, "\n\n"); /* tolerate bare LF clients */
        if (end != NULL) return (int)(end - buf + 2);
        if (len >= cap - 1) return -431;
    }
}

int meta_http_parse_request(char *buf, size_t len, bool *head, char **target, const char **query)
{
    if (memchr(buf, '\0', len) != NULL) return 400;
    buf[len] = '\0';
    /* Request line: METHOD SP TARGET SP HTTP/1.x */
    char *eol = strpbrk(buf, "\r\n");
    if (eol == NULL) return 400;
    *eol = '\0';
    char *sp1 = strchr(buf, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (sp1 == NULL || sp2 == NULL || strchr(sp2 + 1, ' ') != NULL || strncmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
        sp1[1] != '/')
        return 400;
    *sp1 = '\0';
    *sp2 = '\0';
    *head = strcmp(buf, "HEAD") == 0;
    if (!*head && strcmp(buf, "GET") != 0) return 405;
    char *t = sp1 + 1;
    for (const char *c = t; *c; c++)
        if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e) return 400;
    char *q = strchr(t, '?');
    *query = "";
    if (q != NULL) {
        *q = '\0';
        *query = q + 1;
    }
    *target = t;
    return 0;
}

static void http_serve(meta_http_t *h, int fd)
{
    char buf[META_HTTP_HDR_MAX + 1];
    int n = http_read_head(fd, buf, sizeof(buf));
    if (n < 0) {
        http_error(fd, -n);
        return;
    }
    bool head = false;
    char *target = NULL;
    const char *query = NULL;
    int pc = meta_http_parse_request(buf, (size_t)n, &head, &target, &query);
    if (pc != 0) {
        http_error(fd, pc);
        return;
    }
    util_wbuf_t body;
    util_wbuf_init(&body);
    const char *ctype = "text/plain";
    int code = h->cb(h->arg, target, query, &body, &ctype);
    if (body.err) {
        http_error(fd, 500);
    } else {
        http_reply(fd, code, ctype, body.p, body.len, head);
    }
    util_wbuf_fini(&body);
}

static void *http_main(void *arg)
{
    meta_http_t *h = arg;
    for (;;) {
        struct pollfd pfd[2] = {{.fd = h->lfd, .events = POLLIN}, {.fd = h->stop_fd, .events = POLLIN}};
        int pr = poll(pfd, 2, -1);
        if (pr < 0 && errno == EINTR) continue;
        if (pr < 0 || (pfd[1].revents & POLLIN)) break;
        if (!(pfd[0].revents & POLLIN)) continue;
        int fd = util_acceptor_accept(&h->acc, h->lfd, NULL, NULL, SOCK_CLOEXEC, "meta: HTTP");
        if (fd == UTIL_ACCEPT_SHED) continue; /* out of descriptors: one connection dropped */
        if (fd < 0) {
            /* EAGAIN, ECONNABORTED: the next event; EMFILE with no spare: let descriptors free up */
            if (errno == EMFILE || errno == ENFILE) usleep(10000);
            continue;
        }
        http_serve(h, fd);
        shutdown(fd, SHUT_WR);
        close(fd);
    }
    return NULL;
}

int32_t meta_http_start(const char *url, meta_http_handler_cb_t cb, void *arg, meta_http_t **out)
{
    char host[128], port[8];
    int32_t rc = http_parse_url(url, host, sizeof(host), port, sizeof(port));
    if (rc != MMC_OK) return rc;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai != 0) return util_err_set(MMC_INVALID_PARAM, "metrics URL '%s': %s", url, gai_strerror(gai));

    meta_http_t *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        freeaddrinfo(ai);
        return util_err_set(MMC_MALLOC_FAILED, "metrics: out of memory");
    }
    h->cb = cb;
    h->arg = arg;
    h->lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (h->lfd < 0 || setsockopt(h->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(h->lfd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(h->lfd, 64) != 0) {
        rc = util_err_set(MMC_ERROR, "metrics: cannot listen on %s: %s", url, strerror(errno));
        freeaddrinfo(ai);
        goto close_socket;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(h->lfd, (struct sockaddr *)&ss, &sl);
    h->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    h->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (h->stop_fd < 0) {
        rc = util_err_set(MMC_ERROR, "metrics: eventfd: %s", strerror(errno));
        goto close_socket;
    }
    util_acceptor_init(&h->acc);
    if (pthread_create(&h->thread, NULL, http_main, h) != 0) {
        rc = util_err_set(MMC_ERROR, "metrics: cannot start the HTTP thread");
        util_acceptor_fini(&h->acc);
        goto close_event;
    }
    LOG_INFO("meta: HTTP endpoint on %s (port %u)", url, h->port);
    *out = h;
    return MMC_OK;

close_event:
    close(h->stop_fd);
close_socket:
    if (h->lfd >= 0) close(h->lfd);
    free(h);
    return rc;
}

uint16_t meta_http_port(const meta_http_t *h) { return h ? h->port : 0; }

void meta_http_stop(meta_http_t *h)
{
    if (h == NULL) return;
    uint64_t one = 1;
    if (write(h->stop_fd, &one, sizeof(one)) != sizeof(one)) LOG_ERROR("meta: cannot wake the HTTP thread");
    pthread_join(h->thread, NULL);
    util_acceptor_fini(&h->acc);
    close(h->stop_fd);
    close(h->lfd);
    free(h);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int meta_http_query_param(const char *query, const char *name, char *out, size_t cap, size_t *len)
{
    size_t nl = strlen(name);
    const char *p = query;
    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t seg = amp ? (size_t)(amp - p) : strlen(p);
        if (seg >= nl && strncmp(p, name, nl) == 0 && (seg == nl || p[nl] == '=')) {
            size_t o = 0;
            for (size_t i = nl + (seg > nl); i < seg; i++) {
                char c = p[i];
                if (c == '%') {
                    if (i + 2 >= seg) return -1; /* needs two hex digits inside this parameter */
                    int hi = hexval(p[i + 1]), lo = hexval(p[i + 2]);
                    if (hi < 0 || lo < 0) return -1;
                    c = (char)(hi * 16 + lo);
                    i += 2;
                } else if (c == '+') {
                    c = ' ';
                }
                if (o + 1 >= cap) return -1;
                out[o++] = c;
            }
            out[o] = '\0';
            if (len) *len = o;
            return 1;
        }
        p = amp ? amp + 1 : NULL;
    }
    return 0;
}

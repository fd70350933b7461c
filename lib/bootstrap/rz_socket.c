#include "bootstrap/rz_socket.h"
#include "util/rz_compiler.h"
#include "util/rz_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

rz_status_t rz_sockaddr_parse(const char *text, rz_sockaddr_t *addr_p)
{
    char host[256];
    const char *colon, *hstart = text;
    size_t hlen;
    struct addrinfo hints = {0}, *res = NULL;

    if (text == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':') {
            RZ_LOG_ERROR("bad address '%s': expected [ipv6]:port", text);
            return RZ_ERR_INVALID_PARAM;
        }
        hstart = text + 1;
        hlen = (size_t)(close - hstart);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL) {
            RZ_LOG_ERROR("bad address '%s': expected host:port", text);
            return RZ_ERR_INVALID_PARAM;
        }
        hlen = (size_t)(colon - text);
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port <= 0 || port > 65535 || hlen == 0 ||
        hlen >= sizeof(host)) {
        RZ_LOG_ERROR("bad address '%s': expected host:port with port 1..65535",
                     text);
        return RZ_ERR_INVALID_PARAM;
    }
    memcpy(host, hstart, hlen);
    host[hlen] = '\0';
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || res == NULL) {
        RZ_LOG_ERROR("cannot resolve '%s': %s", host, gai_strerror(rc));
        return RZ_ERR_INVALID_PARAM;
    }
    memset(addr_p, 0, sizeof(*addr_p));
    memcpy(&addr_p->u, res->ai_addr, res->ai_addrlen);
    addr_p->len = res->ai_addrlen;
    if (addr_p->u.sa.sa_family == AF_INET) {
        addr_p->u.in4.sin_port = htons((uint16_t)port);
    } else {
        addr_p->u.in6.sin6_port = htons((uint16_t)port);
    }
    freeaddrinfo(res);
    return RZ_OK;
}

const char *rz_sockaddr_str(const rz_sockaddr_t *addr, char *buf, size_t size)
{
    char ip[INET6_ADDRSTRLEN] = "?";

    if (addr->u.sa.sa_family == AF_INET) {
        inet_ntop(AF_INET, &addr->u.in4.sin_addr, ip, sizeof(ip));
        snprintf(buf, size, "%s:%u", ip, ntohs(addr->u.in4.sin_port));
    } else {
        inet_ntop(AF_INET6, &addr->u.in6.sin6_addr, ip, sizeof(ip));
        snprintf(buf, size, "[%s]:%u", ip, ntohs(addr->u.in6.sin6_port));
    }
    return buf;
}

rz_status_t rz_sockaddr_local(rz_sockaddr_t *addr_p)
{
    struct ifaddrs *ifs = NULL;

    memset(addr_p, 0, sizeof(*addr_p));
    addr_p->u.in4.sin_family = AF_INET;
    addr_p->u.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr_p->len = sizeof(struct sockaddr_in);
    if (getifaddrs(&ifs) != 0) {
        return RZ_OK;
    }
    for (struct ifaddrs *i = ifs; i != NULL; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
            (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP)) {
            continue;
        }
        addr_p->u.in4.sin_addr = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
        break;
    }
    freeifaddrs(ifs);
    return RZ_OK;
}

rz_status_t rz_socket_listen(const rz_sockaddr_t *addr, int *fd_p,
                             rz_sockaddr_t *bound_p)
{
    char text[80];
    int one = 1;
    int fd = socket(addr->u.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        RZ_LOG_ERROR("socket(): %m");
        return RZ_ERR_IO;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, &addr->u.sa, addr->len) != 0) {
        RZ_LOG_ERROR("cannot listen on %s: %m",
                     rz_sockaddr_str(addr, text, sizeof(text)));
        close(fd);
        return RZ_ERR_IO;
    }
    if (listen(fd, 1024) != 0) {
        RZ_LOG_ERROR("listen(): %m");
        close(fd);
        return RZ_ERR_IO;
    }
    if (bound_p != NULL) {
        bound_p->len = sizeof(bound_p->u);
        getsockname(fd, &bound_p->u.sa, &bound_p->len);
    }
    *fd_p = fd;
    return RZ_OK;
}

static int rz_socket_wait(int fd, short events, uint64_t deadline_ms)
{
    struct pollfd pfd = {.fd = fd, .events = events};

    for (;;) {
        uint64_t now = rz_time_ms();
        if (now >= deadline_ms) {
            return 0;
        }
        int rc = poll(&pfd, 1, (int)RZ_MIN(deadline_ms - now, 1000));
        if (rc > 0) {
            return 1;
        }
        if (rc < 0 && errno != EINTR) {
            return -1;
        }
    }
}

rz_status_t rz_socket_connect(const rz_sockaddr_t *addr, uint64_t deadline_ms,
                              int *fd_p)
{
    char text[80];
    int last_errno = ETIMEDOUT;
    uint64_t backoff = 10;

    do {
        int fd = socket(addr->u.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            RZ_LOG_ERROR("socket(): %m");
            return RZ_ERR_IO;
        }
        int flags = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
        int rc = connect(fd, &addr->u.sa, addr->len);
        if (rc != 0 && errno == EINPROGRESS) {
            int err = 0;
            socklen_t elen = sizeof(err);
            rc = rz_socket_wait(fd, POLLOUT, deadline_ms);
            if (rc > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0
                && err == 0) {
                rc = 0;
            } else {
                errno = (rc == 0) ? ETIMEDOUT : (err ? err : errno);
                rc = -1;
            }
        }
        if (rc == 0) {
            int one = 1;
            fcntl(fd, F_SETFL, flags);
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            *fd_p = fd;
            return RZ_OK;
        }
        last_errno = errno;
        close(fd);
        /* The root may simply not be listening yet: retry with backoff. */
        usleep((useconds_t)(RZ_MIN(backoff, 200) * 1000));
        backoff *= 2;
    } while (rz_time_ms() < deadline_ms);

    errno = last_errno;
    RZ_LOG_ERROR("bootstrap root %s unreachable: %m",
                 rz_sockaddr_str(addr, text, sizeof(text)));
    return RZ_ERR_BOOTSTRAP;
}

rz_status_t rz_socket_accept(int listen_fd, uint64_t deadline_ms, int *fd_p,
                             rz_sockaddr_t *peer_p)
{
    int rc = rz_socket_wait(listen_fd, POLLIN, deadline_ms);

    if (rc == 0) {
        return RZ_ERR_TIMEOUT;
    }
    if (rc < 0) {
        RZ_LOG_ERROR("poll(listen socket): %m");
        return RZ_ERR_IO;
    }
    peer_p->len = sizeof(peer_p->u);
    int fd = accept4(listen_fd, &peer_p->u.sa, &peer_p->len, SOCK_CLOEXEC);
    if (fd < 0) {
        RZ_LOG_WARN("accept(): %m");
        return RZ_ERR_IO;
    }
    *fd_p = fd;
    return RZ_OK;
}

rz_status_t rz_socket_send(int fd, const void *buf, size_t len,
                           uint64_t deadline_ms)
{
    const char *p = buf;

    while (len > 0) {
        int rc = rz_socket_wait(fd, POLLOUT, deadline_ms);
        if (rc <= 0) {
            return rc == 0 ? RZ_ERR_TIMEOUT : RZ_ERR_IO;
        }
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            return RZ_ERR_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return RZ_OK;
}

rz_status_t rz_socket_recv(int fd, void *buf, size_t len,
                           uint64_t deadline_ms)
{
    char *p = buf;

    while (len > 0) {
        int rc = rz_socket_wait(fd, POLLIN, deadline_ms);
        if (rc <= 0) {
            return rc == 0 ? RZ_ERR_TIMEOUT : RZ_ERR_IO;
        }
        ssize_t n = recv(fd, p, len, MSG_DONTWAIT);
        if (n == 0) {
            return RZ_ERR_IO;   /* peer closed */
        }
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            return RZ_ERR_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return RZ_OK;
}

/*
 * Blocking TCP helpers with deadlines, for the bootstrap only (collective
 * traffic never uses these sockets).
 */
#ifndef RZ_SOCKET_H
#define RZ_SOCKET_H

#include <ringzip/status.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct {
    union {
        struct sockaddr     sa;
        struct sockaddr_in  in4;
        struct sockaddr_in6 in6;
    } u;
    socklen_t len;
} rz_sockaddr_t;

/* "host:port" or "[v6]:port" -> address. */
rz_status_t rz_sockaddr_parse(const char *text, rz_sockaddr_t *addr_p);
/* Address as "ip:port" text, for messages. */
const char *rz_sockaddr_str(const rz_sockaddr_t *addr, char *buf, size_t size);
/* First non-loopback IPv4 address of this host, else 127.0.0.1 (port 0). */
rz_status_t rz_sockaddr_local(rz_sockaddr_t *addr_p);

/* Listening socket on @addr (port 0 picks one; @addr_p gets the result). */
rz_status_t rz_socket_listen(const rz_sockaddr_t *addr, int *fd_p,
                             rz_sockaddr_t *bound_p);
/* Connect, retrying refused/unreachable attempts until @deadline_ms. */
rz_status_t rz_socket_connect(const rz_sockaddr_t *addr, uint64_t deadline_ms,
                              int *fd_p);
/* Accept one connection, or RZ_ERR_TIMEOUT at @deadline_ms. */
rz_status_t rz_socket_accept(int listen_fd, uint64_t deadline_ms, int *fd_p,
                             rz_sockaddr_t *peer_p);
/* Move exactly @len bytes, or fail at @deadline_ms / on EOF. */
rz_status_t rz_socket_send(int fd, const void *buf, size_t len,
                           uint64_t deadline_ms);
rz_status_t rz_socket_recv(int fd, void *buf, size_t len,
                           uint64_t deadline_ms);

#endif

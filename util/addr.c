/*
 * Addresses: v4-mapped storage, text forms, and the "ADDR:PORT" endpoint
 * syntax that the command line and the config share.
 */
#include "util/util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

const uint8_t floe_v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int floe_addr_is_v4(const floe_addr *a)
{
    return memcmp(a->b, floe_v4_mapped, 12) == 0;
}

uint32_t floe_addr_v4(const floe_addr *a)
{
    return floe_be32(a->b + 12);
}

char *floe_addr_format(const floe_addr *a, char out[FLOE_ADDR_STRLEN])
{
    if (floe_addr_is_v4(a))
        inet_ntop(AF_INET, a->b + 12, out, FLOE_ADDR_STRLEN);
    else
        inet_ntop(AF_INET6, a->b, out, FLOE_ADDR_STRLEN);
    return out;
}

int floe_addr_parse(floe_addr *a, const char *text)
{
    uint8_t raw[16];
    if (inet_pton(AF_INET, text, raw) == 1) {
        floe_addr_from_v4(a, raw);
        return 0;
    }
    if (inet_pton(AF_INET6, text, raw) == 1) {
        floe_addr_from_v6(a, raw);
        return 0;
    }
    return FLOE_EINVAL;
}

int floe_addr_from_sockaddr(floe_addr *a, uint16_t *port, const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        floe_addr_from_v4(a, (const uint8_t *)&in->sin_addr);
        if (port)
            *port = ntohs(in->sin_port);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        floe_addr_from_v6(a, in6->sin6_addr.s6_addr);
        if (port)
            *port = ntohs(in6->sin6_port);
        return 0;
    }
    return FLOE_EINVAL;
}

static int parse_port(const char *s, uint16_t *port)
{
    char *end;
    if (*s == '\0')
        return FLOE_EINVAL;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || v < 1 || v > 65535)
        return FLOE_EINVAL;
    *port = (uint16_t)v;
    return 0;
}

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

int floe_endpoint_parse(const char *text, struct sockaddr_storage *ss, char *err, size_t errlen)
{
    char host[64];
    const char *colon;
    uint16_t port;

    memset(ss, 0, sizeof(*ss));
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':') {
            set_err(err, errlen, "expected [IPV6]:PORT");
            return FLOE_EINVAL;
        }
        size_t n = (size_t)(close - text - 1);
        if (n == 0 || n >= sizeof(host)) {
            set_err(err, errlen, "bad IPv6 address");
            return FLOE_EINVAL;
        }
        memcpy(host, text + 1, n);
        host[n] = '\0';
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (!colon) {
            set_err(err, errlen, "expected ADDR:PORT");
            return FLOE_EINVAL;
        }
        size_t n = (size_t)(colon - text);
        if (n >= sizeof(host) || memchr(text, ':', n)) {
            set_err(err, errlen, "IPv6 addresses need brackets, as in [::1]:2055");
            return FLOE_EINVAL;
        }
        memcpy(host, text, n);
        host[n] = '\0';
    }
    if (parse_port(colon + 1, &port) != 0) {
        set_err(err, errlen, "port must be a number from 1 to 65535");
        return FLOE_EINVAL;
    }
    if (host[0] == '\0' || strcmp(host, "*") == 0)
        strcpy(host, "0.0.0.0");
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");

    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        return 0;
    }
    set_err(err, errlen, "not an IP address");
    return FLOE_EINVAL;
}

char *floe_endpoint_format(const struct sockaddr *sa, char *out, size_t outlen)
{
    floe_addr a;
    uint16_t port = 0;
    char text[FLOE_ADDR_STRLEN];

    if (floe_addr_from_sockaddr(&a, &port, sa) != 0) {
        snprintf(out, outlen, "?");
        return out;
    }
    floe_addr_format(&a, text);
    if (sa->sa_family == AF_INET6)
        snprintf(out, outlen, "[%s]:%u", text, port);
    else
        snprintf(out, outlen, "%s:%u", text, port);
    return out;
}

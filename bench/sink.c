/*
 * bench/sink: the ceiling of the ingest benchmark. It receives UDP
 * datagrams with recvmmsg, 64 at a time, and only counts them, so the rate
 * it sustains without loss is what this machine's kernel and loopback
 * allow a collector at most. bench/ingest builds it with cc.
 *
 *   sink ADDR:PORT RCVBUF     (IPv6 as [::1]:PORT)
 *
 * It sets the socket buffer with SO_RCVBUFFORCE (SO_RCVBUF when not root),
 * and on SIGTERM or SIGINT prints {"datagrams":N,"bytes":N} and exits.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SINK_BATCH 64
#define SINK_DGRAM 9216

/* Set by SIGTERM or SIGINT; the receive loop checks it after each call. */
static volatile sig_atomic_t sink_stop;

static void on_signal(int sig)
{
    (void)sig;
    sink_stop = 1;
}

/* Parses "1.2.3.4:P" or "[v6]:P"; returns the address length, or 0. */
static socklen_t parse_endpoint(char *text, struct sockaddr_storage *ss)
{
    char *colon = strrchr(text, ':');
    memset(ss, 0, sizeof(*ss));
    if (!colon)
        return 0;
    *colon = '\0';
    int port = atoi(colon + 1);
    if (text[0] == '[') {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        size_t n = strlen(text);
        if (n < 2 || text[n - 1] != ']')
            return 0;
        text[n - 1] = '\0';
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        return inet_pton(AF_INET6, text + 1, &s6->sin6_addr) == 1 ? sizeof(*s6) : 0;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, text, &s4->sin_addr) == 1 ? sizeof(*s4) : 0;
}

static int open_socket(char *endpoint, int rcvbuf)
{
    struct sockaddr_storage ss;
    socklen_t len = parse_endpoint(endpoint, &ss);
    if (len == 0) {
        fprintf(stderr, "sink: bad address %s\n", endpoint);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_DGRAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) != 0) {
        perror("sink: bind");
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    return fd;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: sink ADDR:PORT RCVBUF\n");
        return 2;
    }
    int fd = open_socket(argv[1], atoi(argv[2]));
    if (fd < 0)
        return 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: a signal ends recvmmsg */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    char(*bufs)[SINK_DGRAM] = malloc(SINK_BATCH * SINK_DGRAM);
    if (!bufs)
        return 1;
    struct mmsghdr msgs[SINK_BATCH];
    struct iovec iov[SINK_BATCH];
    unsigned long long datagrams = 0, bytes = 0;
    while (!sink_stop) {
        for (int i = 0; i < SINK_BATCH; i++) {
            iov[i] = (struct iovec){bufs[i], SINK_DGRAM};
            msgs[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
        }
        int n = recvmmsg(fd, msgs, SINK_BATCH, MSG_WAITFORONE, NULL);
        for (int i = 0; i < n; i++)
            bytes += msgs[i].msg_len;
        if (n > 0)
            datagrams += (unsigned)n;
        else if (errno != EINTR)
            perror("sink: recvmmsg");
    }
    printf("{\"datagrams\":%llu,\"bytes\":%llu}\n", datagrams, bytes);
    free(bufs);
    close(fd);
    return 0;
}

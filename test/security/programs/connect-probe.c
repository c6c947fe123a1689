// Attack: connects to a service of the host from inside a machine, by TCP (IPv4 address and port) or by
// unix socket path, or pings an address (ICMP echo through an echo socket: the guest's ping_group_range
// admits root). Prints "connected" (for a ping: an echo reply came back) or the errno (ECONNREFUSED,
// ENETUNREACH, ETIMEDOUT, ENOENT...).
// Usage: connect-probe tcp ADDRESS PORT | connect-probe unix PATH | connect-probe ping ADDRESS
// (busybox's wget and nc resolve through the static C library's NSS and crash in a bare rootfs.)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int fd;
  int rc;
  if (argc == 4 && !strcmp(argv[1], "tcp")) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[3]))};
    if (inet_pton(AF_INET, argv[2], &a.sin_addr) != 1) return 2;
    fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    rc = connect(fd, (struct sockaddr *)&a, sizeof a);
  } else if (argc == 3 && !strcmp(argv[1], "ping")) {
    struct sockaddr_in a = {.sin_family = AF_INET};
    if (inet_pton(AF_INET, argv[2], &a.sin_addr) != 1) return 2;
    fd = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct icmphdr echo = {.type = ICMP_ECHO, .un.echo.sequence = htons(1)};
    char reply[256];
    rc = sendto(fd, &echo, sizeof echo, 0, (struct sockaddr *)&a, sizeof a) < 0 ? -1 : 0;
    if (rc == 0) {
      ssize_t n = recv(fd, reply, sizeof reply, 0);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) errno = ETIMEDOUT;
      rc = n >= (ssize_t)sizeof echo && ((struct icmphdr *)reply)->type == ICMP_ECHOREPLY ? 0 : -1;
      if (rc < 0 && n >= 0) errno = EPROTO;
    }
  } else if (argc == 3 && !strcmp(argv[1], "unix")) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strncpy(a.sun_path, argv[2], sizeof a.sun_path - 1);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    rc = connect(fd, (struct sockaddr *)&a, sizeof a);
  } else {
    return 2;
  }
  if (rc == 0) printf("connected\n");
  else printf("%s\n", errno == EINPROGRESS ? "ETIMEDOUT" : strerrorname_np(errno));
  return 0;
}

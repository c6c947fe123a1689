// Attack: a setuid-root binary shipped in an image, run by an unprivileged user of the guest. Prints its ids
// after exec ("ruid R euid E") and whether it could then become root for good ("setuid(0) ok" or the errno).
// Installed with mode 4755, owned by root.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
  printf("ruid %d euid %d\n", getuid(), geteuid());
  if (setuid(0) == 0) printf("setuid(0) ok\n");
  else printf("setuid(0) %s\n", strerrorname_np(errno));
  return 0;
}

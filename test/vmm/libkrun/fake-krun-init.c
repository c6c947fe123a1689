// The guest init of the libkrun test double (fake-libkrun.c), run as "/init.krun" in the guest's fresh
// namespaces, like libkrun's own init: mounts /dev/pts and /dev/shm, sets the hostname from HOSTNAME,
// brings lo up, applies KRUN_RLIMITS ("ID=CUR:MAX,..."), enters KRUN_WORKDIR, then forks KRUN_INIT with
// argv[1..] and the environment it was given, waits for it (reaping orphans meanwhile) and exits with its
// exit code, which the double's VMM passes on as the process's. Static: the guest root has no libraries of ours.
// A test fixture, not a security boundary.
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void set_rlimits(const char *spec) {
  const char *s = spec;
  while (*s) {
    char *end;
    unsigned long long id = strtoull(s, &end, 10);
    if (*end != '=') break;
    unsigned long long cur = strtoull(end + 1, &end, 10);
    if (*end != ':') break;
    unsigned long long max = strtoull(end + 1, &end, 10);
    struct rlimit r = {cur, max};
    if (setrlimit((int)id, &r) != 0) printf("Error setting rlimit for ID=%llu\n", id);
    if (*end != ',') break;
    s = end + 1;
  }
}

static void lo_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  struct ifreq ifr = {0};
  strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags |= IFF_UP;
    ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  close(s);
}

int main(int argc, char **argv) {
  (void)argc;
  mkdir("/dev/pts", 0755);
  mkdir("/dev/shm", 0755);
  if (mount("devpts", "/dev/pts", "devpts", MS_NOEXEC | MS_NOSUID, "newinstance,ptmxmode=0666,mode=0620") < 0) perror("mount(/dev/pts)");
  if (mount("tmpfs", "/dev/shm", "tmpfs", MS_NOEXEC | MS_NOSUID, NULL) < 0) perror("mount(/dev/shm)");
  symlink("pts/ptmx", "/dev/ptmx");
  symlink("/proc/self/fd", "/dev/fd");
  const char *host = getenv("HOSTNAME");
  if (!host) host = "localhost";
  sethostname(host, strlen(host));
  lo_up();
  const char *rlimits = getenv("KRUN_RLIMITS");
  if (rlimits) set_rlimits(rlimits);
  const char *workdir = getenv("KRUN_WORKDIR");
  if (workdir && chdir(workdir) < 0) perror("chdir(KRUN_WORKDIR)");
  const char *exec = getenv("KRUN_INIT");
  if (!exec) exec = "/bin/sh";
  argv[0] = (char *)exec;
  fflush(stdout);
  pid_t child = fork();
  if (child < 0) {
    perror("fork");
    return 125;
  }
  if (child == 0) {
    setsid();
    execvp(exec, argv);
    int saved = errno;
    printf("Couldn't execute '%s' inside the vm: %s\n", exec, strerror(saved));
    fflush(stdout);
    _exit(saved == ENOENT ? 127 : 126);
  }
  int status;
  for (;;) {
    pid_t got = waitpid(-1, &status, 0);
    if (got == child) break;
    if (got < 0 && errno != EINTR) return 125;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Attack: a fork bomb, bounded so that a broken limit cannot take the test host down: forks children that
// only wait, as fast as it can, until fork fails or LIMIT children exist. Prints "forked N, then ERRNO"
// (or "forked N, then stopped"), holds them HOLD seconds, then kills them all.
// Usage: fork-bomb LIMIT HOLD
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  int limit = atoi(argv[1]);
  int hold = atoi(argv[2]);
  setvbuf(stdout, NULL, _IONBF, 0);
  // Its own process group: one kill takes every child.
  setpgid(0, 0);
  int n = 0;
  const char *why = "stopped";
  for (; n < limit; n++) {
    pid_t pid = fork();
    if (pid == 0) {
      pause();
      _exit(0);
    }
    if (pid < 0) {
      why = strerrorname_np(errno);
      break;
    }
  }
  printf("forked %d, then %s\n", n, why);
  sleep(hold);
  signal(SIGTERM, SIG_IGN);
  kill(0, SIGTERM);
  while (wait(NULL) > 0) {
  }
  return 0;
}

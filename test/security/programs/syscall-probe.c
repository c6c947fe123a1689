// Attack: the system calls a container escape starts with, each made with harmless arguments. Prints one
// line per call, "NAME ok" or "NAME ERRNO" (e.g. "keyctl EPERM").
// Usage: syscall-probe NAME...   (names below; "all" for every one)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char stack[64 * 1024];
static int child(void *arg) { return 0; }

/** A process in a new namespace: reaped at once. */
static long clone_with(int flags) {
  long pid = clone(child, stack + sizeof stack, flags | SIGCHLD, NULL);
  if (pid > 0) waitpid(pid, NULL, 0);
  return pid;
}

static long probe(const char *name) {
  if (!strcmp(name, "unshare-user")) return unshare(CLONE_NEWUSER);
  if (!strcmp(name, "unshare-mount")) return unshare(CLONE_NEWNS);
  if (!strcmp(name, "clone-newuser")) return clone_with(CLONE_NEWUSER);
  if (!strcmp(name, "clone-newpid")) return clone_with(CLONE_NEWPID);
  if (!strcmp(name, "clone-thread")) return clone_with(0);
  if (!strcmp(name, "setns")) {
    int fd = open("/proc/self/ns/net", O_RDONLY);
    return fd < 0 ? fd : setns(fd, 0);
  }
  if (!strcmp(name, "mount-proc")) {
    mkdir("/tmp/probe-proc", 0700);
    return mount("proc", "/tmp/probe-proc", "proc", 0, NULL);
  }
  if (!strcmp(name, "mount-cgroup2")) {
    mkdir("/tmp/probe-cg2", 0700);
    return mount("none", "/tmp/probe-cg2", "cgroup2", 0, NULL);
  }
  if (!strcmp(name, "mount-cgroup")) {
    mkdir("/tmp/probe-cg", 0700);
    return mount("none", "/tmp/probe-cg", "cgroup", 0, "memory");
  }
  if (!strcmp(name, "umount-proc-sys")) return umount2("/proc/sys", MNT_DETACH);
  if (!strcmp(name, "remount-proc-sys")) return mount(NULL, "/proc/sys", NULL, MS_REMOUNT | MS_BIND, NULL);
  if (!strcmp(name, "pivot_root")) return syscall(SYS_pivot_root, "/tmp", "/tmp");
  // The session keyring: the host kernel's key store, shared by every process of a uid.
  if (!strcmp(name, "keyctl")) return syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 1);
  if (!strcmp(name, "add_key")) return syscall(SYS_add_key, "user", "aegis-probe", "x", 1, -3);
  if (!strcmp(name, "bpf")) {
    // A socket filter that returns 0: the smallest valid program.
    struct bpf_insn insns[] = {{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0}, {.code = BPF_JMP | BPF_EXIT}};
    union bpf_attr attr = {0};
    attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
    attr.insns = (unsigned long)insns;
    attr.insn_cnt = 2;
    attr.license = (unsigned long)"GPL";
    return syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
  }
  if (!strcmp(name, "perf_event_open")) {
    struct perf_event_attr attr = {.type = PERF_TYPE_SOFTWARE, .size = sizeof attr, .config = PERF_COUNT_SW_CPU_CLOCK, .disabled = 1};
    return syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
  }
  if (!strcmp(name, "userfaultfd")) return syscall(SYS_userfaultfd, 0);
  if (!strcmp(name, "init_module")) return syscall(SYS_init_module, NULL, 0, "");
  if (!strcmp(name, "kexec_load")) return syscall(SYS_kexec_load, 0, 0, NULL, 0);
  if (!strcmp(name, "open_by_handle_at")) {
    char buf[sizeof(struct file_handle) + 8] = {0};
    struct file_handle *h = (struct file_handle *)buf;
    h->handle_bytes = 8;
    h->handle_type = 1; // FILEID_INO32_GEN
    *(unsigned int *)h->f_handle = 2; // inode 2: the root of an ext4 filesystem
    int mfd = open("/", O_RDONLY);
    return syscall(SYS_open_by_handle_at, mfd, h, O_RDONLY);
  }
  if (!strcmp(name, "io_uring_setup")) {
    char params[120] = {0};
    return syscall(425 /* io_uring_setup */, 1, params);
  }
  if (!strcmp(name, "personality")) return personality(ADDR_NO_RANDOMIZE);
  if (!strcmp(name, "ptrace-pid1")) return ptrace(PTRACE_ATTACH, 1, NULL, NULL);
  if (!strcmp(name, "chroot")) return chroot("/");
  errno = EINVAL;
  return -2;
}

static const char *ALL[] = {"unshare-user", "unshare-mount", "clone-newuser", "clone-newpid", "setns", "mount-proc", "mount-cgroup2", "mount-cgroup", "umount-proc-sys",
                            "remount-proc-sys", "pivot_root", "keyctl", "add_key", "bpf", "perf_event_open", "userfaultfd", "init_module", "kexec_load",
                            "open_by_handle_at", "io_uring_setup", "personality", "ptrace-pid1", NULL};

/** Each call in a child of its own, so that one that succeeds (an unshare, say) changes nothing for the next. */
static void run(const char *name) {
  pid_t pid = fork();
  if (pid == 0) {
    errno = 0;
    long r = probe(name);
    if (r == -2) printf("%s unknown\n", name);
    else if (r < 0) printf("%s %s\n", name, strerrorname_np(errno));
    else printf("%s ok\n", name);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) printf("%s killed by %s\n", name, sigabbrev_np(WTERMSIG(status)));
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "all")) {
      for (const char **n = ALL; *n; n++) run(*n);
    } else {
      run(argv[i]);
    }
  }
  return 0;
}

// Which system calls a sandbox guest may make: an allow-list, as in Docker's default profile. Anything
// not listed fails with ENOSYS (a program then takes its fallback, as on an older kernel); the calls that
// reach into the kernel or the host on purpose fail with EPERM. Only the host's native ABI is allowed:
// a 32-bit (int 0x80) or x32 system call kills the process.

/** Allowed with any arguments. Grouped by what they are for; names as libseccomp spells them. */
export const ALLOWED_SYSCALLS: readonly string[] = [
  // Files and directories
  ...['read', 'write', 'readv', 'writev', 'pread64', 'pwrite64', 'preadv', 'pwritev', 'preadv2', 'pwritev2'],
  ...['open', 'openat', 'openat2', 'creat', 'close', 'close_range', 'lseek', 'dup', 'dup2', 'dup3', 'fcntl', 'flock', 'ioctl'],
  ...['stat', 'fstat', 'lstat', 'newfstatat', 'statx', 'statfs', 'fstatfs', 'ustat', 'access', 'faccessat', 'faccessat2'],
  ...['readlink', 'readlinkat', 'getdents', 'getdents64', 'getcwd', 'chdir', 'fchdir', 'chroot', 'umask'],
  ...['mkdir', 'mkdirat', 'rmdir', 'unlink', 'unlinkat', 'rename', 'renameat', 'renameat2', 'link', 'linkat', 'symlink', 'symlinkat'],
  // mknod makes FIFOs and sockets; device nodes need CAP_MKNOD, which no guest has.
  ...['mknod', 'mknodat', 'chmod', 'fchmod', 'fchmodat', 'fchmodat2', 'chown', 'fchown', 'lchown', 'fchownat'],
  ...['truncate', 'ftruncate', 'fallocate', 'fsync', 'fdatasync', 'sync', 'syncfs', 'sync_file_range', 'readahead', 'fadvise64'],
  ...['utime', 'utimes', 'utimensat', 'futimesat', 'pipe', 'pipe2', 'splice', 'tee', 'vmsplice', 'sendfile', 'copy_file_range'],
  ...['getxattr', 'lgetxattr', 'fgetxattr', 'setxattr', 'lsetxattr', 'fsetxattr', 'listxattr', 'llistxattr', 'flistxattr'],
  ...['removexattr', 'lremovexattr', 'fremovexattr', 'name_to_handle_at', 'memfd_create', 'cachestat'],
  ...['inotify_init', 'inotify_init1', 'inotify_add_watch', 'inotify_rm_watch'],
  // Waiting for events, and asynchronous I/O (the older io_* interface; io_uring is refused below)
  ...['select', 'pselect6', 'poll', 'ppoll', 'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_wait', 'epoll_pwait', 'epoll_pwait2'],
  ...['eventfd', 'eventfd2', 'signalfd', 'signalfd4', 'timerfd_create', 'timerfd_settime', 'timerfd_gettime'],
  ...['io_setup', 'io_destroy', 'io_getevents', 'io_pgetevents', 'io_submit', 'io_cancel'],
  // Memory
  ...['brk', 'mmap', 'munmap', 'mremap', 'mprotect', 'madvise', 'msync', 'mincore', 'remap_file_pages', 'membarrier'],
  ...['mlock', 'mlock2', 'munlock', 'mlockall', 'munlockall', 'pkey_mprotect', 'pkey_alloc', 'pkey_free', 'map_shadow_stack', 'mseal'],
  ...['get_mempolicy', 'set_mempolicy', 'mbind', 'set_mempolicy_home_node'],
  // Processes and threads (clone and personality: see CONDITIONAL_SYSCALLS)
  ...['fork', 'vfork', 'execve', 'execveat', 'exit', 'exit_group', 'wait4', 'waitid', 'set_tid_address', 'set_robust_list', 'get_robust_list'],
  ...['rseq', 'futex', 'futex_waitv', 'futex_wake', 'futex_wait', 'futex_requeue', 'arch_prctl', 'prctl', 'seccomp'],
  ...['getpid', 'getppid', 'gettid', 'getpgid', 'setpgid', 'getpgrp', 'getsid', 'setsid', 'uname', 'sysinfo', 'getrandom', 'getcpu'],
  ...['getuid', 'geteuid', 'getgid', 'getegid', 'setuid', 'setgid', 'setreuid', 'setregid', 'setresuid', 'setresgid'],
  ...['getresuid', 'getresgid', 'setfsuid', 'setfsgid', 'getgroups', 'setgroups', 'capget', 'capset'],
  ...['getpriority', 'setpriority', 'getrlimit', 'setrlimit', 'prlimit64', 'getrusage', 'times', 'ioprio_get', 'ioprio_set'],
  ...['sched_yield', 'sched_setparam', 'sched_getparam', 'sched_setscheduler', 'sched_getscheduler', 'sched_get_priority_max'],
  ...['sched_get_priority_min', 'sched_rr_get_interval', 'sched_setaffinity', 'sched_getaffinity', 'sched_setattr', 'sched_getattr'],
  // Within the machine only: its pid namespace holds no host process, and the kernel checks ptrace access.
  ...['ptrace', 'process_vm_readv', 'process_vm_writev', 'pidfd_open', 'pidfd_send_signal', 'pidfd_getfd', 'process_madvise'],
  ...['landlock_create_ruleset', 'landlock_add_rule', 'landlock_restrict_self'],
  // Signals and time
  ...['kill', 'tkill', 'tgkill', 'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'rt_sigpending', 'rt_sigtimedwait'],
  ...['rt_sigqueueinfo', 'rt_tgsigqueueinfo', 'rt_sigsuspend', 'sigaltstack', 'pause', 'alarm', 'getitimer', 'setitimer', 'restart_syscall'],
  ...['nanosleep', 'clock_nanosleep', 'clock_gettime', 'clock_getres', 'gettimeofday', 'time'],
  ...['timer_create', 'timer_settime', 'timer_gettime', 'timer_getoverrun', 'timer_delete'],
  // Network (the machine's own network namespace) and System V / POSIX IPC (its own IPC namespace)
  ...['socket', 'socketpair', 'bind', 'listen', 'accept', 'accept4', 'connect', 'getsockname', 'getpeername', 'shutdown'],
  ...['sendto', 'recvfrom', 'sendmsg', 'recvmsg', 'sendmmsg', 'recvmmsg', 'setsockopt', 'getsockopt'],
  ...['shmget', 'shmat', 'shmdt', 'shmctl', 'semget', 'semop', 'semtimedop', 'semctl', 'msgget', 'msgsnd', 'msgrcv', 'msgctl'],
  ...['mq_open', 'mq_unlink', 'mq_timedsend', 'mq_timedreceive', 'mq_notify', 'mq_getsetattr'],
];

/**
 * Refused with EPERM even where a capability would allow them: the kernel's key store, BPF, perf,
 * userfaultfd, loading kernels or modules, mounts and namespaces (a nested user namespace would give back
 * the capabilities dropped at boot), opening files by handle (the "shocker" escape), io_uring, the clock,
 * swap, reboot, the kernel log, quotas and raw port I/O.
 */
export const DENIED_SYSCALLS: readonly string[] = [
  ...['keyctl', 'add_key', 'request_key', 'bpf', 'perf_event_open', 'userfaultfd', 'fanotify_init', 'lookup_dcookie'],
  ...['kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module'],
  ...['mount', 'umount2', 'pivot_root', 'unshare', 'setns', 'open_tree', 'move_mount', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'mount_setattr'],
  ...['open_by_handle_at', 'io_uring_setup', 'io_uring_enter', 'io_uring_register', 'kcmp', 'move_pages', 'migrate_pages'],
  ...['settimeofday', 'clock_settime', 'clock_adjtime', 'adjtimex', 'sethostname', 'setdomainname', 'swapon', 'swapoff', 'reboot', 'acct'],
  ...['syslog', 'quotactl', 'quotactl_fd', 'iopl', 'ioperm', 'modify_ldt', 'vhangup', 'uselib', 'nfsservctl'],
];

/** The namespace flags of clone(2): a guest may start processes and threads, never new namespaces. */
export const CLONE_NAMESPACE_FLAGS =
  0x00020000 /* NEWNS */ | 0x02000000 /* NEWCGROUP */ | 0x04000000 /* NEWUTS */ | 0x08000000 /* NEWIPC */ | 0x10000000 /* NEWUSER */ | 0x20000000 /* NEWPID */ | 0x40000000; /* NEWNET */

/** personality(2) may read the persona (0xffffffff) or set the plain Linux one, nothing else. */
export const ALLOWED_PERSONAS: readonly number[] = [0x0, 0xffffffff];

/**
 * Numbers of calls newer than some libseccomp releases know by name (the same on every architecture:
 * the unified table), so that they can still be allowed.
 */
export const SYSCALL_NUMBERS: Readonly<Record<string, number>> = {
  cachestat: 451,
  fchmodat2: 452,
  map_shadow_stack: 453,
  futex_wake: 454,
  futex_wait: 455,
  futex_requeue: 456,
  mseal: 462,
};

// A test double of libkrun: the same symbols and signatures as the part of libkrun.h Aegis calls (written
// for this double from the public header, libkrun 1.17+), built at test time with the system gcc.
//
// It is a FIXTURE, not a VMM and not a security boundary: there is no VM. Each call is validated the way
// libkrun validates it (unknown context: -ENOENT; a null path, a bad port map or disk format: -EINVAL; a
// second console output: -EINVAL; a port map without vsock: -ENODEV, ...) and recorded, one JSON line per
// call, to <this library's directory>/calls/<pid>.jsonl. krun_start_enter then "boots" the configured
// exec the way libkrun's init would run it, but on the host kernel: fresh pid, mount, uts, ipc, network and
// cgroup namespaces, pivoted into the configured root, a cgroup memory limit of the VM's RAM, stdout and
// stderr on the default console's fds, and each console port named with krun_add_console_port_inout
// served as a pty at /dev/vportNpM with its name under /sys/class/virtio-ports, relayed to the port's fds.
// Like libkrun it never returns once the guest runs: the process exits with the guest init's exit code.
// The guest's init is fake-krun-init (a static program beside this library), run as "/init.krun".
//
// Not emulated: TSI networking (the guest only has lo), block devices, virtiofs shares other than the
// root, vCPU counts. The guest keeps root's capabilities on the host kernel (minus what the worker lacks):
// it could escape, which is why this is never chosen outside tests. The marker symbol
// aegis_libkrun_test_double() lets Aegis name it as a fixture; a file `fault` beside the library that holds
// "krun_start_enter" makes that call fail as libkrun does when it cannot build the VM.
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define MAX_CTX 64
#define MAX_PORTS 8
#define MAX_CONSOLES 8
#define MAX_STRS 4096
#define TSI_KNOWN_FLAGS 0x3u /* KRUN_TSI_HIJACK_INET | KRUN_TSI_HIJACK_UNIX */

enum vsock_mode { VSOCK_IMPLICIT, VSOCK_DISABLED, VSOCK_EXPLICIT };

struct port {
  char name[64];
  int in_fd;
  int out_fd;
  uint32_t console;
};

struct ctx {
  bool live;
  uint8_t vcpus;
  uint32_t ram_mib;
  char *root;
  char *workdir;
  char *exec_path;
  char **argv;
  char **envp;
  char *rlimits;
  char *console_output;
  bool implicit_console_disabled;
  bool default_console;
  int console_in, console_out, console_err;
  enum vsock_mode vsock;
  uint32_t tsi_flags;
  bool port_map_set;
  int consoles; /* explicit multiport consoles */
  struct port ports[MAX_PORTS];
  int nports;
};

static struct ctx ctxs[MAX_CTX];
static int next_ctx;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- recording ---- */

static char lib_dir[PATH_MAX];

static const char *dir_of_library(void) {
  if (lib_dir[0]) return lib_dir;
  Dl_info info;
  if (dladdr((void *)dir_of_library, &info) && info.dli_fname) {
    snprintf(lib_dir, sizeof lib_dir, "%s", info.dli_fname);
    char *slash = strrchr(lib_dir, '/');
    if (slash) *slash = '\0';
    else snprintf(lib_dir, sizeof lib_dir, ".");
  }
  return lib_dir;
}

struct buf {
  char *p;
  size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    b->cap = (b->len + n + 1) * 2;
    b->p = realloc(b->p, b->cap);
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }

static void putf(struct buf *b, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  put(b, tmp, (size_t)n);
}

static void put_json_str(struct buf *b, const char *s) {
  if (!s) {
    puts_(b, "null");
    return;
  }
  puts_(b, "\"");
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    if (*c == '"' || *c == '\\') {
      char e[3] = {'\\', (char)*c, 0};
      puts_(b, e);
    } else if (*c < 0x20) {
      putf(b, "\\u%04x", *c);
    } else {
      put(b, (const char *)c, 1);
    }
  }
  puts_(b, "\"");
}

static void put_json_strs(struct buf *b, const char *const *a) {
  if (!a) {
    puts_(b, "null");
    return;
  }
  puts_(b, "[");
  for (int i = 0; a[i] && i < MAX_STRS; i++) {
    if (i) puts_(b, ",");
    put_json_str(b, a[i]);
  }
  puts_(b, "]");
}

/** Starts a record line: {"call":NAME,"args":{ ... */
static struct buf begin(const char *call) {
  struct buf b = {0};
  puts_(&b, "{\"call\":");
  put_json_str(&b, call);
  puts_(&b, ",\"args\":{");
  return b;
}

/** Ends the line with the return code and appends it to calls/<pid>.jsonl; returns rc. */
static int32_t finish(struct buf *b, int32_t rc) {
  putf(b, "},\"rc\":%d}\n", rc);
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/calls", dir_of_library());
  mkdir(path, 0700);
  snprintf(path, sizeof path, "%s/calls/%d.jsonl", dir_of_library(), getpid());
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ssize_t ignored = write(fd, b->p, b->len);
    (void)ignored;
    close(fd);
  }
  free(b->p);
  return rc;
}

static struct ctx *find(uint32_t id) {
  if (id >= MAX_CTX || !ctxs[id].live) return NULL;
  return &ctxs[id];
}

static char **dup_strs(const char *const *a) {
  if (!a) return NULL;
  int n = 0;
  while (a[n] && n < MAX_STRS) n++;
  char **out = calloc((size_t)n + 1, sizeof *out);
  for (int i = 0; i < n; i++) out[i] = strdup(a[i]);
  return out;
}

/* ---- the configuration calls ---- */

int aegis_libkrun_test_double(void) { return 1; }

int32_t krun_set_log_level(uint32_t level) {
  struct buf b = begin("krun_set_log_level");
  putf(&b, "\"level\":%u", level);
  return finish(&b, level > 5 ? -EINVAL : 0);
}

int32_t krun_create_ctx(void) {
  pthread_mutex_lock(&lock);
  int32_t id = next_ctx < MAX_CTX ? next_ctx++ : -ENOMEM;
  if (id >= 0) {
    memset(&ctxs[id], 0, sizeof ctxs[id]);
    ctxs[id].live = true;
    ctxs[id].console_in = ctxs[id].console_out = ctxs[id].console_err = -1;
  }
  pthread_mutex_unlock(&lock);
  struct buf b = begin("krun_create_ctx");
  return finish(&b, id);
}

int32_t krun_free_ctx(uint32_t ctx_id) {
  pthread_mutex_lock(&lock);
  struct ctx *c = find(ctx_id);
  if (c) c->live = false;
  pthread_mutex_unlock(&lock);
  struct buf b = begin("krun_free_ctx");
  putf(&b, "\"ctx\":%u", ctx_id);
  return finish(&b, c ? 0 : -ENOENT);
}

int32_t krun_set_vm_config(uint32_t ctx_id, uint8_t num_vcpus, uint32_t ram_mib) {
  struct ctx *c = find(ctx_id);
  int32_t rc = !c ? -ENOENT : (num_vcpus == 0 || ram_mib == 0) ? -EINVAL : 0;
  if (rc == 0) {
    c->vcpus = num_vcpus;
    c->ram_mib = ram_mib;
  }
  struct buf b = begin("krun_set_vm_config");
  putf(&b, "\"ctx\":%u,\"vcpus\":%u,\"ram_mib\":%u", ctx_id, num_vcpus, ram_mib);
  return finish(&b, rc);
}

int32_t krun_set_root(uint32_t ctx_id, const char *root_path) {
  struct ctx *c = find(ctx_id);
  int32_t rc = !c ? -ENOENT : !root_path ? -EINVAL : 0;
  if (rc == 0) {
    free(c->root);
    c->root = strdup(root_path);
  }
  struct buf b = begin("krun_set_root");
  putf(&b, "\"ctx\":%u,\"root_path\":", ctx_id);
  put_json_str(&b, root_path);
  return finish(&b, rc);
}

static int32_t add_disk(const char *call, uint32_t ctx_id, const char *block_id, const char *disk_path, int64_t format, bool read_only) {
  struct ctx *c = find(ctx_id);
  int32_t rc = !c ? -ENOENT : (!block_id || !disk_path || format < 0 || format > 2) ? -EINVAL : 0;
  struct buf b = begin(call);
  putf(&b, "\"ctx\":%u,\"block_id\":", ctx_id);
  put_json_str(&b, block_id);
  puts_(&b, ",\"disk_path\":");
  put_json_str(&b, disk_path);
  if (format >= -1 && strcmp(call, "krun_add_disk2") == 0) putf(&b, ",\"format\":%lld", (long long)format);
  putf(&b, ",\"read_only\":%s", read_only ? "true" : "false");
  return finish(&b, rc);
}

int32_t krun_add_disk(uint32_t ctx_id, const char *block_id, const char *disk_path, bool read_only) {
  return add_disk("krun_add_disk", ctx_id, block_id, disk_path, 0, read_only);
}

int32_t krun_add_disk2(uint32_t ctx_id, const char *block_id, const char *disk_path, uint32_t disk_format, bool read_only) {
  return add_disk("krun_add_disk2", ctx_id, block_id, disk_path, disk_format > 2 ? -1 : (int64_t)disk_format, read_only);
}

int32_t krun_set_workdir(uint32_t ctx_id, const char *workdir_path) {
  struct ctx *c = find(ctx_id);
  int32_t rc = !c ? -ENOENT : !workdir_path ? -EINVAL : 0;
  if (rc == 0) {
    free(c->workdir);
    c->workdir = strdup(workdir_path);
  }
  struct buf b = begin("krun_set_workdir");
  putf(&b, "\"ctx\":%u,\"workdir_path\":", ctx_id);
  put_json_str(&b, workdir_path);
  return finish(&b, rc);
}

int32_t krun_set_exec(uint32_t ctx_id, const char *exec_path, const char *const argv[], const char *const envp[]) {
  struct ctx *c = find(ctx_id);
  int32_t rc = !c ? -ENOENT : !exec_path ? -EINVAL : 0;
  if (rc == 0) {
    free(c->exec_path);
    c->exec_path = strdup(exec_path);
    c->argv = dup_strs(argv);
    // libkrun takes the caller's environment when envp is NULL.
    extern char **environ;
    c->envp = envp ? dup_strs(envp) : dup_strs((const char *const *)environ);
  }
  struct buf b = begin("krun_set_exec");
  putf(&b, "\"ctx\":%u,\"exec_path\":", ctx_id);
  put_json_str(&b, exec_path);
  puts_(&b, ",\"argv\":");
  put_json_strs(&b, argv);
  puts_(&b, ",\"envp\":");
  put_json_strs(&b, envp);
  return finish(&b, rc);
}

/** "RESOURCE=CUR:MAX" with numbers, as libkrun's init parses it. */
static bool valid_rlimit(const char *s) {
  char *end;
  strtoull(s, &end, 10);
  if (end == s || *end != '=') return false;
  s = end + 1;
  strtoull(s, &end, 10);
  if (end == s || *end != ':') return false;
  s = end + 1;
  strtoull(s, &end, 10);
  return end != s && *end == '\0';
}

int32_t krun_set_rlimits(uint32_t ctx_id, const char *const rlimits[]) {
  struct ctx *c = find(ctx_id);
  int32_t rc = !c ? -ENOENT : !rlimits ? -EINVAL : 0;
  for (int i = 0; rc == 0 && rlimits[i]; i++)
    if (!valid_rlimit(rlimits[i])) rc = -EINVAL;
  if (rc == 0) {
    struct buf joined = {0};
    for (int i = 0; rlimits[i]; i++) {
      if (i) puts_(&joined, ",");
      puts_(&joined, rlimits[i]);
    }
    free(c->rlimits);
    c->rlimits = joined.p ? joined.p : strdup("");
  }
  struct buf b = begin("krun_set_rlimits");
  putf(&b, "\"ctx\":%u,\"rlimits\":", ctx_id);
  put_json_strs(&b, rlimits);
  return finish(&b, rc);
}

int32_t krun_set_console_output(uint32_t ctx_id, const char *c_filepath) {
  struct ctx *c = find(ctx_id);
  int32_t rc = !c ? -ENOENT : !c_filepath ? -EINVAL : c->console_output ? -EINVAL : 0;
  if (rc == 0) c->console_output = strdup(c_filepath);
  struct buf b = begin("krun_set_console_output");
  putf(&b, "\"ctx\":%u,\"filepath\":", ctx_id);
  put_json_str(&b, c_filepath);
  return finish(&b, rc);
}

int32_t krun_disable_implicit_console(uint32_t ctx_id) {
  struct ctx *c = find(ctx_id);
  if (c) c->implicit_console_disabled = true;
  struct buf b = begin("krun_disable_implicit_console");
  putf(&b, "\"ctx\":%u", ctx_id);
  return finish(&b, c ? 0 : -ENOENT);
}

static bool fd_open(int fd) { return fd >= 0 && fcntl(fd, F_GETFD) >= 0; }

int32_t krun_add_virtio_console_default(uint32_t ctx_id, int input_fd, int output_fd, int err_fd) {
  struct ctx *c = find(ctx_id);
  // A negative fd means "no such stream"; any other must be open (libkrun dups it when the VM is built).
  int32_t rc = !c ? -ENOENT : ((input_fd >= 0 && !fd_open(input_fd)) || (output_fd >= 0 && !fd_open(output_fd)) || (err_fd >= 0 && !fd_open(err_fd))) ? -EBADF : 0;
  if (rc == 0) {
    c->default_console = true;
    c->console_in = input_fd;
    c->console_out = output_fd;
    c->console_err = err_fd;
  }
  struct buf b = begin("krun_add_virtio_console_default");
  putf(&b, "\"ctx\":%u,\"input_fd\":%d,\"output_fd\":%d,\"err_fd\":%d", ctx_id, input_fd, output_fd, err_fd);
  return finish(&b, rc);
}

int32_t krun_add_virtio_console_multiport(uint32_t ctx_id) {
  struct ctx *c = find(ctx_id);
  int32_t rc = !c ? -ENOENT : c->consoles >= MAX_CONSOLES ? -ENOSPC : 0;
  // The console id counts every virtio-console device: the default one comes first when it exists.
  if (rc == 0) rc = (c->default_console ? 1 : 0) + c->consoles++;
  struct buf b = begin("krun_add_virtio_console_multiport");
  putf(&b, "\"ctx\":%u", ctx_id);
  return finish(&b, rc);
}

int32_t krun_add_console_port_inout(uint32_t ctx_id, uint32_t console_id, const char *name, int input_fd, int output_fd) {
  struct ctx *c = find(ctx_id);
  int32_t first = c && c->default_console ? 1 : 0;
  int32_t rc = !c ? -ENOENT : ((int32_t)console_id < first || (int32_t)console_id >= first + c->consoles) ? -EINVAL : c->nports >= MAX_PORTS ? -ENOSPC : (!fd_open(input_fd) || !fd_open(output_fd)) ? -EBADF : 0;
  if (rc == 0) {
    struct port *p = &c->ports[c->nports++];
    snprintf(p->name, sizeof p->name, "%s", name ? name : "");
    p->in_fd = input_fd;
    p->out_fd = output_fd;
    p->console = console_id;
  }
  struct buf b = begin("krun_add_console_port_inout");
  putf(&b, "\"ctx\":%u,\"console_id\":%u,\"name\":", ctx_id, console_id);
  put_json_str(&b, name);
  putf(&b, ",\"input_fd\":%d,\"output_fd\":%d", input_fd, output_fd);
  return finish(&b, rc);
}

int32_t krun_disable_implicit_vsock(uint32_t ctx_id) {
  struct ctx *c = find(ctx_id);
  if (c) c->vsock = VSOCK_DISABLED;
  struct buf b = begin("krun_disable_implicit_vsock");
  putf(&b, "\"ctx\":%u", ctx_id);
  return finish(&b, c ? 0 : -ENOENT);
}

int32_t krun_add_vsock(uint32_t ctx_id, uint32_t tsi_features) {
  struct ctx *c = find(ctx_id);
  int32_t rc = (tsi_features & ~TSI_KNOWN_FLAGS) ? -EINVAL : !c ? -ENOENT : c->vsock != VSOCK_DISABLED ? -EEXIST : 0;
  if (rc == 0) {
    c->vsock = VSOCK_EXPLICIT;
    c->tsi_flags = tsi_features;
  }
  struct buf b = begin("krun_add_vsock");
  putf(&b, "\"ctx\":%u,\"tsi_features\":%u", ctx_id, tsi_features);
  return finish(&b, rc);
}

/** Each entry "HOST:GUEST", both u16, no guest or host port twice. */
static bool valid_port_map(const char *const port_map[]) {
  long seen_host[MAX_STRS], seen_guest[MAX_STRS];
  int n = 0;
  for (int i = 0; port_map[i] && i < MAX_STRS; i++) {
    char *end;
    long host = strtol(port_map[i], &end, 10);
    if (end == port_map[i] || *end != ':' || host < 0 || host > 65535) return false;
    const char *g = end + 1;
    long guest = strtol(g, &end, 10);
    if (end == g || *end != '\0' || guest < 0 || guest > 65535) return false;
    for (int j = 0; j < n; j++)
      if (seen_host[j] == host || seen_guest[j] == guest) return false;
    seen_host[n] = host;
    seen_guest[n++] = guest;
  }
  return true;
}

int32_t krun_set_port_map(uint32_t ctx_id, const char *const port_map[]) {
  struct ctx *c = find(ctx_id);
  int32_t rc = (port_map && !valid_port_map(port_map)) ? -EINVAL : !c ? -ENOENT : c->vsock == VSOCK_DISABLED ? -ENODEV : 0;
  if (rc == 0) c->port_map_set = true;
  struct buf b = begin("krun_set_port_map");
  putf(&b, "\"ctx\":%u,\"port_map\":", ctx_id);
  put_json_strs(&b, port_map);
  return finish(&b, rc);
}

/* ---- krun_start_enter: the "VM" ---- */

static void say(const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
  line[n++] = '\n';
  ssize_t ignored = write(STDERR_FILENO, line, (size_t)n);
  (void)ignored;
}

/** An injected failure, for tests: <library dir>/fault holding the name of the call that fails. */
static bool fault(const char *call) {
  char path[PATH_MAX], want[64] = {0};
  snprintf(path, sizeof path, "%s/fault", dir_of_library());
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, want, sizeof want - 1);
  close(fd);
  if (n <= 0) return false;
  want[strcspn(want, "\n")] = '\0';
  return strcmp(want, call) == 0;
}

struct guest_port {
  int master;
  char slave[64];
  char dev[32]; /* vportNpM */
  char name[64];
  int in_fd, out_fd;
};

/** A pty in raw mode standing in for a virtio-console port: the guest reads and writes bytes, no line discipline. */
static int open_port(struct guest_port *gp, const struct port *p, int index) {
  gp->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (gp->master < 0 || grantpt(gp->master) < 0 || unlockpt(gp->master) < 0 || ptsname_r(gp->master, gp->slave, sizeof gp->slave) != 0) return -errno;
  int s = open(gp->slave, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (s < 0) return -errno;
  struct termios t;
  tcgetattr(s, &t);
  cfmakeraw(&t);
  tcsetattr(s, TCSANOW, &t);
  close(s);
  snprintf(gp->dev, sizeof gp->dev, "vport%up%d", p->console, index);
  snprintf(gp->name, sizeof gp->name, "%s", p->name);
  gp->in_fd = p->in_fd;
  gp->out_fd = p->out_fd;
  return 0;
}

/* cgroup memory limit of the "VM": v1 memory controller, else a cgroup2 group */
struct memcg {
  char dir[PATH_MAX];
  int version;
  int event_fd; /* v1: eventfd on memory.oom_control; v2: inotify on memory.events */
  long long kills;
};

static int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  ssize_t n = write(fd, text, strlen(text));
  int err = n < 0 ? -errno : 0;
  close(fd);
  return err;
}

static long long read_counter(const char *file, const char *key) {
  char buf[4096] = {0};
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  size_t klen = strlen(key);
  for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
    if (strncmp(line, key, klen) == 0 && line[klen] == ' ') return atoll(line + klen + 1);
  return 0;
}

/** Removes empty groups left by doubles that were killed (their own rmdir never ran). */
static void remove_stale_groups(const char *parent) {
  DIR *d = opendir(parent);
  if (!d) return;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_type != DT_DIR || e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    if (kill(atoi(e->d_name), 0) == 0 || errno == EPERM) continue;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", parent, e->d_name);
    rmdir(path);
  }
  closedir(d);
}

static int memcg_create(struct memcg *m, uint32_t ram_mib) {
  char path[PATH_MAX], value[64];
  memset(m, 0, sizeof *m);
  m->event_fd = -1;
  snprintf(value, sizeof value, "%llu", (unsigned long long)ram_mib * 1024 * 1024);
  if (access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) == 0) {
    m->version = 1;
    mkdir("/sys/fs/cgroup/memory/aegis-fake-libkrun", 0755);
    remove_stale_groups("/sys/fs/cgroup/memory/aegis-fake-libkrun");
    snprintf(m->dir, sizeof m->dir, "/sys/fs/cgroup/memory/aegis-fake-libkrun/%d", getpid());
    if (mkdir(m->dir, 0755) < 0 && errno != EEXIST) return -errno;
    snprintf(path, sizeof path, "%s/memory.limit_in_bytes", m->dir);
    int err = write_file(path, value);
    if (err) return err;
    // No swap for the guest: a VM's RAM is all it has.
    snprintf(path, sizeof path, "%s/memory.memsw.limit_in_bytes", m->dir);
    if (access(path, F_OK) == 0) write_file(path, value);
    snprintf(path, sizeof path, "%s/memory.swappiness", m->dir);
    write_file(path, "0");
    // OOM notifications: an eventfd registered on memory.oom_control.
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    snprintf(path, sizeof path, "%s/memory.oom_control", m->dir);
    int ofd = open(path, O_RDONLY | O_CLOEXEC);
    char reg[64];
    snprintf(reg, sizeof reg, "%d %d", efd, ofd);
    snprintf(path, sizeof path, "%s/cgroup.event_control", m->dir);
    if (efd >= 0 && ofd >= 0 && write_file(path, reg) == 0) m->event_fd = efd;
    else if (efd >= 0) close(efd);
    if (ofd >= 0) close(ofd);
    return 0;
  }
  if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0) {
    m->version = 2;
    mkdir("/sys/fs/cgroup/aegis-fake-libkrun", 0755);
    write_file("/sys/fs/cgroup/aegis-fake-libkrun/cgroup.subtree_control", "+memory");
    remove_stale_groups("/sys/fs/cgroup/aegis-fake-libkrun");
    snprintf(m->dir, sizeof m->dir, "/sys/fs/cgroup/aegis-fake-libkrun/%d", getpid());
    if (mkdir(m->dir, 0755) < 0 && errno != EEXIST) return -errno;
    snprintf(path, sizeof path, "%s/memory.max", m->dir);
    int err = write_file(path, value);
    if (err) return err;
    snprintf(path, sizeof path, "%s/memory.swap.max", m->dir);
    if (access(path, F_OK) == 0) write_file(path, "0");
    int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    snprintf(path, sizeof path, "%s/memory.events", m->dir);
    if (ifd >= 0 && inotify_add_watch(ifd, path, IN_MODIFY) >= 0) m->event_fd = ifd;
    else if (ifd >= 0) close(ifd);
    return 0;
  }
  return -ENOTSUP;
}

/** The guest kernel prints each OOM kill on its console, which libkrun logs on stderr: say the same. */
static void memcg_report_kills(struct memcg *m) {
  char path[PATH_MAX];
  if (m->version == 1) snprintf(path, sizeof path, "%s/memory.oom_control", m->dir);
  else snprintf(path, sizeof path, "%s/memory.events", m->dir);
  long long kills = read_counter(path, "oom_kill");
  for (; m->kills < kills; m->kills++) say("[fake-libkrun guest kernel] Out of memory: Killed process (memory limit %s)", m->dir);
}

static void memcg_remove(struct memcg *m) {
  if (!m->dir[0]) return;
  // The guest's processes die with its pid namespace; their group goes once they are gone.
  for (int i = 0; i < 100 && rmdir(m->dir) < 0 && errno == EBUSY; i++) usleep(10000);
}

static void relay(int from, int to) {
  char buf[65536];
  ssize_t n = read(from, buf, sizeof buf);
  for (ssize_t off = 0; n > 0 && off < n;) {
    ssize_t w = write(to, buf + off, (size_t)(n - off));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += w;
  }
}

/* In the forked children only async-signal-safe calls from here on: the caller is a threaded process. */

static void die(const char *what) {
  char line[256];
  int n = snprintf(line, sizeof line, "fake-libkrun: guest setup: %s: %s\n", what, strerror(errno));
  ssize_t ignored = write(STDERR_FILENO, line, (size_t)n);
  (void)ignored;
  _exit(125);
}

static void mkdirs_under(const char *root, const char *rel, mode_t mode) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", root, rel);
  mkdir(path, mode);
}

struct boot {
  const char *root;
  int init_fd;
  char *const *argv;
  char *const *envp;
  struct guest_port *ports;
  int nports;
  int out_fd, err_fd;
  const char *cgroup_procs;
};

/** PID 1 of the guest: builds what a VM's kernel and devices provide, then execs the init. */
static void guest_pid1(const struct boot *b) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) die("mount --make-rprivate /");
  if (mount(b->root, b->root, NULL, MS_BIND | MS_REC, NULL) < 0) die("bind the root");
  char path[PATH_MAX], target[PATH_MAX];
  // /dev: a small tmpfs with the usual nodes and the console ports (a VM's devtmpfs holds only its own devices).
  mkdirs_under(b->root, "dev", 0755);
  snprintf(path, sizeof path, "%s/dev", b->root);
  if (mount("devtmpfs", path, "tmpfs", MS_NOSUID, "mode=755,size=64k") < 0) die("mount /dev");
  // Bound from the host's /dev rather than made: the worker runs without CAP_MKNOD.
  static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
  for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
    char host[64];
    snprintf(host, sizeof host, "/dev/%s", nodes[i]);
    snprintf(path, sizeof path, "%s/dev/%s", b->root, nodes[i]);
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
    if (fd < 0) die("create a device node's mount point");
    close(fd);
    if (mount(host, path, NULL, MS_BIND, NULL) < 0) die("bind a device node");
  }
  for (int i = 0; i < b->nports; i++) {
    snprintf(target, sizeof target, "%s/dev/%s", b->root, b->ports[i].dev);
    int fd = open(target, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) die("create the port node");
    close(fd);
    if (mount(b->ports[i].slave, target, NULL, MS_BIND, NULL) < 0) die("bind the port");
  }
  // /proc and /sys of this pid and network namespace; /sys/class shows the console ports by name.
  mkdirs_under(b->root, "proc", 0555);
  snprintf(path, sizeof path, "%s/proc", b->root);
  if (mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) die("mount /proc");
  mkdirs_under(b->root, "sys", 0555);
  snprintf(path, sizeof path, "%s/sys", b->root);
  if (mount("sysfs", path, "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL) < 0) die("mount /sys");
  snprintf(path, sizeof path, "%s/sys/class", b->root);
  if (mount("sysfs-class", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755,size=64k") < 0) die("mount /sys/class");
  mkdirs_under(b->root, "sys/class/virtio-ports", 0755);
  for (int i = 0; i < b->nports; i++) {
    char rel[128];
    snprintf(rel, sizeof rel, "sys/class/virtio-ports/%s", b->ports[i].dev);
    mkdirs_under(b->root, rel, 0755);
    snprintf(path, sizeof path, "%s/%s/name", b->root, rel);
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0444);
    if (fd < 0) die("write a port name");
    ssize_t ignored = write(fd, b->ports[i].name, strlen(b->ports[i].name));
    ignored = write(fd, "\n", 1);
    (void)ignored;
    close(fd);
  }
  snprintf(path, sizeof path, "%s/sys", b->root);
  mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_REC, NULL);
  // The console: the workload's stdout and stderr (libkrun's krun-stdout/krun-stderr ports).
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0) die("stdin");
  if (b->out_fd >= 0 && dup2(b->out_fd, STDOUT_FILENO) < 0) die("stdout");
  if (b->err_fd >= 0 && dup2(b->err_fd, STDERR_FILENO) < 0) die("stderr");
  if (chdir(b->root) < 0) die("chdir root");
  if (syscall(SYS_pivot_root, ".", ".") < 0) die("pivot_root");
  if (umount2(".", MNT_DETACH) < 0) die("detach the host root");
  if (chdir("/") < 0) die("chdir /");
  syscall(SYS_execveat, b->init_fd, "", b->argv, b->envp, AT_EMPTY_PATH);
  die("exec the guest init");
}

/** Between the VMM and the guest: enters the cgroup and namespaces, then waits for PID 1 and exits with it. */
static void guest_parent(const struct boot *b) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (b->cgroup_procs[0]) {
    int fd = open(b->cgroup_procs, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "0", 1) < 0) die("enter the memory cgroup");
    close(fd);
  }
  if (unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP) < 0) die("unshare");
  pid_t init = fork();
  if (init < 0) die("fork");
  if (init == 0) guest_pid1(b);
  int status;
  while (waitpid(init, &status, 0) < 0)
    if (errno != EINTR) die("wait");
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

int32_t krun_start_enter(uint32_t ctx_id) {
  pthread_mutex_lock(&lock);
  struct ctx *found = find(ctx_id);
  struct ctx c;
  if (found) {
    c = *found;
    found->live = false; // consumed, as libkrun's start consumes the context
  }
  pthread_mutex_unlock(&lock);
  struct buf b = begin("krun_start_enter");
  putf(&b, "\"ctx\":%u", ctx_id);
  if (!found) return finish(&b, -ENOENT);
  if (fault("krun_start_enter")) {
    say("fake-libkrun: Building the microVM failed: injected fault (%s/fault)", dir_of_library());
    return finish(&b, -EINVAL);
  }
  if (!c.root || !c.vcpus) {
    say("fake-libkrun: Building the microVM failed: %s", !c.root ? "no root filesystem" : "no VM config");
    return finish(&b, -EINVAL);
  }
  if (c.vsock == VSOCK_EXPLICIT || c.vsock == VSOCK_IMPLICIT) say("fake-libkrun: TSI is not emulated: the guest has no network besides lo");

  // The guest init and its "kernel command line": argv after "--", KRUN_* and the exec's env.
  char init_path[PATH_MAX];
  snprintf(init_path, sizeof init_path, "%s/fake-krun-init", dir_of_library());
  int init_fd = open(init_path, O_PATH | O_CLOEXEC);
  if (init_fd < 0) {
    say("fake-libkrun: cannot open %s: %s", init_path, strerror(errno));
    return finish(&b, -ENOENT);
  }
  int nargs = 0, nenv = 0;
  while (c.argv && c.argv[nargs]) nargs++;
  while (c.envp && c.envp[nenv]) nenv++;
  char **argv = calloc((size_t)nargs + 2, sizeof *argv);
  argv[0] = "/init.krun";
  for (int i = 0; i < nargs; i++) argv[i + 1] = c.argv[i];
  char **envp = calloc((size_t)nenv + 4, sizeof *envp);
  int e = 0;
  if (asprintf(&envp[e++], "KRUN_INIT=%s", c.exec_path ? c.exec_path : "/bin/sh") < 0) return finish(&b, -ENOMEM);
  if (c.workdir && asprintf(&envp[e++], "KRUN_WORKDIR=%s", c.workdir) < 0) return finish(&b, -ENOMEM);
  if (c.rlimits && asprintf(&envp[e++], "KRUN_RLIMITS=%s", c.rlimits) < 0) return finish(&b, -ENOMEM);
  for (int i = 0; i < nenv; i++) envp[e++] = c.envp[i];

  struct guest_port ports[MAX_PORTS];
  for (int i = 0; i < c.nports; i++) {
    int err = open_port(&ports[i], &c.ports[i], i);
    if (err) {
      say("fake-libkrun: cannot make console port %s: %s", c.ports[i].name, strerror(-err));
      return finish(&b, -EINVAL);
    }
  }
  struct memcg mem;
  int err = memcg_create(&mem, c.ram_mib);
  if (err) say("fake-libkrun: the guest's memory is not bounded (no usable memory cgroup: %s)", strerror(-err));
  char procs[PATH_MAX] = {0};
  if (!err) snprintf(procs, sizeof procs, "%s/cgroup.procs", mem.dir);

  int out_fd = c.default_console ? c.console_out : -1, err_fd = c.default_console ? c.console_err : -1;
  if (!c.default_console && c.console_output) out_fd = err_fd = open(c.console_output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  struct boot boot = {c.root, init_fd, argv, envp, ports, c.nports, out_fd, err_fd, procs};
  // Recorded before the fork: from here on the call does not return.
  finish(&b, 0);
  pid_t guest = fork();
  if (guest < 0) {
    say("fake-libkrun: fork: %s", strerror(errno));
    exit(1);
  }
  if (guest == 0) guest_parent(&boot);

  // The VMM loop: relay each console port, report OOM kills, end with the guest.
  int pidfd = (int)syscall(SYS_pidfd_open, guest, 0);
  for (;;) {
    struct pollfd fds[2 * MAX_PORTS + 2];
    int n = 0;
    for (int i = 0; i < c.nports; i++) {
      fds[n++] = (struct pollfd){.fd = ports[i].master, .events = POLLIN};
      fds[n++] = (struct pollfd){.fd = ports[i].in_fd, .events = POLLIN};
    }
    int mem_at = n;
    if (mem.event_fd >= 0) fds[n++] = (struct pollfd){.fd = mem.event_fd, .events = POLLIN};
    int pid_at = n;
    if (pidfd >= 0) fds[n++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
    // The memory cgroup's OOM event is not raised on every kernel when its OOM killer acts: look every 10 ms too.
    int ready = poll(fds, (nfds_t)n, pidfd >= 0 && !mem.dir[0] ? -1 : 10);
    if (ready < 0 && errno != EINTR) break;
    for (int i = 0; i < c.nports; i++) {
      if (fds[2 * i].revents & POLLIN) relay(ports[i].master, ports[i].out_fd);
      if (fds[2 * i + 1].revents & POLLIN) relay(ports[i].in_fd, ports[i].master);
      // A host end that went away for good: stop polling it rather than spin.
      if (fds[2 * i + 1].revents & (POLLHUP | POLLERR | POLLNVAL)) ports[i].in_fd = -1;
    }
    if (mem.event_fd >= 0 && mem_at < n && (fds[mem_at].revents & POLLIN)) {
      char drain[4096];
      ssize_t ignored = read(mem.event_fd, drain, sizeof drain);
      (void)ignored;
    }
    if (mem.dir[0]) memcg_report_kills(&mem);
    int status;
    bool gone = pidfd >= 0 ? (pid_at < n && (fds[pid_at].revents & POLLIN)) : true;
    if (gone && waitpid(guest, &status, WNOHANG) == guest) {
      memcg_report_kills(&mem);
      memcg_remove(&mem);
      int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      // libkrun exits the process with the workload's exit code once the VM is down.
      exit(code);
    }
  }
  say("fake-libkrun: VMM loop failed: %s", strerror(errno));
  exit(1);
}

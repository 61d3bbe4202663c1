// First-touch cost of anonymous memory, per 2 MiB: one transparent huge
// page (MADV_HUGEPAGE) against 512 4 KiB pages, then again after
// MADV_DONTNEED (what an allocator does after a purge). Issue 15: on the
// development VM the first touch of memory the host had taken back cost
// 4.6 ms per 2 MiB THP fault (one stall), 11 us per 4 KiB page (spread).
//   gcc -O2 -o /tmp/thp bench/thp-first-touch.c
//   chrt -f 10 taskset -c 1 /tmp/thp 1   # THP;  /tmp/thp 0: 4 KiB pages
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>
static double now_us(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e6+t.tv_nsec/1e3;}
int main(int argc,char**argv){
  size_t n=64, sz=n<<21; int huge=atoi(argv[1]);
  char*p=mmap(0,sz+(2<<20),PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0);
  p=(char*)(((uintptr_t)p+(2<<20)-1)&~(uintptr_t)((2<<20)-1));
  madvise(p,sz,huge?MADV_HUGEPAGE:MADV_NOHUGEPAGE);
  double mx=0,tot=0;
  for(size_t i=0;i<n;i++){double t=now_us(); for(size_t o=0;o<(2u<<20);o+=4096){p[(i<<21)+o]=1;} t=now_us()-t; tot+=t; if(t>mx)mx=t;}
  printf("%s: per 2 MiB: mean %.0f us max %.0f us\n",huge?"THP":"4K",tot/n,mx);
  // purge and re-touch (what mimalloc does after a purge)
  madvise(p,sz,MADV_DONTNEED); mx=0;tot=0;
  for(size_t i=0;i<n;i++){double t=now_us(); for(size_t o=0;o<(2u<<20);o+=4096){p[(i<<21)+o]=1;} t=now_us()-t; tot+=t; if(t>mx)mx=t;}
  printf("%s after MADV_DONTNEED: per 2 MiB: mean %.0f us max %.0f us\n",huge?"THP":"4K",tot/n,mx);
  return 0;}

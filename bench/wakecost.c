// What waking a UDP receiver costs, by how the receiver waits. Issue 15: is
// a shard that sleeps in io_uring dearer to wake than Kamailio's worker
// sleeping in recvfrom? A sender on CPU 0 sends one datagram every ~1 ms to
// a receiver thread on CPU 1 and times its own send (what the waker pays:
// loopback delivery and the wake-up); the receiver times delivery (send
// start -> back in user space with the data). Modes: 0 recv (blocking
// recvfrom, as Kamailio), 1 io_uring POLL_ADD then recv (as a shard),
// 2 the same with IORING_SETUP_COOP_TASKRUN, 3 with DEFER_TASKRUN,
// 4 IORING_OP_RECV. On the development VM (2026-12-05) every mode cost the
// sender 10.2-11.4 us per send (p50) and delivered in 29-40 us (p50):
// waiting in io_uring costs the waker nothing more.
//   apt-get install liburing-dev
//   gcc -O2 -o wakecost bench/wakecost.c -luring -lpthread
//   for m in 0 1 2 3 4; do ./wakecost $m $m; done    (second argument: port offset)
#define _GNU_SOURCE
#include <liburing.h>
#include <arpa/inet.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/socket.h>
#include <poll.h>
static long now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1000000000L+t.tv_nsec;}
static void pin(int c){cpu_set_t s;CPU_ZERO(&s);CPU_SET(c,&s);sched_setaffinity(0,sizeof s,&s);}
static int cmp(const void*a,const void*b){long x=*(long*)a,y=*(long*)b;return x<y?-1:x>y;}
#define N 20000
static long snd[N],dl[N];static int mode;static int rfd;static volatile int ndl;
static void rec(long t0){ if(ndl<N) dl[ndl++]=now()-t0; }
static void *rx(void*_){
  pin(1); char b[256];
  if(mode==0){ for(;;){ if(recv(rfd,b,sizeof b,0)>0){long t;memcpy(&t,b,8);rec(t);} } }
  struct io_uring r; struct io_uring_params p; memset(&p,0,sizeof p);
  if(mode==2) p.flags=IORING_SETUP_COOP_TASKRUN;
  if(mode==3) p.flags=IORING_SETUP_SINGLE_ISSUER|IORING_SETUP_DEFER_TASKRUN;
  if(io_uring_queue_init_params(64,&r,&p)){perror("init");exit(1);}
  for(;;){
    struct io_uring_sqe*s=io_uring_get_sqe(&r);
    if(mode==4){ io_uring_prep_recv(s,rfd,b,sizeof b,0);} else io_uring_prep_poll_add(s,rfd,POLLIN);
    io_uring_submit_and_wait(&r,1);
    struct io_uring_cqe*c; io_uring_peek_cqe(&r,&c); int res=c->res; io_uring_cqe_seen(&r,c);
    if(mode==4){ if(res>0){long t;memcpy(&t,b,8);rec(t);} continue; }
    while(recv(rfd,b,sizeof b,MSG_DONTWAIT)>0){long t;memcpy(&t,b,8);rec(t);}
  }
}
int main(int argc,char**argv){
  if(argc<3||atoi(argv[1])<0||atoi(argv[1])>4){fprintf(stderr,"usage: wakecost MODE(0-4) PORT_OFFSET\n");return 2;}
  mode=atoi(argv[1]);
  struct sockaddr_in a={.sin_family=AF_INET,.sin_port=htons(6001+atoi(argv[2]))};a.sin_addr.s_addr=htonl(0x7f000001);
  rfd=socket(AF_INET,SOCK_DGRAM,0); if(bind(rfd,(void*)&a,sizeof a)){perror("bind");return 1;}
  pthread_t t;pthread_create(&t,0,rx,0);
  pin(0); int s=socket(AF_INET,SOCK_DGRAM,0); connect(s,(void*)&a,sizeof a);
  char b[300]; memset(b,'x',sizeof b); usleep(100000);
  for(int i=0;i<N;i++){ struct timespec d={0,1000000}; nanosleep(&d,0); long t0=now(); memcpy(b,&t0,8); send(s,b,sizeof b,0); snd[i]=now()-t0; }
  usleep(100000); int n=ndl;
  qsort(snd,N,8,cmp); qsort(dl,n,8,cmp);
  const char*names[]={"recv","uring-poll","uring-poll-coop","uring-poll-defer","uring-recv"};
  printf("%-18s sendto p50 %5.1f p90 %5.1f us | delivery p50 %5.1f p90 %5.1f p99 %5.1f us (n=%d)\n",names[mode],
    snd[N/2]/1e3,snd[N*9/10]/1e3,dl[n/2]/1e3,dl[n*9/10]/1e3,dl[n*99/100]/1e3,n);
  return 0;
}

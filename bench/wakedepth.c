// What waking a sleeping UDP receiver costs, by how long it has been idle.
// Issue 15: the generator reads sipedge's answers later than Kamailio's at
// 1,000 calls/s (sipedge-bench --read-lag). A receiver thread on CPU 0 blocks
// in recv and notes when it began waiting; a sender on CPU 1 waits (spinning,
// so its own CPU never halts) until the receiver has idled X us, sends one
// datagram, and the receiver times delivery (send start -> back in user space
// with the data). The sender also times its own send (what waking costs it).
//   gcc -O2 -o wakedepth bench/wakedepth.c -lpthread
//   ./wakedepth           idle X from 2 us to 1.5 ms, 3,000 wakes each
//   ./wakedepth seq X     one 1.5 ms idle, then seven of X us, 1,500 times:
//                         does a run of short idles get cheaper as it goes on?
// On the development VM (2026-12-05, nested KVM guest with guest halt polling
// off), two runs: delivery p50 12-17 us after <= 5 us of idle, 22-24 us after
// 10-160 us, 24-36 us after 320 us-1.5 ms; in a sequence, each wake costs what
// its own idle says, whatever came before. bench/results/readlag-20261205.txt.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000000000L + t.tv_nsec; }
static void pin(int c) { cpu_set_t s; CPU_ZERO(&s); CPU_SET(c, &s); sched_setaffinity(0, sizeof s, &s); }
static int cmp(const void *a, const void *b) { long x = *(const long *)a, y = *(const long *)b; return x < y ? -1 : x > y; }

#define N 3000
static volatile long entered, got;
static int rfd, sfd;
static char msg[300];

static void *receiver(void *arg) {
  (void)arg;
  pin(0);
  char b[512];
  for (;;) {
    entered = now();
    if (recv(rfd, b, sizeof b, 0) > 0) { long t0; memcpy(&t0, b, 8); got = now() - t0; }
  }
  return NULL;
}

// Waits until the receiver has idled idle_ns, sends, returns the delivery time.
static long wake(long idle_ns, long *send_ns) {
  got = 0;
  long e = entered;
  while (now() < e + idle_ns) {}
  long t0 = now();
  memcpy(msg, &t0, 8);
  send(sfd, msg, sizeof msg, 0);
  if (send_ns) *send_ns = now() - t0;
  while (got == 0) {}
  long d = got;
  while (entered <= t0) {} // the receiver is back in recv
  return d;
}

int main(int argc, char **argv) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(6103)};
  a.sin_addr.s_addr = htonl(0x7f000001);
  rfd = socket(AF_INET, SOCK_DGRAM, 0);
  if (bind(rfd, (void *)&a, sizeof a)) { perror("bind"); return 1; }
  pthread_t t;
  pthread_create(&t, NULL, receiver, NULL);
  pin(1);
  sfd = socket(AF_INET, SOCK_DGRAM, 0);
  connect(sfd, (void *)&a, sizeof a);
  memset(msg, 'x', sizeof msg);
  usleep(100000);
  static long dl[8][N], sd[N];
  if (argc == 3 && strcmp(argv[1], "seq") == 0) {
    long x = atol(argv[2]) * 1000L;
    for (int i = 0; i < N / 2; i++)
      for (int pos = 0; pos < 8; pos++) dl[pos][i] = wake(pos == 0 ? 1500000L : x, NULL);
    for (int pos = 0; pos < 8; pos++) {
      qsort(dl[pos], N / 2, 8, cmp);
      printf("wake %d, after %4ld us idle: deliver p50 %5.1f p90 %5.1f us\n", pos, pos == 0 ? 1500 : x / 1000,
             dl[pos][N / 4] / 1e3, dl[pos][N / 2 * 9 / 10] / 1e3);
    }
    return 0;
  }
  const int idle_us[] = {2, 5, 10, 20, 40, 80, 160, 320, 640, 1500};
  for (unsigned k = 0; k < sizeof idle_us / sizeof idle_us[0]; k++) {
    for (int i = 0; i < N; i++) dl[0][i] = wake(idle_us[k] * 1000L, &sd[i]);
    qsort(dl[0], N, 8, cmp);
    qsort(sd, N, 8, cmp);
    printf("idle %5d us: deliver p50 %5.1f p90 %5.1f us; send p50 %5.1f us\n", idle_us[k], dl[0][N / 2] / 1e3,
           dl[0][N * 9 / 10] / 1e3, sd[N / 2] / 1e3);
    fflush(stdout);
  }
  return 0;
}

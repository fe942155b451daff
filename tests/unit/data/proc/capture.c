// Builds a process with the states the /proc parsers must handle, then waits
// so its /proc files can be captured with cat.
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif

static void* worker(void* arg) {
  (void)arg;
  prctl(PR_SET_NAME, "worker (1)");
  for (;;) pause();
  return NULL;
}

int main(void) {
  // A comm with spaces and parentheses, as a program may set it.
  prctl(PR_SET_NAME, "a) b (c");

  pthread_t th[2];
  for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, worker, NULL);

  // A file with a space in its name, mapped and then deleted.
  const char* p = "/tmp/cap/del me.bin";
  int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
  ftruncate(fd, 8192);
  void* m1 = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  unlink(p);
  (void)m1;
  // A regular file with a space, kept, opened O_CLOEXEC at an offset.
  int fd2 = open("/tmp/cap/keep me.txt", O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  write(fd2, "hello\n", 6);
  mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd2, 0);

  // Shared anonymous, named anonymous, memfd, THP-advised anonymous.
  mmap(NULL, 4096 * 3, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  void* named = mmap(NULL, 4096 * 2, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)named, 4096 * 2, "ckpt test");
  int mfd = memfd_create("ckpt-memfd", MFD_CLOEXEC);
  ftruncate(mfd, 4096);
  mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
  size_t hsz = 4 << 20;
  char* huge = mmap(NULL, hsz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char* aligned = (char*)(((unsigned long)huge + (2 << 20) - 1) & ~((2UL << 20) - 1));
  madvise(aligned, 2 << 20, MADV_HUGEPAGE);
  memset(aligned, 1, 2 << 20);
  void* dd = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  madvise(dd, 4096, MADV_DONTDUMP);
  mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

  // POSIX timers of each notify kind.
  timer_t t1, t2, t3, t4;
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = SIGUSR1;
  sev.sigev_value.sival_ptr = (void*)0xdeadbeef;
  timer_create(CLOCK_MONOTONIC, &sev, &t1);
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = SIGRTMIN + 2;
  sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
  sev.sigev_value.sival_int = 42;
  timer_create(CLOCK_REALTIME, &sev, &t2);
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_NONE;
  timer_create(CLOCK_BOOTTIME, &sev, &t3);
  timer_create(CLOCK_PROCESS_CPUTIME_ID, NULL, &t4);  // default: SIGALRM, sigval = timer id
  struct itimerspec its = {{1, 0}, {100, 0}};
  timer_settime(t1, 0, &its, NULL);

  // fds of several kinds, for fdinfo.
  sigset_t ss;
  sigemptyset(&ss);
  sigaddset(&ss, SIGUSR2);
  sigaddset(&ss, SIGHUP);
  sigprocmask(SIG_BLOCK, &ss, NULL);
  signal(SIGPIPE, SIG_IGN);
  int sfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
  int efd = eventfd(7, EFD_NONBLOCK);
  int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
  struct itimerspec tits = {{0, 500000000}, {1000, 0}};
  timerfd_settime(tfd, 0, &tits, NULL);
  int ifd = inotify_init1(IN_NONBLOCK);
  inotify_add_watch(ifd, "/tmp", IN_CREATE | IN_DELETE);
  inotify_add_watch(ifd, "/tmp/cap", IN_MODIFY);
  int epfd = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1234};
  epoll_ctl(epfd, EPOLL_CTL_ADD, efd, &ev);
  ev.events = EPOLLIN | EPOLLET;
  ev.data.u64 = 99;
  epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &ev);
  int pfd[2];
  pipe2(pfd, O_NONBLOCK);
  lseek(fd2, 3, SEEK_SET);

  // A zombie child.
  pid_t z = fork();
  if (z == 0) _exit(3);

  printf(
      "pid %d zombie %d fds: file %d cloexec-file %d memfd %d signalfd %d eventfd %d timerfd %d "
      "inotify %d epoll %d pipe %d %d\n",
      getpid(), z, fd, fd2, mfd, sfd, efd, tfd, ifd, epfd, pfd[0], pfd[1]);
  fflush(stdout);
  for (;;) pause();
}

/*
 * isola-exit-watch: what conmon's --exit-command is for a container, for a VM. QEMU runs jailed
 * under a seccomp filter that forbids it to start programs, and nothing of isola stays resident,
 * so this small process waits for one VM's QEMU to end and then becomes the VM's exit command
 * (`isola _cleanup ...`), which records the exit and applies the restart policy.
 *
 *   isola-exit-watch --pid PID --start-time TICKS [--log FILE --log-max BYTES] [-- COMMAND ARGS...]
 *
 * The process is identified by pid and start time (field 22 of /proc/PID/stat), held through a
 * pidfd, so a reused pid is never waited on. With --log, the workload's log file (which QEMU
 * appends to, O_APPEND) is kept under BYTES, checked every 250 ms (so it can overshoot by what
 * the guest writes in that time): whole blocks are cut from its head (fallocate
 * COLLAPSE_RANGE, atomic against QEMU's appends), keeping the newest half; where the file
 * system cannot do that, the file is started again empty. Without a command it just ends.
 * SIGTERM ends it without running the command (cleanup of an instance that is being removed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

static long long start_time_of(int pid) {
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) return -1;
  p += 2; /* field 3 (state) */
  if (*p == 'Z') return -1;
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (!p) return -1;
    p++;
  }
  return atoll(p);
}

/* Cuts the log's head so that about half of `max` (its newest part) is left. */
static void trim_log(const char *log, long long max) {
  int fd = open(log, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st;
  if (fstat(fd, &st) == 0 && st.st_size > max) {
    long long blk = st.st_blksize > 0 ? st.st_blksize : 4096;
    long long cut = (st.st_size - max / 2 + blk - 1) / blk * blk;
    if (cut >= st.st_size || fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, cut) != 0) {
      if (ftruncate(fd, 0) != 0) fprintf(stderr, "isola-exit-watch: truncating %s: %s\n", log, strerror(errno));
    }
  }
  close(fd);
}

static void usage(void) {
  fprintf(stderr, "usage: isola-exit-watch --pid PID --start-time TICKS [--log FILE --log-max BYTES] [-- COMMAND ARGS...]\n");
  exit(2);
}

int main(int argc, char **argv) {
  int pid = 0;
  long long start = -1, log_max = 0;
  const char *log = NULL;
  int i = 1;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) { i++; break; }
    if (i + 1 >= argc) usage();
    if (strcmp(argv[i], "--pid") == 0) pid = atoi(argv[++i]);
    else if (strcmp(argv[i], "--start-time") == 0) start = atoll(argv[++i]);
    else if (strcmp(argv[i], "--log") == 0) log = argv[++i];
    else if (strcmp(argv[i], "--log-max") == 0) log_max = atoll(argv[++i]);
    else usage();
  }
  if (pid <= 0 || start < 0) usage();
  char **cmd = i < argc ? argv + i : NULL;

  signal(SIGTERM, SIG_DFL);
  signal(SIGHUP, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  if (chdir("/") != 0) return 1;

  int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
  /* Opened, then checked: a pidfd names one process, so a check after opening is not racy. */
  if (pfd >= 0 && start_time_of(pid) == start) {
    for (;;) {
      struct pollfd p = {pfd, POLLIN, 0};
      int r = poll(&p, 1, log && log_max > 0 ? 250 : -1);
      if (r < 0 && errno == EINTR) continue;
      if (r != 0) break; /* ended (or an error we cannot wait through) */
      struct stat st;
      if (stat(log, &st) == 0 && st.st_size > log_max) trim_log(log, log_max);
    }
  }
  if (!cmd) return 0;
  execv(cmd[0], cmd);
  fprintf(stderr, "isola-exit-watch: %s: %s\n", cmd[0], strerror(errno));
  return 127;
}

/*
 * isola-tty-relay: the host side of a container's terminal, for the two things Node cannot do
 * itself (it has no SOCK_SEQPACKET sockets and cannot receive a file descriptor):
 *
 *   tty-relay attach DIR [--no-stdin]
 *       connects to conmon's attach socket DIR/attach (SOCK_SEQPACKET; reached through
 *       /proc/self/fd, so DIR may be longer than a socket address), copies stdin to it (one
 *       message per read, at most conmon's 32 KiB buffer), and writes each message it gets to
 *       stdout or stderr by its first byte (conmon's stdpipe_t: 2 stdout, 3 stderr). stdin's end
 *       is passed on as a half close (conmon then closes the workload's stdin, unless it was told
 *       to leave it open). Ends when conmon closes the socket (the workload exited).
 *
 *   tty-relay exec ROWS COLS -- RUNTIME ARGS...
 *       runs `RUNTIME ARGS` (a `runc exec --detach --tty --console-socket {console} --pid-file
 *       {pidfile} ...`; the two words become the paths of console.sock and exec.pid in the
 *       working directory: the runtime does not resolve relative ones there) as a child subreaper, takes
 *       the terminal's master from console.sock (SCM_RIGHTS), sets its size, copies stdin to it
 *       and it to stdout, applies "ROWS COLS" lines read from fd 4 as window sizes, and reaps the
 *       command when runc has let go of it.
 *
 * Events for the caller go to fd 3, one line each: "ready" once relaying began, "exit N" with the
 * command's status (exec; 128+signal for a signal), "runtime-failed N" when the runtime exited N
 * without starting it (its own words went to stderr). Usage and system errors: one line on stderr
 * starting "isola-tty-relay:", exit 125.
 *
 * It never outlives its caller: PR_SET_PDEATHSIG kills it with the isola process that started
 * it, and its terminal's master goes with it (the command then gets SIGHUP).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define CONMON_MSG_MAX 32768 /* conmon reads attach messages into a buffer this size */
#define EVENTS_FD 3
#define RESIZE_FD 4

static void die(const char *fmt, ...) {
  int e = errno;
  va_list ap;
  va_start(ap, fmt);
  fputs("isola-tty-relay: ", stderr);
  vfprintf(stderr, fmt, ap);
  if (e) fprintf(stderr, ": %s", strerror(e));
  fputc('\n', stderr);
  va_end(ap);
  exit(125);
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd q = {fd, POLLOUT, 0};
        poll(&q, 1, -1);
        continue;
      }
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void event(const char *fmt, ...) {
  char buf[64];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  buf[n++] = '\n';
  write_all(EVENTS_FD, buf, (size_t)n); /* nobody listening is not an error */
}

/* Dies with the process that started it; exits at once if that one is already gone. */
static void tie_to_parent(void) {
  pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) die("prctl(PR_SET_PDEATHSIG)");
  if (parent == 1 || getppid() != parent) exit(125);
}

static void set_size(int fd, int rows, int cols) {
  if (rows <= 0 || cols <= 0) return;
  struct winsize ws = {(unsigned short)rows, (unsigned short)cols, 0, 0};
  ioctl(fd, TIOCSWINSZ, &ws);
}

/* ---- attach: conmon's attach socket ---- */

static int attach_mode(const char *dir, int with_stdin) {
  int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) die("open %s", dir);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "/proc/self/fd/%d/attach", dfd);
  int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (s < 0) die("socket");
  if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) die("connect %s/attach", dir);
  close(dfd);
  event("ready");
  static char buf[65536];
  int in_open = with_stdin;
  for (;;) {
    struct pollfd q[2] = {{s, POLLIN, 0}, {0, POLLIN, 0}};
    int n = poll(q, in_open ? 2 : 1, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (q[0].revents) {
      ssize_t r = recv(s, buf, sizeof buf, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return 0; /* conmon closed it: the workload exited */
      if (r > 1 && write_all(buf[0] == 3 ? 2 : 1, buf + 1, (size_t)r - 1) < 0) return 0;
    }
    if (in_open && q[1].revents) {
      ssize_t r = read(0, buf, CONMON_MSG_MAX);
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (r <= 0) {
        shutdown(s, SHUT_WR);
        in_open = 0;
      } else if (send(s, buf, (size_t)r, MSG_NOSIGNAL) < 0) {
        in_open = 0;
      }
    }
  }
}

/* ---- exec: a console socket for `runc exec --tty --detach` ---- */

static int recv_fd(int sock) {
  char name[4096];
  char control[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {name, sizeof name};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  ssize_t r;
  do r = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
  while (r < 0 && errno == EINTR);
  if (r < 0) return -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      memcpy(&fd, CMSG_DATA(c), sizeof fd);
      return fd;
    }
  }
  errno = EBADMSG;
  return -1;
}

static int status_code(int st) { return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st); }

static pid_t read_pid(const char *file) {
  FILE *f = fopen(file, "re");
  if (!f) return -1;
  long p = -1;
  if (fscanf(f, "%ld", &p) != 1) p = -1;
  fclose(f);
  return (pid_t)p;
}

/* Reaped processes whose pid was not known yet (the command may end before its pidfile is read). */
#define REAPED_MAX 64
static struct { pid_t pid; int status; } reaped[REAPED_MAX];
static int nreaped;

static void remember(pid_t pid, int st) {
  if (nreaped < REAPED_MAX) {
    reaped[nreaped].pid = pid;
    reaped[nreaped++].status = st;
  }
}

static int lookup(pid_t pid, int *st) {
  for (int i = 0; i < nreaped; i++)
    if (reaped[i].pid == pid) {
      *st = reaped[i].status;
      return 1;
    }
  return 0;
}

/* Copies what the terminal still holds to stdout (the command ended). */
static void drain(int master) {
  char buf[16384];
  fcntl(master, F_SETFL, O_NONBLOCK);
  for (;;) {
    ssize_t r = read(master, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0 || write_all(1, buf, (size_t)r) < 0) return;
  }
}

static int exec_mode(int rows, int cols, char **argv) {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) die("prctl(PR_SET_CHILD_SUBREAPER)");
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) die("signalfd");

  unlink("console.sock");
  int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "console.sock");
  if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 1) != 0) die("console socket");
  chmod("console.sock", 0600);

  /* The socket's path for the runtime: absolute, or through /proc when that is too long. */
  char cwd[4096], sockpath[sizeof a.sun_path], pidpath[4200];
  if (!getcwd(cwd, sizeof cwd)) die("getcwd");
  if ((size_t)snprintf(sockpath, sizeof sockpath, "%s/console.sock", cwd) >= sizeof sockpath)
    snprintf(sockpath, sizeof sockpath, "/proc/%d/cwd/console.sock", (int)getpid());
  snprintf(pidpath, sizeof pidpath, "%s/exec.pid", cwd);
  for (char **a = argv; *a; a++) {
    if (strcmp(*a, "{console}") == 0) *a = sockpath;
    else if (strcmp(*a, "{pidfile}") == 0) *a = pidpath;
  }

  pid_t rt = fork();
  if (rt < 0) die("fork");
  if (rt == 0) {
    sigprocmask(SIG_UNBLOCK, &mask, NULL);
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(2, 1); /* the runtime's words never reach the terminal's stream */
    execvp(argv[0], argv);
    fprintf(stderr, "isola-tty-relay: exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }

  /* Until the runtime hands over the terminal, or ends without doing so. */
  int master = -1, rt_done = 0, rt_status = 0;
  while (master < 0) {
    struct pollfd q[2] = {{ls, POLLIN, 0}, {sfd, POLLIN, 0}};
    if (poll(q, 2, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (q[0].revents) {
      int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
      if (c >= 0) {
        master = recv_fd(c);
        close(c);
        if (master < 0) die("receiving the terminal");
      }
    }
    if (q[1].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) > 0) {}
      int st;
      pid_t p;
      while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
        if (p == rt) {
          rt_done = 1;
          rt_status = st;
        } else remember(p, st);
      }
      if (rt_done && master < 0) {
        event("runtime-failed %d", status_code(rt_status));
        return 0;
      }
    }
  }
  close(ls);
  unlink("console.sock");
  set_size(master, rows, cols);
  event("ready");

  pid_t target = -1;
  int in_open = 1, resize_open = fcntl(RESIZE_FD, F_GETFD) >= 0, master_open = 1;
  char buf[16384], rbuf[256];
  size_t rlen = 0;
  for (;;) {
    if (rt_done && target < 0) {
      if (status_code(rt_status) != 0) {
        event("runtime-failed %d", status_code(rt_status));
        return 0;
      }
      target = read_pid(pidpath);
      if (target <= 0) die("runc wrote no exec.pid");
      int st;
      if (lookup(target, &st)) {
        drain(master);
        event("exit %d", status_code(st));
        return 0;
      }
    }
    struct pollfd q[4];
    int n = 0, im = -1, ii = -1, ir = -1, is;
    if (master_open) q[im = n++] = (struct pollfd){master, POLLIN, 0};
    if (in_open) q[ii = n++] = (struct pollfd){0, POLLIN, 0};
    if (resize_open) q[ir = n++] = (struct pollfd){RESIZE_FD, POLLIN, 0};
    q[is = n++] = (struct pollfd){sfd, POLLIN, 0};
    if (poll(q, (nfds_t)n, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (im >= 0 && q[im].revents) {
      ssize_t r = read(master, buf, sizeof buf);
      if (r > 0) {
        if (write_all(1, buf, (size_t)r) < 0) return 0; /* the caller is gone */
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) master_open = 0; /* EIO: no one has the terminal open */
    }
    /* sizes before input: a resize sent before a key takes effect before it */
    if (ir >= 0 && q[ir].revents) {
      ssize_t r = read(RESIZE_FD, rbuf + rlen, sizeof rbuf - 1 - rlen);
      if (r <= 0) resize_open = 0;
      else {
        rlen += (size_t)r;
        rbuf[rlen] = 0;
        char *nl;
        while ((nl = strchr(rbuf, '\n'))) {
          int h = 0, w = 0;
          *nl = 0;
          if (sscanf(rbuf, "%d %d", &h, &w) == 2) set_size(master, h, w);
          rlen -= (size_t)(nl + 1 - rbuf);
          memmove(rbuf, nl + 1, rlen + 1);
        }
        if (rlen >= sizeof rbuf - 1) rlen = 0;
      }
    }
    if (ii >= 0 && q[ii].revents) {
      ssize_t r = read(0, buf, sizeof buf);
      if (r > 0) write_all(master, buf, (size_t)r);
      else if (r == 0 || (errno != EINTR && errno != EAGAIN)) in_open = 0;
    }
    if (q[is].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) > 0) {}
      int st;
      pid_t p;
      while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
        if (p == rt) {
          rt_done = 1;
          rt_status = st;
        } else if (target > 0 && p == target) {
          drain(master);
          event("exit %d", status_code(st));
          return 0;
        } else remember(p, st);
      }
    }
  }
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_DFL); /* the caller gone: end quietly */
  tie_to_parent();
  /* The caller's channels are not the runtime's or the command's to inherit. */
  fcntl(EVENTS_FD, F_SETFD, FD_CLOEXEC);
  fcntl(RESIZE_FD, F_SETFD, FD_CLOEXEC);
  if (argc >= 3 && strcmp(argv[1], "attach") == 0) {
    int with_stdin = !(argc >= 4 && strcmp(argv[3], "--no-stdin") == 0);
    return attach_mode(argv[2], with_stdin);
  }
  if (argc >= 6 && strcmp(argv[1], "exec") == 0 && strcmp(argv[4], "--") == 0) {
    return exec_mode(atoi(argv[2]), atoi(argv[3]), argv + 5);
  }
  errno = 0;
  die("usage: tty-relay attach DIR [--no-stdin] | tty-relay exec ROWS COLS -- RUNTIME ARGS...");
  return 125;
}

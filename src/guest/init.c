/*
 * isola guest init and agent: PID 1 of every isola VM.
 *
 * Boot: mount /proc /sys /dev, load the virtio modules listed in /isola/modules (dependency
 * order, written by setup.ts), mount /dev/vda (ext4) and switch root into it, configure eth0,
 * then run the workload described in /isola/config (a cpio appended per instance).
 *
 * Host channels are virtio-serial ports, found by name under /sys/class/virtio-ports:
 *   isola.log     workload stdout/stderr as CRI log lines ("TIME stdout F text"), never kernel text
 *   isola.status  "started PID", "error CODE message", "exit CODE": the host reads it as a file
 *   isola.agent   framed requests: exec (with separate stdout/stderr and an exit status)
 *   isola.ctl     framed requests: stats, signals, shutdown, the process list (never blocked by a running exec)
 * When the workload ends, init records its exit code, stops what is left and powers off.
 *
 * Frames: 1 byte type, 4 bytes big-endian length, payload. Records inside a payload are
 * NUL-terminated strings tagged by their first byte (a=argv, e=env, w=workdir, u=user, ...).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXREC 1024

static int con = 2; /* the serial console: init's own messages go here, never to the log port */

/* Formats one line into buf (truncated to fit) and ends it with a newline; returns its length. */
static int format_line(char *buf, size_t size, const char *fmt, va_list ap) {
  int n = vsnprintf(buf, size - 1, fmt, ap);
  if (n < 0) return -1;
  if (n > (int)size - 2) n = (int)size - 2;
  buf[n++] = '\n';
  return n;
}

static void say(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = format_line(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (write(con, "isola-init: ", 12) < 0 || write(con, buf, n) < 0) return;
}

static double uptime(void) {
  struct timespec ts;
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void poweroff(void) {
  sync();
  mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL);
  sync();
  reboot(RB_POWER_OFF);
  for (;;) pause();
}

static void die(const char *msg) {
  say("fatal: %s (%s)", msg, strerror(errno));
  poweroff();
}

static int write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = write(fd, c, n);
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return -1;
    }
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

static char *read_file(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap + 1);
  for (;;) {
    if (n == cap) buf = realloc(buf, (cap *= 2) + 1);
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    n += (size_t)r;
  }
  close(fd);
  buf[n] = 0;
  if (len) *len = n;
  return buf;
}

/* ---- records: tagged NUL-terminated strings ---- */

struct spec {
  char *argv[MAXREC];
  char *env[MAXREC];
  char *limits[64]; /* "name soft hard" (--ulimit; -1 is unlimited) */
  int argc, envc, limitc;
  const char *workdir, *user, *hostname, *ip, *gw;
  int readonly;
};

static void parse_records(char *p, size_t n, struct spec *s) {
  memset(s, 0, sizeof *s);
  s->workdir = "/";
  s->user = "";
  char *end = p + n;
  while (p < end) {
    size_t l = strnlen(p, (size_t)(end - p));
    if (p + l >= end) break; /* unterminated: ignore */
    char tag = p[0];
    char *v = p + 1;
    switch (tag) {
      case 'a': if (s->argc < MAXREC - 1) s->argv[s->argc++] = v; break;
      case 'e': if (s->envc < MAXREC - 1) s->env[s->envc++] = v; break;
      case 'w': if (*v) s->workdir = v; break;
      case 'u': s->user = v; break;
      case 'h': s->hostname = v; break;
      case 'i': s->ip = v; break;
      case 'g': s->gw = v; break;
      case 'r': s->readonly = (*v == '1'); break;
      case 'l': if (s->limitc < 63) s->limits[s->limitc++] = v; break;
    }
    p += l + 1;
  }
  s->argv[s->argc] = NULL;
  s->env[s->envc] = NULL;
}

/* ---- users: uid[:gid] or names, looked up in the image's /etc/passwd and /etc/group ---- */

static int lookup_passwd(const char *name, uid_t *uid, gid_t *gid, char *home, size_t homelen) {
  char *txt = read_file("/etc/passwd", NULL);
  if (!txt) return -1;
  int found = -1;
  for (char *line = strtok(txt, "\n"); line; line = strtok(NULL, "\n")) {
    char *f[7] = {0};
    int i = 0;
    for (char *c = line; i < 7; i++) {
      f[i] = c;
      char *colon = strchr(c, ':');
      if (!colon) { i++; break; }
      *colon = 0;
      c = colon + 1;
    }
    if (!f[0] || !f[2] || !f[3]) continue;
    int byname = strcmp(f[0], name) == 0;
    int byuid = !byname && name[0] >= '0' && name[0] <= '9' && strtoul(name, NULL, 10) == strtoul(f[2], NULL, 10);
    if (byname || byuid) {
      *uid = (uid_t)strtoul(f[2], NULL, 10);
      *gid = (gid_t)strtoul(f[3], NULL, 10);
      if (home && f[5]) snprintf(home, homelen, "%s", f[5]);
      found = 0;
      break;
    }
  }
  free(txt);
  return found;
}

static int lookup_group(const char *name, gid_t *gid) {
  char *txt = read_file("/etc/group", NULL);
  if (!txt) return -1;
  int found = -1;
  for (char *line = strtok(txt, "\n"); line; line = strtok(NULL, "\n")) {
    char *c1 = strchr(line, ':');
    if (!c1) continue;
    *c1 = 0;
    char *c2 = strchr(c1 + 1, ':');
    if (!c2) continue;
    if (strcmp(line, name) == 0) {
      *gid = (gid_t)strtoul(c2 + 1, NULL, 10);
      found = 0;
      break;
    }
  }
  free(txt);
  return found;
}

/* Switches to the user; returns 0 or an errno-like code. Runs in the child. */
static int become(const char *user, char *home, size_t homelen) {
  uid_t uid = 0;
  gid_t gid = 0;
  snprintf(home, homelen, "/root");
  if (!user || !*user) return 0;
  char u[256];
  snprintf(u, sizeof u, "%s", user);
  char *g = strchr(u, ':');
  if (g) *g++ = 0;
  int numeric = u[0] && strspn(u, "0123456789") == strlen(u);
  if (lookup_passwd(u, &uid, &gid, home, homelen) != 0) {
    if (!numeric) return ENOENT;
    uid = (uid_t)strtoul(u, NULL, 10);
    gid = 0;
    snprintf(home, homelen, "/");
  }
  if (g && *g) {
    if (strspn(g, "0123456789") == strlen(g)) gid = (gid_t)strtoul(g, NULL, 10);
    else if (lookup_group(g, &gid) != 0) return ENOENT;
  }
  if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) return errno;
  return 0;
}

/* ---- resource limits (--ulimit): the workload's and every exec session's ---- */

static struct spec *instance_spec; /* the instance's own config: its limits apply to exec sessions too */

static int rlimit_resource(const char *name) {
  static const struct { const char *n; int r; } map[] = {
    {"core", RLIMIT_CORE}, {"cpu", RLIMIT_CPU}, {"data", RLIMIT_DATA}, {"fsize", RLIMIT_FSIZE},
    {"locks", RLIMIT_LOCKS}, {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
    {"nofile", RLIMIT_NOFILE}, {"nproc", RLIMIT_NPROC}, {"rss", RLIMIT_RSS}, {"rtprio", RLIMIT_RTPRIO},
    {"rttime", RLIMIT_RTTIME}, {"sigpending", RLIMIT_SIGPENDING}, {"stack", RLIMIT_STACK}, {"as", RLIMIT_AS},
  };
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (strcmp(map[i].n, name) == 0) return map[i].r;
  return -1;
}

/* Runs in the child before exec: returns 0 or an errno. */
static int apply_limits(void) {
  if (!instance_spec) return 0;
  for (int i = 0; i < instance_spec->limitc; i++) {
    char name[32];
    long long soft, hard;
    if (sscanf(instance_spec->limits[i], "%31s %lld %lld", name, &soft, &hard) != 3) continue;
    int res = rlimit_resource(name);
    if (res < 0) continue;
    struct rlimit rl = {soft < 0 ? RLIM_INFINITY : (rlim_t)soft, hard < 0 ? RLIM_INFINITY : (rlim_t)hard};
    if (setrlimit(res, &rl) != 0) return errno;
  }
  return 0;
}

/* ---- spawning: the workload and exec sessions share this ---- */

static const char *envget(char **env, const char *key) {
  size_t kl = strlen(key);
  for (int i = 0; env[i]; i++)
    if (strncmp(env[i], key, kl) == 0 && env[i][kl] == '=') return env[i] + kl + 1;
  return NULL;
}

/* execvpe with PATH from the workload's env; returns errno as execvp would. */
static int exec_in_path(char **argv, char **env) {
  const char *file = argv[0];
  if (!file || !*file) return ENOENT;
  if (strchr(file, '/')) {
    execve(file, argv, env);
    return errno;
  }
  const char *path = envget(env, "PATH");
  if (!path) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  int saw_eacces = 0;
  char buf[4096];
  const char *p = path;
  for (;;) {
    const char *colon = strchr(p, ':');
    size_t dl = colon ? (size_t)(colon - p) : strlen(p);
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)dl, p, dl ? "/" : "", file);
    execve(buf, argv, env);
    if (errno == EACCES || errno == ENOEXEC || errno == EPERM) saw_eacces = errno;
    if (!colon) break;
    p = colon + 1;
  }
  return saw_eacces ? saw_eacces : ENOENT;
}

/* Exit status for a failed exec, as shells and Docker report it. */
static int exec_failure_code(int err) { return (err == ENOENT || err == ENOTDIR) ? 127 : 126; }

struct child {
  pid_t pid;
  int out, err, in; /* parent ends; -1 when closed */
  int failed;       /* errno of a failed exec, 0 when it ran */
};

static int spawn(struct spec *s, struct child *c, int with_stdin) {
  int po[2], pe[2], pi[2] = {-1, -1}, pf[2];
  if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC) || pipe2(pf, O_CLOEXEC)) return -1;
  if (with_stdin && pipe2(pi, O_CLOEXEC)) return -1;
  sigset_t all;
  sigemptyset(&all);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    sigprocmask(SIG_SETMASK, &all, NULL);
    setsid();
    int devnull = open("/dev/null", O_RDWR);
    dup2(with_stdin ? pi[0] : devnull, 0);
    dup2(po[1], 1);
    dup2(pe[1], 2);
    char home[512];
    int err = 0;
    struct stat st;
    if (stat(s->workdir, &st) != 0) {
      /* runc creates a missing working directory; do the same */
      char tmp[4096];
      snprintf(tmp, sizeof tmp, "%s", s->workdir);
      for (char *q = tmp + 1; *q; q++)
        if (*q == '/') { *q = 0; mkdir(tmp, 0755); *q = '/'; }
      mkdir(tmp, 0755);
    }
    if (chdir(s->workdir) != 0) err = errno;
    if (!err) err = apply_limits();
    if (!err) err = become(s->user, home, sizeof home);
    if (!err) {
      char *env[MAXREC + 2];
      int n = 0;
      for (int i = 0; s->env[i] && n < MAXREC; i++) env[n++] = s->env[i];
      char homevar[600];
      if (!envget(s->env, "HOME")) {
        snprintf(homevar, sizeof homevar, "HOME=%s", home);
        env[n++] = homevar;
      }
      env[n] = NULL;
      err = exec_in_path(s->argv, env);
    }
    if (write(pf[1], &err, sizeof err) < 0) _exit(127);
    _exit(exec_failure_code(err));
  }
  close(po[1]);
  close(pe[1]);
  close(pf[1]);
  if (with_stdin) close(pi[0]);
  int err = 0;
  ssize_t r;
  do r = read(pf[0], &err, sizeof err);
  while (r < 0 && errno == EINTR);
  close(pf[0]);
  c->pid = pid;
  c->out = po[0];
  c->err = pe[0];
  c->in = with_stdin ? pi[1] : -1;
  c->failed = r == (ssize_t)sizeof err ? err : 0;
  fcntl(c->out, F_SETFL, O_NONBLOCK);
  fcntl(c->err, F_SETFL, O_NONBLOCK);
  return 0;
}

/* ---- ports ---- */

static int open_port(const char *name, int flags) {
  DIR *d = opendir("/sys/class/virtio-ports");
  if (!d) return -1;
  struct dirent *e;
  int fd = -1;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char p[300];
    snprintf(p, sizeof p, "/sys/class/virtio-ports/%s/name", e->d_name);
    char *n = read_file(p, NULL);
    if (!n) continue;
    n[strcspn(n, "\n")] = 0;
    if (strcmp(n, name) == 0) {
      snprintf(p, sizeof p, "/dev/%s", e->d_name);
      fd = open(p, flags | O_CLOEXEC);
    }
    free(n);
    if (fd >= 0) break;
  }
  closedir(d);
  return fd;
}

static int logfd = -1, statusfd = -1;

static void status(const char *fmt, ...) {
  char buf[600];
  va_list ap;
  va_start(ap, fmt);
  int n = format_line(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (statusfd >= 0) write_all(statusfd, buf, (size_t)n);
}

/* Writes data as CRI log lines: complete lines as F, a trailing fragment as P. */
static void log_chunk(const char *stream, const char *data, size_t n) {
  if (logfd < 0) return;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char head[96];
  int hl = snprintf(head, sizeof head, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ %s ", tm.tm_year + 1900, tm.tm_mon + 1,
                    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec, stream);
  const char *p = data, *end = data + n;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
    char *rec = malloc((size_t)hl + l + 4);
    memcpy(rec, head, (size_t)hl);
    rec[hl] = nl ? 'F' : 'P';
    rec[hl + 1] = ' ';
    memcpy(rec + hl + 2, p, l);
    rec[hl + 2 + l] = '\n';
    write_all(logfd, rec, (size_t)hl + l + 3);
    free(rec);
    p += l + (nl ? 1 : 0);
  }
}

/* ---- framed channels (agent and ctl) ---- */

struct chan {
  const char *name;
  int fd;
  int connected;
  char *buf;
  size_t len, cap;
  struct child exec; /* agent only: the running exec session */
  int busy;
};

/*
 * Channel ports are non-blocking: a port whose host side has gone (the isola process ended or
 * timed out) would otherwise block init on its next reply. Wait up to a second for room, then
 * drop the session.
 */
static int chan_write(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = write(fd, c, n);
    if (w > 0) {
      c += w;
      n -= (size_t)w;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno != EAGAIN) return -1;
    struct pollfd q = {fd, POLLOUT, 0};
    if (poll(&q, 1, 1000) <= 0 || (q.revents & (POLLHUP | POLLERR))) return -1;
  }
  return 0;
}

static void send_frame(struct chan *ch, char type, const void *p, size_t n) {
  if (!ch->connected) return;
  unsigned char h[5] = {(unsigned char)type, (unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n};
  if (chan_write(ch->fd, h, 5) < 0 || chan_write(ch->fd, p, n) < 0) ch->connected = 0;
}

static void send_str(struct chan *ch, char type, const char *s) { send_frame(ch, type, s, strlen(s)); }

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* Ends the exec session of a host client that went away (its process group is killed). */
static void end_exec(struct chan *ch) {
  if (ch->busy && ch->exec.pid > 0) kill(-ch->exec.pid, SIGKILL);
  close_fd(&ch->exec.out);
  close_fd(&ch->exec.err);
  close_fd(&ch->exec.in);
  ch->busy = 0;
}

static void end_session(struct chan *ch) {
  end_exec(ch);
  ch->len = 0;
}

static void append_file(char **out, size_t *len, const char *title, const char *path) {
  size_t n = 0;
  char *f = read_file(path, &n);
  size_t tl = strlen(title);
  *out = realloc(*out, *len + tl + n + 16);
  *len += (size_t)sprintf(*out + *len, "== %s ==\n", title);
  if (f) {
    memcpy(*out + *len, f, n);
    *len += n;
    free(f);
  }
}

/* Processes other than init and kernel threads (children of kthreadd, pid 2). */
static int count_user_processes(void) {
  DIR *d = opendir("/proc");
  if (!d) return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    int pid = atoi(e->d_name);
    if (pid <= 2) continue;
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/stat", pid);
    char *st = read_file(p, NULL);
    if (!st) continue;
    char *rp = strrchr(st, ')');
    int ppid = 0;
    if (rp) sscanf(rp + 2, "%*c %d", &ppid);
    if (ppid != 2) n++;
    free(st);
  }
  closedir(d);
  return n;
}

/*
 * The process list for `isola top`: a first line "uptime SECONDS", then one line per process
 * other than kernel threads: pid, ppid, uid, CPU ticks, start (ticks after boot), cgroup,
 * command line, tab separated.
 */
static void process_list(char **out, size_t *len) {
  size_t cap = 65536;
  *out = malloc(cap);
  *len = (size_t)snprintf(*out, cap, "uptime %.2f\n", uptime());
  DIR *d = opendir("/proc");
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    int pid = atoi(e->d_name);
    if (pid <= 0 || pid == 2) continue;
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/stat", pid);
    char *st = read_file(p, NULL);
    if (!st) continue;
    char *rp = strrchr(st, ')');
    int ppid = 0;
    unsigned long long ut = 0, stt = 0, start = 0;
    if (rp) sscanf(rp + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu", &ppid, &ut, &stt, &start);
    free(st);
    if (ppid == 2) continue;
    snprintf(p, sizeof p, "/proc/%d/status", pid);
    char *status_txt = read_file(p, NULL);
    unsigned uid = 0;
    char *u = status_txt ? strstr(status_txt, "\nUid:") : NULL;
    if (u) sscanf(u + 5, "%u", &uid);
    free(status_txt);
    snprintf(p, sizeof p, "/proc/%d/cgroup", pid);
    char *cg = read_file(p, NULL);
    char cgroup[256] = "";
    if (cg) {
      char *last = strrchr(cg, ':');
      if (last) snprintf(cgroup, sizeof cgroup, "%.*s", (int)strcspn(last + 1, "\n"), last + 1);
      free(cg);
    }
    size_t cl = 0;
    snprintf(p, sizeof p, "/proc/%d/cmdline", pid);
    char *cmd = read_file(p, &cl);
    if (!cmd) continue;
    for (size_t i = 0; i < cl; i++) if (cmd[i] == 0 || cmd[i] == '\t' || cmd[i] == '\n') cmd[i] = ' ';
    while (cl > 0 && cmd[cl - 1] == ' ') cmd[--cl] = 0;
    if (*len + cl + 400 > cap) *out = realloc(*out, cap = cap * 2 + cl + 400);
    *len += (size_t)snprintf(*out + *len, cap - *len, "%d\t%d\t%u\t%llu\t%llu\t%s\t%s\n", pid, ppid, uid, ut + stt, start, cgroup, cmd);
    free(cmd);
  }
  closedir(d);
}

static pid_t workload = -1;
static int workload_done = 0, workload_code = 0;
static int shutdown_requested = 0;

static void handle_frame(struct chan *ch, char type, char *p, size_t n) {
  if (type == 'N') {
    /* A new host client: whatever the previous one left running is over. The ack carries the
       client's nonce, so the client can skip frames of an earlier session still in flight. */
    end_exec(ch);
    send_frame(ch, 'n', p, n);
  } else if (type == 'E' && !ch->busy) { /* exec request */
    struct spec s;
    parse_records(p, n, &s);
    if (s.argc == 0) {
      send_str(ch, 'E', "isola-init: exec: empty command\n");
      send_str(ch, 'X', "126");
      return;
    }
    if (spawn(&s, &ch->exec, 1) != 0) {
      send_str(ch, 'E', "isola-init: exec: cannot start a process\n");
      send_str(ch, 'X', "126");
      return;
    }
    if (ch->exec.failed) {
      /* 'F': the command never ran ("127 message" or "126 message"), unlike 'X' (it ran and exited) */
      char msg[600];
      snprintf(msg, sizeof msg, "%d %s: %s", exec_failure_code(ch->exec.failed), s.argv[0], strerror(ch->exec.failed));
      waitpid(ch->exec.pid, NULL, 0);
      close_fd(&ch->exec.out);
      close_fd(&ch->exec.err);
      close_fd(&ch->exec.in);
      send_str(ch, 'F', msg);
      return;
    }
    ch->busy = 1;
  } else if (type == 'I' && ch->busy && ch->exec.in >= 0) {
    if (write_all(ch->exec.in, p, n) < 0) close_fd(&ch->exec.in);
  } else if (type == 'C' && ch->busy) {
    close_fd(&ch->exec.in);
  } else if (type == 'K') { /* signal: to the exec session on the agent channel, else to the workload */
    char num[16] = {0};
    memcpy(num, p, n < 15 ? n : 15);
    int sig = atoi(num);
    pid_t target = ch->busy ? ch->exec.pid : workload;
    int r = (target > 0 && !workload_done) || ch->busy ? kill(target, sig) : -1;
    send_str(ch, 'R', r == 0 ? "ok" : "no process");
  } else if (type == 'S') { /* stats */
    char *out = NULL;
    size_t len = 0;
    append_file(&out, &len, "meminfo", "/proc/meminfo");
    append_file(&out, &len, "stat", "/proc/stat");
    append_file(&out, &len, "netdev", "/proc/net/dev");
    append_file(&out, &len, "loadavg", "/proc/loadavg");
    out = realloc(out, len + 64);
    len += (size_t)sprintf(out + len, "== pids ==\n%d\n", count_user_processes());
    send_frame(ch, 'S', out, len);
    free(out);
  } else if (type == 'H') { /* clean shutdown */
    send_str(ch, 'R', "ok");
    shutdown_requested = 1;
  } else if (type == 'T') { /* process list (isola top) */
    char *out = NULL;
    size_t len = 0;
    process_list(&out, &len);
    send_frame(ch, 'T', out, len);
    free(out);
  } else if (type == 'P') { /* ping: readiness check */
    send_str(ch, 'R', "pong");
  }
}

static void chan_read(struct chan *ch) {
  if (ch->cap - ch->len < 65536) ch->buf = realloc(ch->buf, ch->cap = ch->cap * 2 + 65536);
  ssize_t r = read(ch->fd, ch->buf + ch->len, ch->cap - ch->len);
  if (r <= 0) {
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) return;
    ch->connected = 0;
    end_session(ch);
    return;
  }
  ch->len += (size_t)r;
  size_t off = 0;
  while (ch->len - off >= 5) {
    unsigned char *h = (unsigned char *)ch->buf + off;
    size_t n = ((size_t)h[1] << 24) | ((size_t)h[2] << 16) | ((size_t)h[3] << 8) | h[4];
    if (ch->len - off - 5 < n) break;
    handle_frame(ch, (char)h[0], ch->buf + off + 5, n);
    off += 5 + n;
  }
  memmove(ch->buf, ch->buf + off, ch->len - off);
  ch->len -= off;
}

/* Forwards what an exec session wrote; returns 1 when it read something. */
static int pump_exec(struct chan *ch, int *fd, char type) {
  char b[16384];
  ssize_t r = read(*fd, b, sizeof b);
  if (r > 0) send_frame(ch, type, b, (size_t)r);
  else if (r == 0 || (errno != EAGAIN && errno != EINTR)) close_fd(fd);
  return r > 0;
}

/* After the session's process ended: forward what is left, then let go of the pipe. */
static void drain_exec(struct chan *ch, int *fd, char type) {
  while (*fd >= 0 && pump_exec(ch, fd, type)) {}
  close_fd(fd);
}

/* ---- network ---- */

static void net_up(const struct spec *s) {
  int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sk < 0) return;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(sk, SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags |= IFF_UP;
    ioctl(sk, SIOCSIFFLAGS, &ifr);
  }
  if (!s->ip || !*s->ip) { close(sk); return; }
  char ip[64];
  snprintf(ip, sizeof ip, "%s", s->ip);
  int prefix = 24;
  char *slash = strchr(ip, '/');
  if (slash) { *slash = 0; prefix = atoi(slash + 1); }
  struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "eth0");
  sin->sin_family = AF_INET;
  inet_pton(AF_INET, ip, &sin->sin_addr);
  if (ioctl(sk, SIOCSIFADDR, &ifr) != 0) { say("eth0: cannot set address %s (%s)", ip, strerror(errno)); close(sk); return; }
  sin->sin_addr.s_addr = prefix ? htonl(~0u << (32 - prefix)) : 0;
  ioctl(sk, SIOCSIFNETMASK, &ifr);
  ioctl(sk, SIOCGIFFLAGS, &ifr);
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  ioctl(sk, SIOCSIFFLAGS, &ifr);
  if (s->gw && *s->gw) {
    struct rtentry rt;
    memset(&rt, 0, sizeof rt);
    struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst, *gw = (struct sockaddr_in *)&rt.rt_gateway,
                       *mask = (struct sockaddr_in *)&rt.rt_genmask;
    dst->sin_family = gw->sin_family = mask->sin_family = AF_INET;
    inet_pton(AF_INET, s->gw, &gw->sin_addr);
    rt.rt_flags = RTF_UP | RTF_GATEWAY;
    rt.rt_dev = "eth0";
    if (ioctl(sk, SIOCADDRT, &rt) != 0) say("eth0: cannot add default route via %s (%s)", s->gw, strerror(errno));
  }
  close(sk);
  say("eth0 %s/%d gateway %s", ip, prefix, s->gw ? s->gw : "none");
}

/* ---- boot ---- */

static void load_modules(void) {
  char *list = read_file("/isola/modules", NULL);
  if (!list) return;
  for (char *m = strtok(list, "\n"); m; m = strtok(NULL, "\n")) {
    char p[300];
    snprintf(p, sizeof p, "/lib/modules/isola/%s", m);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { say("module %s: %s", m, strerror(errno)); continue; }
    if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST) say("module %s: %s", m, strerror(errno));
    close(fd);
  }
  free(list);
}

static int wait_for(int (*check)(void), int ms) {
  for (int i = 0; i < ms; i += 5) {
    if (check()) return 1;
    usleep(5000);
  }
  return check();
}

static int have_vda(void) { return access("/dev/vda", F_OK) == 0; }

static int ports_named(void) {
  int fd = open_port("isola.status", O_WRONLY);
  if (fd < 0) return 0;
  close(fd);
  return 1;
}

static void switch_root(const char *dir) {
  const char *moves[] = {"/dev", "/proc", "/sys"};
  for (int i = 0; i < 3; i++) {
    char t[64];
    snprintf(t, sizeof t, "%s%s", dir, moves[i]);
    mkdir(t, 0755);
    if (mount(moves[i], t, NULL, MS_MOVE, NULL) != 0) die("moving a mount into the root disk");
  }
  if (chdir(dir) != 0 || mount(".", "/", NULL, MS_MOVE, NULL) != 0 || chroot(".") != 0 || chdir("/") != 0) die("switching root");
}

int main(void) {
  mount("proc", "/proc", "proc", 0, NULL);
  mount("sysfs", "/sys", "sysfs", 0, NULL);
  mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
  int cfd = open("/dev/console", O_WRONLY | O_CLOEXEC);
  if (cfd >= 0) con = cfd;

  char *cmdline = read_file("/proc/cmdline", NULL);
  if (cmdline && strstr(cmdline, "isola.probe=1")) {
    /* accelerator probe: reaching userspace is all that is asked */
    write_all(con, "ISOLA-PROBE-OK\n", 15);
    reboot(RB_POWER_OFF);
  }
  say("userspace at %.3f s", uptime());

  size_t clen = 0;
  char *cfg = read_file("/isola/config", &clen);
  if (!cfg) die("no /isola/config in the initramfs");
  static struct spec s;
  parse_records(cfg, clen, &s);
  instance_spec = &s;

  load_modules();
  if (!wait_for(ports_named, 3000)) say("virtio-serial ports did not appear");
  logfd = open_port("isola.log", O_WRONLY);
  statusfd = open_port("isola.status", O_WRONLY);
  struct chan chans[2] = {{.name = "isola.agent"}, {.name = "isola.ctl"}};
  for (int i = 0; i < 2; i++) {
    chans[i].fd = open_port(chans[i].name, O_RDWR | O_NONBLOCK);
    chans[i].exec.out = chans[i].exec.err = chans[i].exec.in = -1;
  }

  if (!wait_for(have_vda, 5000)) {
    status("error 125 the root disk /dev/vda did not appear");
    die("no root disk");
  }
  mkdir("/newroot", 0755);
  if (mount("/dev/vda", "/newroot", "ext4", s.readonly ? MS_RDONLY : 0, NULL) != 0) {
    status("error 125 cannot mount the root disk: %s", strerror(errno));
    die("mounting /dev/vda");
  }
  switch_root("/newroot");
  mkdir("/dev/pts", 0755);
  mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
  mkdir("/dev/shm", 01777);
  mount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  symlink("/proc/self/fd", "/dev/fd");
  if (s.hostname && *s.hostname) sethostname(s.hostname, strlen(s.hostname));
  net_up(&s);

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  signal(SIGPIPE, SIG_IGN);

  struct child wl = {.out = -1, .err = -1, .in = -1};
  if (s.argc == 0) {
    status("error 126 no command given");
    poweroff();
  }
  if (spawn(&s, &wl, 0) != 0) {
    status("error 125 cannot start a process: %s", strerror(errno));
    poweroff();
  }
  if (wl.failed) {
    int code = exec_failure_code(wl.failed);
    char msg[600];
    int n = snprintf(msg, sizeof msg, "isola: %s: %s\n", s.argv[0], code == 127 ? "command not found" : strerror(wl.failed));
    log_chunk("stderr", msg, (size_t)n);
    say("exec %s failed: %s", s.argv[0], strerror(wl.failed));
    waitpid(wl.pid, NULL, 0);
    status("error %d %s: %s", code, s.argv[0], strerror(wl.failed));
    poweroff();
  }
  workload = wl.pid;
  status("started %d %.3f", wl.pid, uptime());
  say("workload started at %.3f s", uptime());

  double done_at = 0;
  for (;;) {
    struct pollfd pf[16];
    int n = 0, idx_sfd, idx_out = -1, idx_err = -1, idx_ch[2] = {-1, -1}, idx_eo[2] = {-1, -1}, idx_ee[2] = {-1, -1};
    pf[idx_sfd = n++] = (struct pollfd){sfd, POLLIN, 0};
    if (wl.out >= 0) pf[idx_out = n++] = (struct pollfd){wl.out, POLLIN, 0};
    if (wl.err >= 0) pf[idx_err = n++] = (struct pollfd){wl.err, POLLIN, 0};
    int waiting_for_host = 0;
    for (int i = 0; i < 2; i++) {
      struct chan *ch = &chans[i];
      if (ch->fd < 0) continue;
      if (ch->connected) pf[idx_ch[i] = n++] = (struct pollfd){ch->fd, POLLIN, 0};
      else waiting_for_host = 1;
      if (ch->busy && ch->exec.out >= 0) pf[idx_eo[i] = n++] = (struct pollfd){ch->exec.out, POLLIN, 0};
      if (ch->busy && ch->exec.err >= 0) pf[idx_ee[i] = n++] = (struct pollfd){ch->exec.err, POLLIN, 0};
    }
    /* A port whose host side is closed polls as POLLHUP at once: look again every 20 ms. */
    int timeout = waiting_for_host ? 20 : -1;
    if (workload_done) timeout = 10;
    int r = poll(pf, (nfds_t)n, timeout);
    if (r < 0 && errno != EINTR) die("poll");

    for (int i = 0; i < 2; i++) {
      struct chan *ch = &chans[i];
      if (ch->fd < 0) continue;
      if (!ch->connected) {
        struct pollfd q = {ch->fd, POLLIN, 0};
        if (poll(&q, 1, 0) >= 0 && !(q.revents & POLLHUP)) ch->connected = 1;
        if (ch->connected && (q.revents & POLLIN)) chan_read(ch);
        continue;
      }
      if (idx_ch[i] >= 0 && pf[idx_ch[i]].revents & POLLIN) chan_read(ch);
      else if (idx_ch[i] >= 0 && pf[idx_ch[i]].revents & (POLLHUP | POLLERR)) {
        ch->connected = 0;
        end_session(ch);
      }
      if (idx_eo[i] >= 0 && pf[idx_eo[i]].revents) pump_exec(ch, &ch->exec.out, 'O');
      if (idx_ee[i] >= 0 && pf[idx_ee[i]].revents) pump_exec(ch, &ch->exec.err, 'E');
    }
    char b[16384];
    if (idx_out >= 0 && pf[idx_out].revents) {
      ssize_t k = read(wl.out, b, sizeof b);
      if (k > 0) log_chunk("stdout", b, (size_t)k);
      else if (k == 0 || errno != EAGAIN) close_fd(&wl.out);
    }
    if (idx_err >= 0 && pf[idx_err].revents) {
      ssize_t k = read(wl.err, b, sizeof b);
      if (k > 0) log_chunk("stderr", b, (size_t)k);
      else if (k == 0 || errno != EAGAIN) close_fd(&wl.err);
    }
    if (pf[idx_sfd].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) > 0) {}
      int st;
      pid_t p;
      while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (p == wl.pid) {
          workload_done = 1;
          workload_code = code;
          done_at = uptime();
        }
        for (int i = 0; i < 2; i++) {
          struct chan *ch = &chans[i];
          if (ch->busy && p == ch->exec.pid) {
            /* drain what the session wrote before it ended */
            drain_exec(ch, &ch->exec.out, 'O');
            drain_exec(ch, &ch->exec.err, 'E');
            char num[16];
            snprintf(num, sizeof num, "%d", code);
            send_str(ch, 'X', num);
            close_fd(&ch->exec.in);
            ch->busy = 0;
          }
        }
      }
    }
    if (shutdown_requested && !workload_done) {
      kill(wl.pid, SIGTERM);
      shutdown_requested = 0;
    }
    /* The workload ended: give its pipes a moment to drain (children of it may hold them open). */
    if (workload_done && ((wl.out < 0 && wl.err < 0) || uptime() - done_at > 0.2)) break;
  }
  status("exit %d", workload_code);
  say("workload exited with %d", workload_code);
  kill(-1, SIGTERM);
  usleep(50000);
  kill(-1, SIGKILL);
  poweroff();
  return 0;
}

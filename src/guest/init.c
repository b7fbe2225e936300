/*
 * isola guest init and agent: PID 1 of every isola VM.
 *
 * Boot: mount /proc /sys /dev, load the virtio modules listed in /isola/modules (dependency
 * order, written by setup.ts), mount /dev/vda (ext4) and switch root into it, configure each NIC
 * (found by its MAC, renamed eth0, eth1, ...; the default route through the first), mount the
 * shared folders (virtiofs, by tag) and tmpfs mounts the config lists, parents first, put the
 * instance's /etc/hostname, /etc/hosts and /etc/resolv.conf in /dev/.isola and bind-mount them
 * over the image's, then run the workload described in /isola/config (a cpio appended per
 * instance; on a whole disk, the fw_cfg file read over the disk's own config), with the
 * --ulimit values (records l) set by setrlimit on it and on every exec session.
 *
 * Host channels are virtio-serial ports, found by name under /sys/class/virtio-ports:
 *   isola.log     workload stdout/stderr as CRI log lines ("TIME stdout F text"), never kernel text
 *   isola.status  "started PID", "error CODE message", "exit CODE": the host reads it as a file
 *   isola.agent   framed requests: exec (with separate stdout/stderr and an exit status, or on a
 *                 pseudo-terminal of its own); isola.agent1 and isola.agent2 are the same, so that
 *                 three exec sessions run at once (one host client per port)
 *   isola.ctl     framed requests: stats, signals, shutdown, new /etc files, the process list (never
 *                 blocked by a running exec)
 *   isola.tty     the workload's own streams for an attached client: its output from now on, its
 *                 stdin (when kept open), its terminal's size (with a tty)
 * With a tty the workload runs on a pseudo-terminal init allocates; without one, on pipes. The
 * kernel command line's isola.attach=1 (a foreground run) makes init hold the workload's output
 * until the first client attached, so nothing is missed; isola.tty=ROWSxCOLS sizes the terminal.
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
#define MAXIF 8
#define ETC_DIR "/dev/.isola"

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

/*
 * isola.disposable=1 on the command line: the root disk is thrown away when the VM ends (run
 * --rm), so nothing needs to reach it. Each sync and the read-only remount is a flush the host
 * turns into an fsync of the disk file: about 40 ms of every run --rm here.
 */
static int disposable = 0;

static void poweroff(void) {
  if (!disposable) {
    sync();
    mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL);
    sync();
  }
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

#define MAXMOUNTS 64
enum { STDIN_CLOSED, STDIN_OPEN, STDIN_ONCE };

struct spec {
  char *argv[MAXREC];
  char *env[MAXREC];
  char *limits[64]; /* "name soft hard" (--ulimit; -1 is unlimited) */
  int argc, envc, limitc;
  const char *workdir, *user, *hostname, *ip, *gw;
  int readonly;
  /* 'v' virtiofs shares ("TAG\tRO\tTARGET") and 't' tmpfs ("SIZE\tMODE\tRO\tNOEXEC\tTARGET"), in mount order */
  char *mounts[MAXMOUNTS];
  char mount_kind[MAXMOUNTS];
  int nmounts;
  /* exec only: 'B' run one of init's own programs (argv[0] names it) instead of a file, so
     isola cp works whatever the image holds; 'R' chroot there first (the hybrid's container root) */
  int builtin;
  const char *root;
  int tty;        /* run on a pseudo-terminal */
  int stdin_mode; /* the workload's stdin: closed (/dev/null), open, or open until a client's end */
  int rows, cols; /* the terminal's size, 0 when unknown */
  char *ifs[MAXIF]; /* "MAC NAME ADDRESS/PREFIX" */
  int nifs;
  const char *hosts, *resolv; /* the guest's /etc files, NULL when not given */
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
      case 'v':
      case 't':
        if (s->nmounts < MAXMOUNTS) { s->mount_kind[s->nmounts] = tag; s->mounts[s->nmounts++] = v; }
        break;
      case 'B': s->builtin = (*v == '1'); break;
      case 'R': s->root = v; break;
      case 'y': s->tty = (*v == '1'); break;
      case 's': s->stdin_mode = strcmp(v, "once") == 0 ? STDIN_ONCE : strcmp(v, "open") == 0 ? STDIN_OPEN : STDIN_CLOSED; break;
      case 'z': if (sscanf(v, "%d %d", &s->rows, &s->cols) != 2) s->rows = s->cols = 0; break;
      case 'n': if (s->nifs < MAXIF) s->ifs[s->nifs++] = v; break;
      case 'H': s->hosts = v; break;
      case 'D': s->resolv = v; break;
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

/* ---- isola cp: a tar writer and reader of init's own (ustar with pax records), run as exec
   builtins: "tar-c PATH FOLLOW" writes PATH (its last name the top entry) to stdout,
   "tar-x DIR" reads a tar on stdin into the folder DIR, "stat PATH FOLLOW" prints its type. ---- */

static int out_all(const void *p, size_t n) { return write_all(1, p, n); }

/* A zero-padded octal number ending in NUL, filling the field. */
static void oct(char *field, size_t len, unsigned long long v) {
  field[len - 1] = 0;
  for (size_t i = len - 1; i-- > 0; v >>= 3) field[i] = (char)('0' + (v & 7));
}

static void pax_add(char **buf, size_t *len, const char *key, const char *val) {
  size_t body = strlen(key) + strlen(val) + 3; /* " key=val\n" less the length digits */
  size_t total = body + 1, digits = 1;
  for (;;) {
    char tmp[32];
    digits = (size_t)snprintf(tmp, sizeof tmp, "%zu", total);
    if (body + digits == total) break;
    total = body + digits;
  }
  *buf = realloc(*buf, *len + total + 1);
  *len += (size_t)sprintf(*buf + *len, "%zu %s=%s\n", total, key, val);
}

static int tar_header(const char *name, const struct stat *st, char type, const char *link, unsigned long long size) {
  char *pax = NULL;
  size_t paxlen = 0;
  if (strlen(name) > 99) pax_add(&pax, &paxlen, "path", name);
  if (link && strlen(link) > 99) pax_add(&pax, &paxlen, "linkpath", link);
  if (size > 077777777777ULL) { char v[32]; snprintf(v, sizeof v, "%llu", size); pax_add(&pax, &paxlen, "size", v); }
  if (st->st_uid > 07777777) { char v[32]; snprintf(v, sizeof v, "%u", st->st_uid); pax_add(&pax, &paxlen, "uid", v); }
  if (st->st_gid > 07777777) { char v[32]; snprintf(v, sizeof v, "%u", st->st_gid); pax_add(&pax, &paxlen, "gid", v); }
  if (pax) {
    struct stat pst = *st;
    pst.st_uid = 0;
    pst.st_gid = 0;
    pst.st_mode = 0644;
    int r = tar_header("PaxHeader", &pst, 'x', NULL, paxlen);
    if (r == 0) r = out_all(pax, paxlen);
    static const char zero[512];
    if (r == 0 && paxlen % 512) r = out_all(zero, 512 - paxlen % 512);
    free(pax);
    if (r) return r;
  }
  char h[512];
  memset(h, 0, sizeof h);
  snprintf(h, 100, "%s", name);
  oct(h + 100, 8, st->st_mode & 07777);
  oct(h + 108, 8, st->st_uid > 07777777 ? 0 : st->st_uid);
  oct(h + 116, 8, st->st_gid > 07777777 ? 0 : st->st_gid);
  oct(h + 124, 12, size > 077777777777ULL ? 0 : size);
  oct(h + 136, 12, (unsigned long long)(st->st_mtime > 0 ? st->st_mtime : 0));
  h[156] = type;
  if (link) snprintf(h + 157, 100, "%s", link);
  memcpy(h + 257, "ustar", 6);
  memcpy(h + 263, "00", 2);
  if (type == '3' || type == '4') {
    oct(h + 329, 8, major(st->st_rdev));
    oct(h + 337, 8, minor(st->st_rdev));
  }
  memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (int i = 0; i < 512; i++) sum += (unsigned char)h[i];
  snprintf(h + 148, 8, "%06o", sum);
  h[155] = ' ';
  return out_all(h, 512);
}

struct seen { dev_t dev; ino_t ino; char *name; };
static struct seen *seen_links;
static size_t nseen;

/* Writes one entry (and a folder's contents): `fs` is its path here, `name` its name in the archive. */
static int tar_entry(const char *fs, const char *name, int follow) {
  struct stat st;
  if ((follow ? stat(fs, &st) : lstat(fs, &st)) != 0) {
    fprintf(stderr, "isola-tar: %s: %s\n", fs, strerror(errno));
    return 1;
  }
  if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
    for (size_t i = 0; i < nseen; i++)
      if (seen_links[i].dev == st.st_dev && seen_links[i].ino == st.st_ino) return tar_header(name, &st, '1', seen_links[i].name, 0);
    seen_links = realloc(seen_links, (nseen + 1) * sizeof *seen_links);
    seen_links[nseen++] = (struct seen){st.st_dev, st.st_ino, strdup(name)};
  }
  if (S_ISDIR(st.st_mode)) {
    char dname[4200];
    snprintf(dname, sizeof dname, "%s/", name);
    if (tar_header(dname, &st, '5', NULL, 0)) return 1;
    DIR *d = opendir(fs);
    if (!d) { fprintf(stderr, "isola-tar: %s: %s\n", fs, strerror(errno)); return 1; }
    struct dirent *e;
    int r = 0;
    while (!r && (e = readdir(d))) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      char cfs[4200], cname[4200];
      if (snprintf(cfs, sizeof cfs, "%s/%s", fs, e->d_name) >= (int)sizeof cfs || snprintf(cname, sizeof cname, "%s/%s", name, e->d_name) >= (int)sizeof cname) {
        fprintf(stderr, "isola-tar: %s/%s: path too long\n", fs, e->d_name);
        r = 1;
        break;
      }
      r = tar_entry(cfs, cname, 0);
    }
    closedir(d);
    return r;
  }
  if (S_ISLNK(st.st_mode)) {
    char target[4097];
    ssize_t n = readlink(fs, target, sizeof target - 1);
    if (n < 0) { fprintf(stderr, "isola-tar: %s: %s\n", fs, strerror(errno)); return 1; }
    target[n] = 0;
    return tar_header(name, &st, '2', target, 0);
  }
  if (S_ISCHR(st.st_mode)) return tar_header(name, &st, '3', NULL, 0);
  if (S_ISBLK(st.st_mode)) return tar_header(name, &st, '4', NULL, 0);
  if (S_ISFIFO(st.st_mode)) return tar_header(name, &st, '6', NULL, 0);
  if (!S_ISREG(st.st_mode)) return 0; /* sockets: as tar, skipped */
  int fd = open(fs, O_RDONLY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
  if (fd < 0) { fprintf(stderr, "isola-tar: %s: %s\n", fs, strerror(errno)); return 1; }
  if (tar_header(name, &st, '0', NULL, (unsigned long long)st.st_size)) { close(fd); return 1; }
  static char buf[65536];
  unsigned long long left = (unsigned long long)st.st_size;
  while (left > 0) {
    ssize_t r = read(fd, buf, left < sizeof buf ? left : sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) memset(buf, 0, sizeof buf), r = (ssize_t)(left < sizeof buf ? left : sizeof buf); /* it shrank: pad with zeros */
    if (out_all(buf, (size_t)r)) { close(fd); return 1; }
    left -= (unsigned long long)r;
  }
  close(fd);
  static const char zero[512];
  if (st.st_size % 512 && out_all(zero, 512 - (size_t)(st.st_size % 512))) return 1;
  return 0;
}

static int tar_create(const char *path, int follow) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  if (!*base || !strcmp(base, ".")) base = ".";
  int r = tar_entry(path, base, follow);
  static const char zero[1024];
  if (!r) r = out_all(zero, sizeof zero);
  return r ? 1 : 0;
}

static int in_exact(void *p, size_t n) {
  char *c = p;
  while (n > 0) {
    ssize_t r = read(0, c, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    c += r;
    n -= (size_t)r;
  }
  return 0;
}

static unsigned long long from_oct(const char *f, size_t len) {
  unsigned long long v = 0;
  size_t i = 0;
  if ((unsigned char)f[0] & 0x80) { /* base-256 */
    for (i = 1; i < len; i++) v = (v << 8) | (unsigned char)f[i];
    return v;
  }
  while (i < len && (f[i] == ' ' || f[i] == 0)) i++;
  for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) v = v * 8 + (unsigned long long)(f[i] - '0');
  return v;
}

/* A relative path without "..": the archive names things inside the folder it is read into. */
static int clean_name(char *n) {
  for (;;) {
    if (*n == '/') memmove(n, n + 1, strlen(n));
    else if (n[0] == '.' && n[1] == '/') memmove(n, n + 2, strlen(n + 1));
    else break;
  }
  if (!strcmp(n, ".")) *n = 0;
  size_t l = strlen(n);
  while (l > 0 && n[l - 1] == '/') n[--l] = 0;
  for (char *c = n; *c; ) {
    char *slash = strchr(c, '/');
    size_t cl = slash ? (size_t)(slash - c) : strlen(c);
    if (cl == 2 && c[0] == '.' && c[1] == '.') return -1;
    if (!slash) break;
    c = slash + 1;
  }
  return 0;
}

static void skip_bytes(unsigned long long n) {
  static char buf[65536];
  while (n > 0) {
    size_t k = n < sizeof buf ? (size_t)n : sizeof buf;
    if (in_exact(buf, k)) return;
    n -= k;
  }
}

struct dirtime { char *name; time_t mtime; };

/* owner_uid >= 0: every entry gets that owner instead of the archive's (docker cp without -a). */
static long owner_uid = -1, owner_gid = -1;

static int tar_extract(const char *dir) {
  if (chdir(dir) != 0) { fprintf(stderr, "isola-tar: %s: %s\n", dir, strerror(errno)); return 1; }
  char h[512];
  char *pax_path = NULL, *pax_link = NULL, *long_name = NULL, *long_link = NULL;
  long long pax_size = -1, pax_uid = -1, pax_gid = -1;
  struct dirtime *dirs = NULL;
  size_t ndirs = 0;
  int rc = 0, zeros = 0;
  while (!rc) {
    if (in_exact(h, 512)) break; /* the end (a tar may omit its two zero blocks) */
    int empty = 1;
    for (int i = 0; i < 512; i++) if (h[i]) { empty = 0; break; }
    if (empty) { if (++zeros == 2) break; continue; }
    zeros = 0;
    char type = h[156] ? h[156] : '0';
    unsigned long long size = from_oct(h + 124, 12);
    if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
      if (size > 16 * 1024 * 1024) { fprintf(stderr, "isola-tar: a metadata entry of %llu bytes\n", size); rc = 1; break; }
      char *body = malloc(size + 1);
      size_t padded = (size_t)((size + 511) / 512 * 512);
      char *all = malloc(padded + 1);
      if (in_exact(all, padded)) { free(body); free(all); rc = 1; break; }
      memcpy(body, all, size);
      body[size] = 0;
      free(all);
      if (type == 'L') { free(long_name); long_name = body; continue; }
      if (type == 'K') { free(long_link); long_link = body; continue; }
      if (type == 'x') {
        for (char *p = body; p < body + size; ) {
          char *sp = strchr(p, ' ');
          if (!sp) break;
          size_t reclen = strtoul(p, NULL, 10);
          if (reclen == 0 || p + reclen > body + size) break;
          char *eq = memchr(sp + 1, '=', (size_t)(p + reclen - sp - 1));
          if (eq) {
            *eq = 0;
            p[reclen - 1] = 0;
            const char *k = sp + 1, *v = eq + 1;
            if (!strcmp(k, "path")) { free(pax_path); pax_path = strdup(v); }
            else if (!strcmp(k, "linkpath")) { free(pax_link); pax_link = strdup(v); }
            else if (!strcmp(k, "size")) pax_size = atoll(v);
            else if (!strcmp(k, "uid")) pax_uid = atoll(v);
            else if (!strcmp(k, "gid")) pax_gid = atoll(v);
          }
          p += reclen;
        }
      }
      free(body);
      continue;
    }
    char name[4200], linkname[4200];
    if (pax_path) snprintf(name, sizeof name, "%s", pax_path);
    else if (long_name) snprintf(name, sizeof name, "%s", long_name);
    else if (h[345] && !memcmp(h + 257, "ustar", 5)) snprintf(name, sizeof name, "%.155s/%.100s", h + 345, h);
    else snprintf(name, sizeof name, "%.100s", h);
    if (pax_link) snprintf(linkname, sizeof linkname, "%s", pax_link);
    else if (long_link) snprintf(linkname, sizeof linkname, "%s", long_link);
    else snprintf(linkname, sizeof linkname, "%.100s", h + 157);
    if (pax_size >= 0) size = (unsigned long long)pax_size;
    uid_t uid = owner_uid >= 0 ? (uid_t)owner_uid : pax_uid >= 0 ? (uid_t)pax_uid : (uid_t)from_oct(h + 108, 8);
    gid_t gid = owner_gid >= 0 ? (gid_t)owner_gid : pax_gid >= 0 ? (gid_t)pax_gid : (gid_t)from_oct(h + 116, 8);
    mode_t mode = (mode_t)from_oct(h + 100, 8) & 07777;
    time_t mtime = (time_t)from_oct(h + 136, 12);
    free(pax_path); free(pax_link); free(long_name); free(long_link);
    pax_path = pax_link = long_name = long_link = NULL;
    pax_size = pax_uid = pax_gid = -1;
    unsigned long long body = (type == '0' || type == '7') ? size : 0;
    if (clean_name(name) != 0) { fprintf(stderr, "isola-tar: refused entry %s: it climbs with ..\n", name); rc = 1; break; }
    if (!*name) { skip_bytes((body + 511) / 512 * 512); continue; } /* the folder itself */
    struct stat old;
    int exists = lstat(name, &old) == 0;
    if (exists && !(S_ISDIR(old.st_mode) && type == '5')) {
      if (S_ISDIR(old.st_mode)) {
        fprintf(stderr, "isola-tar: cannot replace the folder %s with a file\n", name);
        rc = 1;
        break;
      }
      unlink(name);
    }
    int r = 0;
    switch (type) {
      case '5':
        if (!exists && mkdir(name, 0700) != 0) r = -1;
        if (!r) {
          dirs = realloc(dirs, (ndirs + 1) * sizeof *dirs);
          dirs[ndirs++] = (struct dirtime){strdup(name), mtime};
        }
        break;
      case '2': r = symlink(linkname, name); break;
      case '1': {
        char l[4200];
        snprintf(l, sizeof l, "%s", linkname);
        if (clean_name(l) != 0) { errno = EPERM; r = -1; break; }
        r = link(l, name);
        break;
      }
      case '3': case '4': case '6': {
        mode_t t = type == '3' ? S_IFCHR : type == '4' ? S_IFBLK : S_IFIFO;
        r = mknod(name, t | mode, makedev((unsigned)from_oct(h + 329, 8), (unsigned)from_oct(h + 337, 8)));
        break;
      }
      case '0': case '7': {
        int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) { r = -1; break; }
        static char buf[65536];
        unsigned long long left = (body + 511) / 512 * 512, data = body;
        while (left > 0) {
          size_t k = left < sizeof buf ? (size_t)left : sizeof buf;
          if (in_exact(buf, k)) { errno = EIO; r = -1; break; }
          size_t w = data < k ? (size_t)data : k;
          if (w && write_all(fd, buf, w)) { r = -1; break; }
          data -= w;
          left -= k;
        }
        body = 0;
        close(fd);
        break;
      }
      default:
        break; /* unknown types are skipped, as tar does */
    }
    if (r != 0) { fprintf(stderr, "isola-tar: %s: %s\n", name, strerror(errno)); rc = 1; break; }
    skip_bytes((body + 511) / 512 * 512);
    if (type == '1') continue; /* the inode has its owner and mode */
    if (lchown(name, uid, gid) != 0) { fprintf(stderr, "isola-tar: chown %s: %s\n", name, strerror(errno)); rc = 1; break; }
    if (type != '2' && chmod(name, mode) != 0) { fprintf(stderr, "isola-tar: chmod %s: %s\n", name, strerror(errno)); rc = 1; break; }
    if (type != '5') {
      struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
      utimensat(AT_FDCWD, name, ts, AT_SYMLINK_NOFOLLOW);
    }
  }
  /* Folder times last: writing into a folder changes its time. */
  for (size_t i = ndirs; i-- > 0; ) {
    struct timespec ts[2] = {{dirs[i].mtime, 0}, {dirs[i].mtime, 0}};
    utimensat(AT_FDCWD, dirs[i].name, ts, AT_SYMLINK_NOFOLLOW);
  }
  return rc;
}

static int stat_path(const char *path, int follow) {
  struct stat st;
  const char *kind = "missing";
  if ((follow ? stat(path, &st) : lstat(path, &st)) == 0)
    kind = S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : S_ISLNK(st.st_mode) ? "symlink" : "other";
  printf("%s\n", kind);
  fflush(stdout);
  return 0;
}

/* Runs in the exec child: one of the builtins above, in `root` when given. */
static int run_builtin(struct spec *s) {
  if (s->root && *s->root && (chroot(s->root) != 0 || chdir("/") != 0)) {
    fprintf(stderr, "isola-tar: cannot enter %s: %s\n", s->root, strerror(errno));
    return 1;
  }
  umask(0);
  const char *cmd = s->argv[0];
  int follow = s->argc > 2 && s->argv[2][0] == '1';
  if (!strcmp(cmd, "tar-c") && s->argc >= 2) return tar_create(s->argv[1], follow);
  if (!strcmp(cmd, "tar-x") && s->argc >= 2) {
    if (s->argc >= 4) owner_uid = atol(s->argv[2]), owner_gid = atol(s->argv[3]);
    return tar_extract(s->argv[1]);
  }
  if (!strcmp(cmd, "stat") && s->argc >= 2) return stat_path(s->argv[1], follow);
  fprintf(stderr, "isola-init: unknown builtin %s\n", cmd);
  return 2;
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

/* Input waiting for a process to read it: init never blocks on a process's stdin. */
#define INQ_MAX (4 << 20)
struct inq {
  char *buf;
  size_t len, cap;
  int close_after; /* close the fd once what is queued was written */
};

struct child {
  pid_t pid;
  int out, err, in; /* parent ends; -1 when closed. With a tty, out is the terminal's master */
  int tty;
  struct inq q;     /* for in, or for the master with a tty */
  int failed;       /* errno of a failed exec, 0 when it ran */
};

static void set_winsize(int fd, int rows, int cols) {
  if (fd < 0 || rows <= 0 || cols <= 0) return;
  struct winsize ws = {(unsigned short)rows, (unsigned short)cols, 0, 0};
  ioctl(fd, TIOCSWINSZ, &ws);
}

/* A pseudo-terminal pair: returns the master, the slave in *slave (both close-on-exec). */
static int open_pty(int *slave, int rows, int cols) {
  int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0) return -1;
  int unlock = 0;
  int sl = ioctl(m, TIOCSPTLCK, &unlock) == 0 ? ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
  if (sl < 0) {
    close(m);
    return -1;
  }
  set_winsize(m, rows, cols);
  *slave = sl;
  return m;
}

static int spawn(struct spec *s, struct child *c, int with_stdin) {
  int po[2] = {-1, -1}, pe[2] = {-1, -1}, pi[2] = {-1, -1}, pf[2], master = -1, slave = -1;
  if (pipe2(pf, O_CLOEXEC)) return -1;
  if (s->tty) {
    if ((master = open_pty(&slave, s->rows, s->cols)) < 0) return -1;
  } else {
    if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC)) return -1;
    if (with_stdin && pipe2(pi, O_CLOEXEC)) return -1;
  }
  sigset_t all;
  sigemptyset(&all);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    sigprocmask(SIG_SETMASK, &all, NULL);
    setsid();
    int devnull = open("/dev/null", O_RDWR);
    if (s->tty) {
      /* the terminal becomes the session's controlling terminal: Ctrl-C, job control, SIGWINCH */
      ioctl(slave, TIOCSCTTY, 0);
      dup2(slave, 0);
      dup2(slave, 1);
      dup2(slave, 2);
    } else {
      dup2(with_stdin ? pi[0] : devnull, 0);
      dup2(po[1], 1);
      dup2(pe[1], 2);
    }
    if (s->builtin) {
      if (write(pf[1], &(int){0}, sizeof(int)) < 0) _exit(127);
      close(pf[1]);
      fflush(stdout);
      int code = run_builtin(s);
      fflush(stdout);
      fflush(stderr);
      _exit(code);
    }
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
  close(pf[1]);
  if (s->tty) close(slave);
  else {
    close(po[1]);
    close(pe[1]);
    if (with_stdin) close(pi[0]);
  }
  int err = 0;
  ssize_t r;
  do r = read(pf[0], &err, sizeof err);
  while (r < 0 && errno == EINTR);
  close(pf[0]);
  memset(&c->q, 0, sizeof c->q);
  c->pid = pid;
  c->tty = s->tty;
  c->out = s->tty ? master : po[0];
  c->err = s->tty ? -1 : pe[0];
  c->in = !s->tty && with_stdin ? pi[1] : -1;
  c->failed = r == (ssize_t)sizeof err ? err : 0;
  fcntl(c->out, F_SETFL, O_NONBLOCK);
  if (c->err >= 0) fcntl(c->err, F_SETFL, O_NONBLOCK);
  if (c->in >= 0) fcntl(c->in, F_SETFL, O_NONBLOCK);
  return 0;
}

/* Where a process's input goes: the terminal's master, or its stdin pipe. */
static int input_fd(struct child *c) { return c->tty ? c->out : c->in; }

static void close_fd(int *fd);

/* Writes what it can of the queue without blocking; closes stdin when asked and done. */
static void inq_flush(struct child *c) {
  struct inq *q = &c->q;
  int fd = input_fd(c);
  while (fd >= 0 && q->len > 0) {
    ssize_t w = write(fd, q->buf, q->len);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) return;
    if (w <= 0) { /* the reader is gone: drop what it will never read */
      q->len = 0;
      if (!c->tty) close_fd(&c->in);
      break;
    }
    memmove(q->buf, q->buf + w, q->len - (size_t)w);
    q->len -= (size_t)w;
  }
  if (q->len == 0 && q->close_after && !c->tty) close_fd(&c->in);
}

static void inq_push(struct child *c, const char *p, size_t n) {
  struct inq *q = &c->q;
  if (input_fd(c) < 0 || q->close_after) return;
  if (q->len + n > INQ_MAX) return; /* a process that reads nothing cannot make init hold more */
  if (q->len + n > q->cap) q->buf = realloc(q->buf, q->cap = q->len + n + 65536);
  memcpy(q->buf + q->len, p, n);
  q->len += n;
  inq_flush(c);
}

/* The end of a client's input: a pipe is closed once drained; a terminal stays (EOF is a key there). */
static void inq_end(struct child *c) {
  if (c->tty) return;
  c->q.close_after = 1;
  inq_flush(c);
}

static void inq_free(struct child *c) {
  free(c->q.buf);
  memset(&c->q, 0, sizeof c->q);
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
  else write_all(con, buf, (size_t)n);
}

/* Writes data as CRI log lines: complete lines as F, a trailing fragment as P. */
static void log_chunk(const char *stream, const char *data, size_t n) {
  /* Booted from a whole disk by another hypervisor there is no isola.log port: the console. */
  if (logfd < 0) {
    write_all(con, data, n);
    return;
  }
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

/* ---- framed channels (agent, ctl, tty) ---- */

struct chan {
  const char *name;
  int fd;
  int connected;
  char *buf;
  size_t len, cap;
  struct child exec; /* agent only: the running exec session */
  int busy;
  int is_tty;        /* the workload's streams (isola.tty) */
  int client;        /* tty only: a client completed the handshake and gets the output */
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
  inq_free(&ch->exec);
  ch->busy = 0;
}

/* The workload, its stdin's mode, and whether its output waits for the first attached client. */
static struct child wl = {.out = -1, .err = -1, .in = -1};
static int wl_stdin_mode = STDIN_CLOSED;
static int hold_output = 0, attached_once = 0;
static double attached_at = 0;

static void end_session(struct chan *ch) {
  end_exec(ch);
  ch->len = 0;
  if (ch->is_tty && ch->client) {
    ch->client = 0;
    /* StdinOnce: the attached client going away is the end of the workload's input */
    if (wl_stdin_mode == STDIN_ONCE) inq_end(&wl);
  }
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

/* ---- /etc files: kept in ETC_DIR (on /dev's tmpfs), bind-mounted over the image's ---- */

/* Writes ETC_DIR/name in place (same inode: the bind mounts see the new text). */
static int write_etc(const char *name, const char *text) {
  char p[128];
  snprintf(p, sizeof p, "%s/%s", ETC_DIR, name);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  int r = write_all(fd, text, strlen(text));
  close(fd);
  return r;
}

/* Puts one file over /etc/<name>; a missing (or dangling symlink) target is made when the root is writable. */
static void put_etc(const char *name, const char *text, int readonly) {
  if (!text) return;
  if (write_etc(name, text) != 0) { say("%s/%s: %s", ETC_DIR, name, strerror(errno)); return; }
  char src[128], dst[128];
  snprintf(src, sizeof src, "%s/%s", ETC_DIR, name);
  snprintf(dst, sizeof dst, "/etc/%s", name);
  struct stat st;
  if (stat(dst, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (readonly) { say("/etc/%s: not a file in the read-only root; left as it is", name); return; }
    mkdir("/etc", 0755);
    unlink(dst);
    int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) { say("/etc/%s: %s", name, strerror(errno)); return; }
    close(fd);
  }
  if (mount(src, dst, NULL, MS_BIND, NULL) != 0) say("bind %s over %s: %s", src, dst, strerror(errno));
}

static void setup_etc(const struct spec *s) {
  if (!s->hosts && !s->resolv) return;
  mkdir(ETC_DIR, 0755);
  char hostname[300];
  snprintf(hostname, sizeof hostname, "%s\n", s->hostname ? s->hostname : "");
  if (s->hostname && *s->hostname) put_etc("hostname", hostname, s->readonly);
  put_etc("hosts", s->hosts, s->readonly);
  put_etc("resolv.conf", s->resolv, s->readonly);
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

/* The tty channel: a client of the workload's own streams (isola attach, run -i/-t). */
static void handle_tty_frame(struct chan *ch, char type, char *p, size_t n) {
  if (type == 'N') {
    send_frame(ch, 'n', p, n);
    ch->client = ch->connected;
    if (ch->client && !attached_once) {
      attached_once = 1;
      attached_at = uptime();
    }
  } else if (type == 'I' && ch->client && wl_stdin_mode != STDIN_CLOSED) {
    inq_push(&wl, p, n);
  } else if (type == 'C' && ch->client && wl_stdin_mode == STDIN_ONCE) {
    inq_end(&wl);
  } else if (type == 'Z' && wl.tty) {
    char sz[32] = {0};
    int rows = 0, cols = 0;
    memcpy(sz, p, n < 31 ? n : 31);
    if (sscanf(sz, "%d %d", &rows, &cols) == 2) set_winsize(wl.out, rows, cols);
  }
}

static void handle_frame(struct chan *ch, char type, char *p, size_t n) {
  if (ch->is_tty) {
    handle_tty_frame(ch, type, p, n);
    return;
  }
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
  } else if (type == 'I' && ch->busy) {
    inq_push(&ch->exec, p, n);
  } else if (type == 'C' && ch->busy) {
    inq_end(&ch->exec);
  } else if (type == 'Z' && ch->busy && ch->exec.tty) { /* the exec's terminal: "ROWS COLS" */
    char sz[32] = {0};
    int rows = 0, cols = 0;
    memcpy(sz, p, n < 31 ? n : 31);
    if (sscanf(sz, "%d %d", &rows, &cols) == 2) set_winsize(ch->exec.out, rows, cols);
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
  } else if (type == 'L') { /* process list (isola top) */
    char *out = NULL;
    size_t len = 0;
    process_list(&out, &len);
    send_frame(ch, 'L', out, len);
    free(out);
  } else if (type == 'P') { /* ping: readiness check */
    send_str(ch, 'R', "pong");
  } else if (type == 'T') { /* new /etc/hosts and resolv.conf, written in place under their bind mounts */
    struct spec t;
    parse_records(p, n, &t);
    int ok = (!t.hosts || write_etc("hosts", t.hosts) == 0) && (!t.resolv || write_etc("resolv.conf", t.resolv) == 0);
    send_str(ch, 'R', ok ? "ok" : strerror(errno));
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

/* How long a held output waits for its client after the workload ended, before it goes to the log only. */
#define HOLD_MAX_S 60

/* Moves what the workload wrote to the log and to the attached client; returns 1 when it read something. */
static int pump_workload(struct chan *tty, int *fd, const char *stream, char type) {
  char b[16384];
  ssize_t k = read(*fd, b, sizeof b);
  if (k > 0) {
    log_chunk(stream, b, (size_t)k);
    if (tty->client) send_frame(tty, type, b, (size_t)k);
    return 1;
  }
  if (k == 0 || (errno != EAGAIN && errno != EINTR)) close_fd(fd); /* a terminal's master: EIO once no one has it open */
  return 0;
}

/* ---- network ---- */

static void set_up(int sk, const char *dev) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", dev);
  if (ioctl(sk, SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    ioctl(sk, SIOCSIFFLAGS, &ifr);
  }
}

/* Gives dev the address "A.B.C.D/N" and brings it up. */
static int set_address(int sk, const char *dev, const char *cidr) {
  char ip[64];
  snprintf(ip, sizeof ip, "%s", cidr);
  int prefix = 24;
  char *slash = strchr(ip, '/');
  if (slash) { *slash = 0; prefix = atoi(slash + 1); }
  struct ifreq ifr;
  struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", dev);
  sin->sin_family = AF_INET;
  inet_pton(AF_INET, ip, &sin->sin_addr);
  if (ioctl(sk, SIOCSIFADDR, &ifr) != 0) { say("%s: cannot set address %s (%s)", dev, ip, strerror(errno)); return -1; }
  sin->sin_addr.s_addr = prefix ? htonl(~0u << (32 - prefix)) : 0;
  ioctl(sk, SIOCSIFNETMASK, &ifr);
  set_up(sk, dev);
  say("%s %s/%d", dev, ip, prefix);
  return 0;
}

/* The interface whose MAC is mac (as 02:aa:...), or "" */
static void find_by_mac(const char *mac, char *out, size_t outlen) {
  out[0] = 0;
  DIR *d = opendir("/sys/class/net");
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char p[300];
    snprintf(p, sizeof p, "/sys/class/net/%s/address", e->d_name);
    char *a = read_file(p, NULL);
    if (!a) continue;
    a[strcspn(a, "\n")] = 0;
    if (strcasecmp(a, mac) == 0) {
      size_t l = strnlen(e->d_name, outlen - 1);
      memcpy(out, e->d_name, l);
      out[l] = 0;
    }
    free(a);
    if (out[0]) break;
  }
  closedir(d);
}

static int rename_if(int sk, const char *from, const char *to) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", from);
  snprintf(ifr.ifr_newname, IFNAMSIZ, "%s", to);
  if (ioctl(sk, SIOCSIFNAME, &ifr) != 0) { say("rename %s to %s: %s", from, to, strerror(errno)); return -1; }
  return 0;
}

static void add_default_route(int sk, const char *dev, const char *gw_ip) {
  struct rtentry rt;
  memset(&rt, 0, sizeof rt);
  struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst, *gw = (struct sockaddr_in *)&rt.rt_gateway,
                     *mask = (struct sockaddr_in *)&rt.rt_genmask;
  dst->sin_family = gw->sin_family = mask->sin_family = AF_INET;
  inet_pton(AF_INET, gw_ip, &gw->sin_addr);
  rt.rt_flags = RTF_UP | RTF_GATEWAY;
  char devname[IFNAMSIZ];
  snprintf(devname, sizeof devname, "%s", dev);
  rt.rt_dev = devname;
  if (ioctl(sk, SIOCADDRT, &rt) != 0) say("%s: cannot add default route via %s (%s)", dev, gw_ip, strerror(errno));
}

/*
 * Each NIC is found by its MAC (the order the kernel probes them in is not the command line's)
 * and renamed to its name; through a temporary name first, so that two NICs can swap names.
 */
static void net_up(const struct spec *s) {
  int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sk < 0) return;
  set_up(sk, "lo");
  if (s->nifs == 0 && s->ip && *s->ip) {
    /* a config of an older isola: one NIC, eth0 */
    if (set_address(sk, "eth0", s->ip) == 0 && s->gw && *s->gw) add_default_route(sk, "eth0", s->gw);
    close(sk);
    return;
  }
  char found[MAXIF][IFNAMSIZ], want[MAXIF][IFNAMSIZ], addr[MAXIF][64];
  for (int i = 0; i < s->nifs; i++) {
    char mac[32] = "";
    sscanf(s->ifs[i], "%31s %15s %63s", mac, want[i], addr[i]);
    find_by_mac(mac, found[i], IFNAMSIZ);
    if (!found[i][0]) { say("no NIC with MAC %s for %s", mac, want[i]); continue; }
    if (strcmp(found[i], want[i]) != 0) {
      char tmp[IFNAMSIZ];
      snprintf(tmp, sizeof tmp, "isolatmp%d", i);
      if (rename_if(sk, found[i], tmp) == 0) snprintf(found[i], IFNAMSIZ, "%s", tmp);
    }
  }
  for (int i = 0; i < s->nifs; i++) {
    if (!found[i][0]) continue;
    if (strcmp(found[i], want[i]) != 0 && rename_if(sk, found[i], want[i]) != 0) continue;
    set_address(sk, want[i], addr[i]);
  }
  if (s->nifs > 0 && found[0][0] && s->gw && *s->gw) add_default_route(sk, want[0], s->gw);
  close(sk);
}

/* ---- mounts: shared folders (virtiofs) and tmpfs, before the workload starts ---- */

/* mkdir -p; returns 0 or errno. */
static int make_dirs(const char *path) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) return ENAMETOOLONG;
  for (char *q = tmp + 1; *q; q++) {
    if (*q != '/') continue;
    *q = 0;
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return errno;
    *q = '/';
  }
  if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return errno;
  return 0;
}

/* Splits "a\tb\t...\tpath" in place into n fields; the last one (the path) may hold tabs. */
static int fields(char *v, char **out, int n) {
  for (int i = 0; i < n - 1; i++) {
    out[i] = v;
    char *tab = strchr(v, '\t');
    if (!tab) return -1;
    *tab = 0;
    v = tab + 1;
  }
  out[n - 1] = v;
  return 0;
}

/* Returns 0, or reports "error 125 ..." on the status port and returns -1. */
static int mount_all(struct spec *s) {
  for (int i = 0; i < s->nmounts; i++) {
    char copy[4200];
    snprintf(copy, sizeof copy, "%s", s->mounts[i]);
    char *f[5];
    int share = s->mount_kind[i] == 'v';
    if (fields(copy, f, share ? 3 : 5) != 0) continue;
    const char *target = share ? f[2] : f[4];
    int e = make_dirs(target);
    if (e) {
      status("error 125 cannot make the mount point %s: %s%s", target, strerror(e),
             e == EROFS ? " (the root is read-only: create the folder in the image, or drop --read-only)" : "");
      return -1;
    }
    if (share) {
      unsigned long flags = (f[1][0] == '1') ? MS_RDONLY : 0;
      if (mount(f[0], target, "virtiofs", flags, NULL) != 0) {
        status("error 125 cannot mount the shared folder %s at %s: %s", f[0], target, strerror(errno));
        return -1;
      }
      say("shared folder %s at %s%s", f[0], target, flags ? " (read-only)" : "");
    } else {
      char opts[128];
      unsigned long long size = strtoull(f[0], NULL, 10);
      int n = snprintf(opts, sizeof opts, "mode=%s", f[1]);
      if (size > 0) snprintf(opts + n, sizeof opts - (size_t)n, ",size=%llu", size);
      unsigned long flags = MS_NOSUID | MS_NODEV | (f[2][0] == '1' ? MS_RDONLY : 0) | (f[3][0] == '1' ? MS_NOEXEC : 0);
      if (mount("tmpfs", target, "tmpfs", flags, opts) != 0) {
        status("error 125 cannot mount a tmpfs at %s: %s", target, strerror(errno));
        return -1;
      }
    }
  }
  return 0;
}

/* ---- boot ---- */

/*
 * The list may be empty or absent: isola's own kernel has every driver built in (and no module
 * support at all, so finit_module says ENOSYS: nothing to load, nothing to report).
 */
static void load_modules(void) {
  char *list = read_file("/isola/modules", NULL);
  if (!list) return;
  for (char *m = strtok(list, "\n"); m; m = strtok(NULL, "\n")) {
    if (!*m) continue;
    char p[300];
    snprintf(p, sizeof p, "/lib/modules/isola/%s", m);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { say("module %s: %s", m, strerror(errno)); continue; }
    int r = (int)syscall(SYS_finit_module, fd, "", 0);
    int err = errno;
    close(fd);
    if (r != 0 && err == ENOSYS) break;
    if (r != 0 && err != EEXIST) say("module %s: %s", m, strerror(err));
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

/*
 * A whole disk (exported by isola export) names its root by ext4 label on the kernel command
 * line, isola.root=LABEL=NAME: under another hypervisor it may be /dev/vda2, /dev/sda2 or
 * /dev/hda2. The devices are read directly: the ext4 superblock (offset 1024) holds the magic
 * 0xEF53 at byte 56 and the volume label at byte 120.
 */
static char root_label[17];
static char root_dev[300];

static int find_root_by_label(void) {
  DIR *d = opendir("/sys/class/block");
  if (!d) return 0;
  struct dirent *e;
  int found = 0;
  while (!found && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char dev[300];
    snprintf(dev, sizeof dev, "/dev/%s", e->d_name);
    int fd = open(dev, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    unsigned char sb[256];
    if (pread(fd, sb, sizeof sb, 1024) == (ssize_t)sizeof sb && sb[56] == 0x53 && sb[57] == 0xEF &&
        strncmp((const char *)sb + 120, root_label, 16) == 0) {
      snprintf(root_dev, sizeof root_dev, "%s", dev);
      found = 1;
    }
    close(fd);
  }
  closedir(d);
  return found;
}

/* Modules only a whole-disk boot needs (IDE and SCSI disks of other hypervisors), listed apart. */
static void load_disk_modules(void) {
  char *list = read_file("/isola/modules-disk", NULL);
  if (!list) return;
  for (char *m = strtok(list, "\n"); m; m = strtok(NULL, "\n")) {
    char p[300];
    snprintf(p, sizeof p, "/lib/modules/isola/%s", m);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST) say("module %s: %s", m, strerror(errno));
    close(fd);
  }
  free(list);
}

/*
 * Under isola, a whole disk's VM gets the instance's config by fw_cfg (QEMU's firmware config
 * device, readable in sysfs once qemu_fw_cfg is loaded), written at each start: the command and
 * its environment, working folder and user where the run gives them; the hostname, the address
 * and gateway (older configs) and the read-only flag; each NIC by its MAC; the /etc/hosts and
 * resolv.conf files; the shared folders and tmpfs mounts; the --ulimit values. It is read over
 * the config the disk's initramfs carries, so `isola run DISK-IMAGE cmd -e K=V -p ... -v ...`
 * works as for any VM. (No terminal records: isola refuses -i and -t for a whole disk.)
 */
#define FW_CFG_CONFIG "/sys/firmware/qemu_fw_cfg/by_name/opt/isola/config/raw"
static int have_fw_cfg(void) { return access("/sys/firmware/qemu_fw_cfg/rev", F_OK) == 0; }

static void set_env(struct spec *s, char *kv) {
  size_t k = strcspn(kv, "=");
  for (int i = 0; i < s->envc; i++) {
    if (strncmp(s->env[i], kv, k) == 0 && s->env[i][k] == '=') {
      s->env[i] = kv;
      return;
    }
  }
  if (s->envc < MAXREC - 1) s->env[s->envc++] = kv;
  s->env[s->envc] = NULL;
}

static void apply_fw_cfg(struct spec *s) {
  if (!wait_for(have_fw_cfg, 500)) return; /* another hypervisor: the disk's own config stands */
  size_t n = 0;
  char *buf = read_file(FW_CFG_CONFIG, &n);
  if (!buf) return;
  struct spec o;
  parse_records(buf, n, &o); /* buf stays allocated: s points into it */
  if (o.argc > 0) {
    for (int i = 0; i <= o.argc; i++) s->argv[i] = o.argv[i];
    s->argc = o.argc;
  }
  for (int i = 0; i < o.envc; i++) set_env(s, o.env[i]);
  if (strcmp(o.workdir, "/") != 0) s->workdir = o.workdir;
  if (*o.user) s->user = o.user;
  if (o.hostname) s->hostname = o.hostname;
  if (o.ip) s->ip = o.ip;
  if (o.gw) s->gw = o.gw;
  s->readonly = o.readonly;
  /* NICs by MAC and the /etc files are the instance's, as are shared folders and tmpfs */
  if (o.nifs > 0) {
    for (int i = 0; i < o.nifs; i++) s->ifs[i] = o.ifs[i];
    s->nifs = o.nifs;
  }
  for (int i = 0; i < o.limitc && s->limitc < 63; i++) s->limits[s->limitc++] = o.limits[i];
  if (o.hosts) s->hosts = o.hosts;
  if (o.resolv) s->resolv = o.resolv;
  for (int i = 0; i < o.nmounts && s->nmounts < MAXMOUNTS; i++) {
    s->mount_kind[s->nmounts] = o.mount_kind[i];
    s->mounts[s->nmounts++] = o.mounts[i];
  }
  say("config from fw_cfg: %d args, %d env, ip %s", o.argc, o.envc, o.ip ? o.ip : "none");
}

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

/*
 * Every process left (the workload's children, exec sessions) gets SIGTERM and up to 50 ms to
 * end, then SIGKILL. Every one of them is init's descendant, so once init has no child left
 * there is nothing to wait for: most runs end here at once, not 50 ms later.
 */
static void end_the_rest(void) {
  kill(-1, SIGTERM);
  for (int waited = 0; waited < 50; waited++) {
    pid_t p;
    while ((p = waitpid(-1, NULL, WNOHANG)) > 0) {}
    if (p < 0 && errno == ECHILD) return;
    usleep(1000);
  }
  kill(-1, SIGKILL);
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
  /* The foreground run's client attaches after start: until it has, the output waits. */
  if (cmdline && strstr(cmdline, "isola.attach=1")) hold_output = 1;
  if (cmdline && strstr(cmdline, "isola.disposable=1")) disposable = 1;
  char *tsz = cmdline ? strstr(cmdline, "isola.tty=") : NULL;
  if (tsz && sscanf(tsz + 10, "%dx%d", &s.rows, &s.cols) != 2) s.rows = s.cols = 0;
  wl_stdin_mode = s.stdin_mode;
  /* Three agent ports, each a channel of its own: QEMU's socket behind a port serves one host
     client at a time, so each port carries one exec session and three run at once. A port the
     VM lacks (a whole disk booted elsewhere) is left out (fd -1). */
  enum { AGENT, AGENT1, AGENT2, CTL, TTY, NCHANS };
  struct chan chans[NCHANS] = {{.name = "isola.agent"}, {.name = "isola.agent1"}, {.name = "isola.agent2"}, {.name = "isola.ctl"}, {.name = "isola.tty", .is_tty = 1}};
  for (int i = 0; i < NCHANS; i++) {
    chans[i].fd = open_port(chans[i].name, O_RDWR | O_NONBLOCK);
    chans[i].exec.out = chans[i].exec.err = chans[i].exec.in = -1;
  }
  struct chan *tty = &chans[TTY];

  const char *rootp = cmdline ? strstr(cmdline, "isola.root=LABEL=") : NULL;
  snprintf(root_dev, sizeof root_dev, "/dev/vda");
  if (rootp) {
    rootp += strlen("isola.root=LABEL=");
    size_t l = strcspn(rootp, " \n");
    snprintf(root_label, sizeof root_label, "%.*s", (int)(l < 16 ? l : 16), rootp);
    load_disk_modules();
    apply_fw_cfg(&s);
    if (!wait_for(find_root_by_label, 10000)) {
      status("error 125 no disk holds the root file system labelled %s", root_label);
      die("no root disk");
    }
  } else if (!wait_for(have_vda, 5000)) {
    status("error 125 the root disk /dev/vda did not appear");
    die("no root disk");
  }
  mkdir("/newroot", 0755);
  if (mount(root_dev, "/newroot", "ext4", s.readonly ? MS_RDONLY : 0, NULL) != 0) {
    status("error 125 cannot mount the root disk %s: %s", root_dev, strerror(errno));
    die("mounting the root disk");
  }
  switch_root("/newroot");
  mkdir("/dev/pts", 0755);
  mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
  mkdir("/dev/shm", 01777);
  mount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  symlink("/proc/self/fd", "/dev/fd");
  if (s.hostname && *s.hostname) sethostname(s.hostname, strlen(s.hostname));
  net_up(&s);
  if (mount_all(&s) != 0) poweroff();
  /* after the shares: a folder shared at /etc does not hide the instance's own /etc files */
  setup_etc(&s);

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  signal(SIGPIPE, SIG_IGN);

  if (s.argc == 0) {
    status("error 126 no command given");
    poweroff();
  }
  if (spawn(&s, &wl, s.stdin_mode != STDIN_CLOSED) != 0) {
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
    struct pollfd pf[4 + 4 * NCHANS]; /* signals, the workload's 3 pipes, 4 per channel */
    int n = 0, idx_sfd, idx_out = -1, idx_err = -1, idx_in = -1;
    int idx_ch[NCHANS], idx_eo[NCHANS], idx_ee[NCHANS], idx_ei[NCHANS];
    for (int i = 0; i < NCHANS; i++) idx_ch[i] = idx_eo[i] = idx_ee[i] = idx_ei[i] = -1;
    pf[idx_sfd = n++] = (struct pollfd){sfd, POLLIN, 0};
    int reading = !hold_output || attached_once;
    if (wl.out >= 0 && reading) pf[idx_out = n++] = (struct pollfd){wl.out, POLLIN, 0};
    if (wl.err >= 0 && reading) pf[idx_err = n++] = (struct pollfd){wl.err, POLLIN, 0};
    if (wl.q.len > 0 && input_fd(&wl) >= 0) pf[idx_in = n++] = (struct pollfd){input_fd(&wl), POLLOUT, 0};
    int waiting_for_host = 0;
    for (int i = 0; i < NCHANS; i++) {
      struct chan *ch = &chans[i];
      if (ch->fd < 0) continue;
      if (ch->connected) pf[idx_ch[i] = n++] = (struct pollfd){ch->fd, POLLIN, 0};
      else waiting_for_host = 1;
      if (ch->busy && ch->exec.out >= 0) pf[idx_eo[i] = n++] = (struct pollfd){ch->exec.out, POLLIN, 0};
      if (ch->busy && ch->exec.err >= 0) pf[idx_ee[i] = n++] = (struct pollfd){ch->exec.err, POLLIN, 0};
      if (ch->busy && ch->exec.q.len > 0 && input_fd(&ch->exec) >= 0) pf[idx_ei[i] = n++] = (struct pollfd){input_fd(&ch->exec), POLLOUT, 0};
    }
    /* A port whose host side is closed polls as POLLHUP at once: look again every 20 ms. */
    int timeout = waiting_for_host ? 20 : -1;
    if (workload_done) timeout = 10;
    int r = poll(pf, (nfds_t)n, timeout);
    if (r < 0 && errno != EINTR) die("poll");

    for (int i = 0; i < NCHANS; i++) {
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
      if (idx_ei[i] >= 0 && pf[idx_ei[i]].revents) inq_flush(&ch->exec);
    }
    if (!tty->connected && tty->client) end_session(tty); /* its client went away while init wrote to it */
    if (idx_in >= 0 && pf[idx_in].revents) inq_flush(&wl);
    if (idx_out >= 0 && pf[idx_out].revents) pump_workload(tty, &wl.out, "stdout", 'O');
    if (idx_err >= 0 && pf[idx_err].revents) pump_workload(tty, &wl.err, "stderr", 'E');
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
        for (int i = 0; i < NCHANS; i++) {
          struct chan *ch = &chans[i];
          if (ch->busy && p == ch->exec.pid) {
            /* drain what the session wrote before it ended */
            drain_exec(ch, &ch->exec.out, 'O');
            drain_exec(ch, &ch->exec.err, 'E');
            char num[16];
            snprintf(num, sizeof num, "%d", code);
            send_str(ch, 'X', num);
            close_fd(&ch->exec.in);
            inq_free(&ch->exec);
            ch->busy = 0;
          }
        }
      }
    }
    if (shutdown_requested && !workload_done) {
      kill(wl.pid, SIGTERM);
      shutdown_requested = 0;
    }
    if (workload_done) {
      /* Held output waits for its client (a foreground run attaches right after start). */
      if (hold_output && !attached_once && uptime() - done_at < HOLD_MAX_S) continue;
      /* Then its pipes get a moment to drain (children of it may hold them open). */
      double from = attached_at > done_at ? attached_at : done_at;
      if ((wl.out < 0 && wl.err < 0) || uptime() - from > 0.2) break;
    }
  }
  /* What is still in the pipes or the terminal goes to the log (and the client) before the end. */
  while (wl.out >= 0 && pump_workload(tty, &wl.out, "stdout", 'O')) {}
  while (wl.err >= 0 && pump_workload(tty, &wl.err, "stderr", 'E')) {}
  if (tty->client) {
    char num[16];
    snprintf(num, sizeof num, "%d", workload_code);
    send_str(tty, 'X', num);
  }
  status("exit %d", workload_code);
  say("workload exited with %d", workload_code);
  end_the_rest();
  poweroff();
  return 0;
}

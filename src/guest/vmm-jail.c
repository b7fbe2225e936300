/*
 * isola-vmm-jail: starts QEMU the way Firecracker's jailer starts Firecracker, so that a guest
 * that breaks out of its VM lands in a process that can hurt nothing:
 *
 *   1. joins the instance's cgroups (memory, pids, cpu limits the caller set up);
 *   2. opens the instance's tap devices as root (TUNSETIFF) and hands QEMU the open files as fd 3,
 *      4, ... in the order given, so QEMU needs neither /dev/net/tun nor the host's network;
 *   3. enters new mount, IPC, UTS, cgroup and network namespaces;
 *   4. builds a root of its own: an empty tmpfs with /usr read-only, /dev/null, zero and
 *      urandom, the files QEMU boots (read-only unless asked) and the instance's folders, then
 *      pivots into it and makes it read-only;
 *   5. drops every capability from the bounding set, sets no-new-privileges, becomes an
 *      unprivileged uid/gid with no supplementary groups;
 *   6. execs QEMU, which then installs its own seccomp sandbox.
 *
 * QEMU keeps this process's pid (exec, no fork), so the caller knows it from the start.
 *
 * usage: isola-vmm-jail --uid U --gid G --root DIR [--tap NAME]... [--kvm] [--cgroup DIR]...
 *          [--ro SRC:DEST]... [--rw SRC:DEST]... [--dir SRC:DEST]... -- QEMU ARGS...
 * DEST paths are absolute inside the jail. Errors go to stderr as one line; exit 125.
 */
#define _GNU_SOURCE
#define MAX_TAPS 8
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_BINDS 32

struct bind { const char *src; const char *dest; int kind; }; /* kind: 0 ro file, 1 rw file, 2 rw dir */

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("isola-vmm-jail: ", stderr);
  vfprintf(stderr, fmt, ap);
  if (errno) fprintf(stderr, ": %s", strerror(errno));
  fputc('\n', stderr);
  va_end(ap);
  exit(125);
}

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) die("open %s", path);
  if (write(fd, text, strlen(text)) < 0) die("write %s", path);
  close(fd);
}

/* mkdir -p inside the jail for the parent folders of a destination. */
static void make_parents(const char *path) {
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) { errno = 0; die("path too long: %s", path); }
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(buf, 0755) < 0 && errno != EEXIST) die("mkdir %s", buf);
    *p = '/';
  }
}

static void bind_into(const char *root, const struct bind *b) {
  char dest[4096];
  if (b->dest[0] != '/' || strstr(b->dest, "..")) { errno = 0; die("destination %s must be an absolute path without ..", b->dest); }
  if (snprintf(dest, sizeof dest, "%s%s", root, b->dest) >= (int)sizeof dest) { errno = 0; die("path too long: %s", b->dest); }
  make_parents(dest);
  if (b->kind == 2) {
    if (mkdir(dest, 0700) < 0 && errno != EEXIST) die("mkdir %s", dest);
  } else {
    int fd = open(dest, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) die("create %s", dest);
    close(fd);
  }
  if (mount(b->src, dest, NULL, MS_BIND, NULL) < 0) die("bind %s", b->src);
  unsigned long flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV;
  if (b->kind == 0) flags |= MS_RDONLY;
  if (b->kind == 2) flags |= MS_NOEXEC;
  if (mount(NULL, dest, NULL, flags, NULL) < 0) die("remount %s", dest);
}

static int open_tap(const char *name) {
  int fd = open("/dev/net/tun", O_RDWR);
  if (fd < 0) die("open /dev/net/tun");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if (strlen(name) >= IFNAMSIZ) { errno = 0; die("tap name too long: %s", name); }
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) die("TUNSETIFF %s", name);
  return fd;
}

int main(int argc, char **argv) {
  long uid = -1, gid = -1;
  const char *root = NULL, *taps[MAX_TAPS];
  int kvm = 0, nbinds = 0, ncgroups = 0, ntaps = 0;
  struct bind binds[MAX_BINDS];
  const char *cgroups[8];
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--")) { i++; break; }
    if (!strcmp(a, "--kvm")) { kvm = 1; continue; }
    if (!v) { errno = 0; die("%s needs a value", a); }
    i++;
    if (!strcmp(a, "--uid")) uid = strtol(v, NULL, 10);
    else if (!strcmp(a, "--gid")) gid = strtol(v, NULL, 10);
    else if (!strcmp(a, "--root")) root = v;
    else if (!strcmp(a, "--tap")) { if (ntaps == MAX_TAPS) { errno = 0; die("too many --tap"); } taps[ntaps++] = v; }
    else if (!strcmp(a, "--cgroup")) { if (ncgroups == 8) { errno = 0; die("too many --cgroup"); } cgroups[ncgroups++] = v; }
    else if (!strcmp(a, "--ro") || !strcmp(a, "--rw") || !strcmp(a, "--dir")) {
      if (nbinds == MAX_BINDS) { errno = 0; die("too many binds"); }
      char *sep = strchr(v, ':');
      if (!sep) { errno = 0; die("%s wants SRC:DEST, got %s", a, v); }
      *sep = 0;
      binds[nbinds].src = v;
      binds[nbinds].dest = sep + 1;
      binds[nbinds].kind = !strcmp(a, "--ro") ? 0 : !strcmp(a, "--rw") ? 1 : 2;
      nbinds++;
    } else { errno = 0; die("unknown option %s", a); }
  }
  if (uid <= 0 || gid <= 0 || !root || i >= argc) { errno = 0; die("usage: isola-vmm-jail --uid U --gid G --root DIR [options] -- QEMU ARGS"); }

  for (int c = 0; c < ncgroups; c++) {
    char path[4096], pid[32];
    snprintf(path, sizeof path, "%s/cgroup.procs", cgroups[c]);
    snprintf(pid, sizeof pid, "%d\n", getpid());
    write_file(path, pid);
  }

  /* Each tap lands on fd 3 + its position: first out of the way (high numbers), then into place,
   * so no open file is overwritten whatever numbers open() returned. */
  for (int t = 0; t < ntaps; t++) {
    int fd = open_tap(taps[t]);
    if (dup2(fd, 100 + t) < 0) die("dup2");
    close(fd);
  }
  for (int t = 0; t < ntaps; t++) {
    if (dup2(100 + t, 3 + t) < 0) die("dup2");
    close(100 + t);
    if (fcntl(3 + t, F_SETFD, 0) < 0) die("fcntl"); /* inherited by QEMU across exec */
  }

  if (unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP | CLONE_NEWNET) < 0) die("unshare");
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) die("make / private");
  if (mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") < 0) die("tmpfs on %s", root);

  char path[4096];
  const char *dirs[] = { "usr", "dev", "old", "run", "tmp" };
  for (size_t d = 0; d < sizeof dirs / sizeof *dirs; d++) {
    snprintf(path, sizeof path, "%s/%s", root, dirs[d]);
    if (mkdir(path, 0755) < 0) die("mkdir %s", path);
  }
  const char *links[][2] = { { "usr/lib", "lib" }, { "usr/lib64", "lib64" }, { "usr/bin", "bin" }, { "usr/sbin", "sbin" } };
  for (size_t l = 0; l < sizeof links / sizeof *links; l++) {
    snprintf(path, sizeof path, "%s/%s", root, links[l][1]);
    if (symlink(links[l][0], path) < 0) die("symlink %s", path);
  }
  snprintf(path, sizeof path, "%s/usr", root);
  if (mount("/usr", path, NULL, MS_BIND | MS_REC, NULL) < 0) die("bind /usr");
  if (mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0) die("remount /usr");
  const char *nodes[] = { "/dev/null", "/dev/zero", "/dev/urandom" };
  for (size_t n = 0; n < sizeof nodes / sizeof *nodes; n++) {
    struct bind b = { nodes[n], nodes[n], 1 };
    bind_into(root, &b);
  }
  if (kvm) {
    snprintf(path, sizeof path, "%s/dev/kvm", root);
    if (mknod(path, S_IFCHR | 0600, makedev(10, 232)) < 0) die("mknod /dev/kvm");
    if (chown(path, (uid_t)uid, (gid_t)gid) < 0) die("chown /dev/kvm");
  }
  for (int b = 0; b < nbinds; b++) bind_into(root, &binds[b]);

  if (chdir(root) < 0) die("chdir %s", root);
  if (syscall(SYS_pivot_root, ".", "old") < 0) die("pivot_root");
  if (chdir("/") < 0) die("chdir /");
  if (umount2("/old", MNT_DETACH) < 0) die("umount /old");
  if (rmdir("/old") < 0) die("rmdir /old");
  if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0) die("remount / read-only");

  /* Capabilities: none left to gain. The bounding set first (that needs CAP_SETPCAP), then
   * the ids; leaving uid 0 clears the permitted and effective sets. */
  for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) die("drop capability %d", cap);
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("no_new_privs");
  if (setgroups(0, NULL) < 0) die("setgroups");
  if (setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) < 0) die("setresgid");
  if (setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) < 0) die("setresuid");
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) die("keepcaps");

  umask(077); /* the console, logs and sockets QEMU creates are the VM's alone */
  /* No transparent huge pages for QEMU (kept across exec): QEMU asks for them on guest RAM, and
   * a small guest's scattered pages then cost whole 2 MiB pages of host memory (about 6 MiB
   * more resident for an idle 64 MiB guest here). Best effort: an older kernel lacks it. */
  (void)prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
  execv(argv[i], &argv[i]);
  die("exec %s", argv[i]);
  return 125;
}

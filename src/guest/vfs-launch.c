/*
 * isola-vfs-launch: starts one virtiofsd (QEMU 7.2's C daemon) for one folder a VM shares.
 *
 *   1. makes the vhost-user socket itself (so virtiofsd gets it with --fd and writes no lock
 *      file under /run/virtiofsd), owned by the VM's uid and 0600: only that VM's jailed QEMU
 *      may connect, and it finds the socket in its runtime folder (/run/vm in its jail);
 *   2. enters a mount namespace of its own (a slave of the host's: host mounts still appear in
 *      it, nothing it mounts appears on the host) and binds the shared folder onto an empty
 *      staging folder of the instance, read-only (recursively) for a read-only share: then
 *      virtiofsd, which runs as root, cannot write there whatever the guest asks (the kernel
 *      answers EROFS), and its command line names the instance;
 *   3. execs virtiofsd with --fd=3, same pid (recorded by the caller at once), which then
 *      confines itself: its sandbox=namespace worker gets new mount, pid and net namespaces with
 *      the share as its root, a reduced capability set and a seccomp filter.
 *
 * usage: isola-vfs-launch --socket PATH --uid U --source DIR --stage DIR [--ro] -- VIRTIOFSD ARGS...
 * Errors go to stderr as one line; exit 125.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif
struct isola_mount_attr { uint64_t attr_set, attr_clr, propagation, userns_fd; };

static void die(const char *fmt, ...) {
  int e = errno;
  va_list ap;
  va_start(ap, fmt);
  fputs("isola-vfs-launch: ", stderr);
  vfprintf(stderr, fmt, ap);
  if (e) fprintf(stderr, ": %s", strerror(e));
  fputc('\n', stderr);
  va_end(ap);
  exit(125);
}

int main(int argc, char **argv) {
  const char *sock = NULL, *source = NULL, *stage = NULL;
  long uid = -1;
  int ro = 0, i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--")) { i++; break; }
    if (!strcmp(a, "--ro")) { ro = 1; continue; }
    if (i + 1 >= argc) { errno = 0; die("%s needs a value", a); }
    const char *v = argv[++i];
    if (!strcmp(a, "--socket")) sock = v;
    else if (!strcmp(a, "--uid")) uid = strtol(v, NULL, 10);
    else if (!strcmp(a, "--source")) source = v;
    else if (!strcmp(a, "--stage")) stage = v;
    else { errno = 0; die("unknown option %s", a); }
  }
  if (!sock || !source || !stage || uid <= 0 || i >= argc) { errno = 0; die("usage: isola-vfs-launch --socket PATH --uid U --source DIR --stage DIR [--ro] -- VIRTIOFSD ARGS"); }

  /* The socket, bound by its name inside its folder: the folder's path may be longer than a
   * socket address allows. */
  char dirbuf[4096], namebuf[4096];
  if (snprintf(dirbuf, sizeof dirbuf, "%s", sock) >= (int)sizeof dirbuf) { errno = 0; die("socket path too long"); }
  snprintf(namebuf, sizeof namebuf, "%s", sock);
  const char *name = basename(namebuf);
  int dirfd = open(dirname(dirbuf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) die("open the socket's folder");
  if (fchdir(dirfd) < 0) die("chdir to the socket's folder");
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (strlen(name) >= sizeof addr.sun_path) { errno = 0; die("socket name too long: %s", name); }
  strcpy(addr.sun_path, name);
  unlink(name);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  mode_t old = umask(0177);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind %s", sock);
  umask(old);
  if (fchownat(dirfd, name, (uid_t)uid, (gid_t)uid, AT_SYMLINK_NOFOLLOW) < 0) die("chown %s", sock);
  if (listen(fd, 1) < 0) die("listen");
  close(dirfd); /* before the dup2: it may hold fd 3 */
  if (fd != 3) {
    if (dup2(fd, 3) < 0) die("dup2");
    close(fd);
  }
  if (chdir("/") < 0) die("chdir /");

  if (unshare(CLONE_NEWNS) < 0) die("unshare");
  if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) die("make / a slave");
  if (mount(source, stage, NULL, MS_BIND | MS_REC, NULL) < 0) die("bind %s", source);
  if (ro) {
    struct isola_mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
    if (syscall(SYS_mount_setattr, -1, stage, AT_RECURSIVE, &attr, sizeof attr) < 0) {
      /* An older kernel: the share itself read-only (mounts below it keep their own flags). */
      if (mount(NULL, stage, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0) die("remount %s read-only", stage);
    }
  }
  execv(argv[i], &argv[i]);
  die("exec %s", argv[i]);
  return 125;
}

import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { run } from '../util/exec.js';
import { IsolaError } from '../core/errors.js';

/**
 * isola-bench: one small static program that runs natively and, copied in through exec's
 * stdin, inside every kind, so that timing and I/O are done by the same binary everywhere.
 * It times a child program with CLOCK_MONOTONIC inside the instance (so exec's own cost is
 * not counted), and does direct (O_DIRECT) sequential 1 MiB (several in one call) and random
 * 4 KiB reads. Busybox
 * alone cannot do random 4 KiB reads without a process per read, nor time in nanoseconds.
 * On the host it is also the network rows' client (`rr`: one-byte round trips on one TCP
 * connection, blocking, on a given CPU) and puts the echo server's processes on that CPU (`pin`).
 */
const SOURCE = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int open_maybe_direct(const char *f, int flags, int *direct) {
  int fd = open(f, flags | O_DIRECT, 0644);
  if (fd >= 0) { *direct = 1; return fd; }
  *direct = 0;
  fd = open(f, flags, 0644);
  if (fd >= 0) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  return fd;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t xorshift(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

static int pin_one(pid_t tid, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(tid, sizeof set, &set);
}

/* Every thread of a process onto one CPU (threads started later inherit from their creator). */
static int pin_process(pid_t pid, int cpu) {
  char dir[64];
  snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
  DIR *d = opendir(dir);
  if (!d) return pin_one(pid, cpu); /* gone: ESRCH */
  struct dirent *e;
  int rc = 0;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    if (pin_one((pid_t)atoi(e->d_name), cpu) != 0 && errno != ESRCH) rc = -1;
  }
  closedir(d);
  return rc;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "pin") == 0) {
    int cpu = atoi(argv[2]);
    /* A process that ended since it was listed (a connection's cat) is skipped. */
    for (int i = 3; i < argc; i++) if (pin_process((pid_t)atoi(argv[i]), cpu) != 0 && errno != ESRCH) { fprintf(stderr, "pin %s to cpu %d: %s\n", argv[i], cpu, strerror(errno)); return 1; }
    return 0;
  }
  if (argc == 7 && strcmp(argv[1], "rr") == 0) {
    /* rr HOST PORT COUNT WARM CPU: one TCP connection, one-byte request/responses one in flight,
       the client on CPU (-1: anywhere); prints each counted round trip in ns. */
    int cpu = atoi(argv[6]);
    if (cpu >= 0 && pin_one(0, cpu) != 0) { perror("sched_setaffinity"); return 1; }
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)atoi(argv[3]));
    if (inet_pton(AF_INET, argv[2], &a.sin_addr) != 1) { fprintf(stderr, "bad address %s\n", argv[2]); return 2; }
    long count = atol(argv[4]), warm = atol(argv[5]);
    int fd = -1;
    for (int i = 0; ; i++) {
      fd = socket(AF_INET, SOCK_STREAM, 0);
      if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) break;
      int err = errno;
      close(fd);
      /* busybox nc -ll re-listens after each connection: a connect in that gap is refused. */
      if (err != ECONNREFUSED || i >= 200) { errno = err; perror("connect"); return 1; }
      usleep(10000);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int64_t *rtt = calloc((size_t)count, sizeof *rtt);
    if (!rtt) return 2;
    char c = 'x';
    for (long i = 0; i < warm + count; i++) {
      int64_t t0 = now_ns();
      if (write(fd, &c, 1) != 1) { perror("write"); return 1; }
      ssize_t n;
      do n = read(fd, &c, 1); while (n < 0 && errno == EINTR);
      if (n != 1) { fprintf(stderr, "read: %s\n", n == 0 ? "the echo server closed the connection" : strerror(errno)); return 1; }
      if (i >= warm) rtt[i - warm] = now_ns() - t0;
    }
    close(fd);
    printf("rtt_ns=");
    for (long i = 0; i < count; i++) printf(i ? ",%lld" : "%lld", (long long)rtt[i]);
    printf("\n");
    return 0;
  }
  if (argc >= 3 && strcmp(argv[1], "time") == 0) {
    int64_t t0 = now_ns();
    pid_t p = fork();
    if (p == 0) { execvp(argv[2], argv + 2); _exit(127); }
    int st = 0;
    waitpid(p, &st, 0);
    int64_t t1 = now_ns();
    printf("ns=%lld status=%d\n", (long long)(t1 - t0), WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    return 0;
  }
  void *buf;
  if (posix_memalign(&buf, 4096, 1 << 20) != 0) return 2;
  memset(buf, 0x5a, 1 << 20);
  if (argc == 4 && strcmp(argv[1], "write") == 0) {
    int direct;
    int fd = open_maybe_direct(argv[2], O_WRONLY | O_CREAT | O_TRUNC, &direct);
    if (fd < 0) { perror("open"); return 1; }
    long mib = atol(argv[3]);
    int64_t t0 = now_ns();
    for (long i = 0; i < mib; i++) if (write(fd, buf, 1 << 20) != (1 << 20)) { perror("write"); return 1; }
    fsync(fd);
    int64_t t1 = now_ns();
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
    printf("direct=%d bytes=%ld ns=%lld\n", direct, mib << 20, (long long)(t1 - t0));
    return 0;
  }
  if ((argc == 3 || argc == 4) && strcmp(argv[1], "seqread") == 0) {
    /* seqread FILE [REPEAT]: REPEAT reads of the whole file (O_DIRECT when accepted), one line each. */
    long repeat = argc == 4 ? atol(argv[3]) : 1;
    if (repeat < 1) { fprintf(stderr, "seqread: REPEAT must be at least 1\n"); return 2; }
    for (long r = 0; r < repeat; r++) {
      int direct;
      int fd = open_maybe_direct(argv[2], O_RDONLY, &direct);
      if (fd < 0) { perror("open"); return 1; }
      long total = 0;
      int64_t t0 = now_ns();
      for (;;) { ssize_t n = read(fd, buf, 1 << 20); if (n < 0) { perror("read"); return 1; } if (n == 0) break; total += n; }
      int64_t t1 = now_ns();
      close(fd);
      printf("direct=%d bytes=%ld ns=%lld\n", direct, total, (long long)(t1 - t0));
    }
    return 0;
  }
  if (argc == 5 && strcmp(argv[1], "randread") == 0) {
    int direct;
    int fd = open_maybe_direct(argv[2], O_RDONLY, &direct);
    if (fd < 0) { perror("open"); return 1; }
    struct stat s;
    fstat(fd, &s);
    long blocks = s.st_size / 4096, count = atol(argv[3]);
    rng ^= (uint64_t)atol(argv[4]) * 2654435761ULL;
    if (blocks <= 0) return 1;
    int64_t t0 = now_ns();
    for (long i = 0; i < count; i++) {
      off_t off = (off_t)(xorshift() % (uint64_t)blocks) * 4096;
      if (pread(fd, buf, 4096, off) != 4096) { perror("pread"); return 1; }
    }
    int64_t t1 = now_ns();
    close(fd);
    printf("direct=%d bytes=%ld ns=%lld\n", direct, count * 4096, (long long)(t1 - t0));
    return 0;
  }
  fprintf(stderr, "usage: isola-bench time PROG ARGS... | write FILE MIB | seqread FILE [REPEAT] | randread FILE COUNT SEED | rr HOST PORT COUNT WARM CPU | pin CPU PID...\n");
  return 2;
}
`;

const FLAGS = ['-O2', '-static', '-s'];

/** Builds the helper once per source version (cached under the assets folder); returns its path. */
export async function probeBinary(assets: string): Promise<string> {
  const hash = createHash('sha256').update(SOURCE).update(FLAGS.join(' ')).digest('hex').slice(0, 12);
  const dir = path.join(assets, 'bench');
  const bin = path.join(dir, `isola-bench-${hash}`);
  if (fs.existsSync(bin)) return bin;
  fs.mkdirSync(dir, { recursive: true });
  const src = path.join(dir, `isola-bench-${hash}.${process.pid}.c`);
  const tmp = `${bin}.${process.pid}.tmp`;
  fs.writeFileSync(src, SOURCE);
  try {
    const r = await run('cc', [...FLAGS, '-o', tmp, src]).catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
    if (r.code !== 0) {
      throw new IsolaError('UNAVAILABLE', `cannot build the static benchmark helper: ${r.stderr.trim().split('\n')[0] ?? ''}`, 'install gcc and libc6-dev (npm run bootstrap does)');
    }
    fs.renameSync(tmp, bin);
  } finally {
    fs.rmSync(src, { force: true });
    fs.rmSync(tmp, { force: true });
  }
  return bin;
}

export interface IoFigure {
  direct: boolean;
  bytes: number;
  ns: number;
}

export function parseIo(stdout: string): IoFigure | null {
  const m = /direct=(\d) bytes=(\d+) ns=(\d+)/.exec(stdout);
  return m ? { direct: m[1] === '1', bytes: Number(m[2]), ns: Number(m[3]) } : null;
}

/** Every read `isola-bench seqread FILE REPEAT` printed, one per line; null when none (or one malformed). */
export function parseIoAll(stdout: string): IoFigure[] | null {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  const out = lines.map(parseIo);
  return out.length && out.every((x): x is IoFigure => x !== null) ? out : null;
}

/** The round trips `isola-bench rr` printed, in microseconds; null when the line is missing or malformed. */
export function parseRtts(stdout: string): number[] | null {
  const m = /^rtt_ns=([\d,]+)$/m.exec(stdout);
  if (!m) return null;
  const xs = (m[1] as string).split(',').filter(Boolean).map((x) => Number(x) / 1000);
  return xs.length && xs.every((x) => Number.isFinite(x)) ? xs : null;
}

export function parseTime(stdout: string): { ns: number; status: number } | null {
  const m = /ns=(\d+) status=(\d+)/.exec(stdout);
  return m ? { ns: Number(m[1]), status: Number(m[2]) } : null;
}

/** Where the helper lives inside an instance (and in the native tree). */
export const HELPER_PATH = '/tmp/.isola-bench';

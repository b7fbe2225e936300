/**
 * The fact script: one POSIX shell script (busybox is enough) that prints what the kernel
 * knows about a process, in `== section ==` blocks. It runs where the workload's kernel is:
 * on the host for a process of the host kernel, inside the guest for a VM. `$1` is the pid to
 * read (`self` reads the script's own processes, which share the workload's sandbox).
 */
export const FACT_SCRIPT = `P=\${1:-self}
s() { echo "== $1 =="; }
s uname; uname -r
s boot_id; cat /proc/sys/kernel/random/boot_id
s status; cat /proc/$P/status
s uid_map; cat /proc/$P/uid_map
s attr; cat /proc/$P/attr/current 2>&1
s lsm; cat /sys/kernel/security/lsm 2>/dev/null
s ns; for n in /proc/$P/ns/*; do echo "\${n##*/} $(readlink $n)"; done
# pid 1's links, or the shell's own where pid 1 is not readable (isola runs in the initial namespaces)
R=1; readlink /proc/1/ns/pid >/dev/null 2>&1 || R=$$
s rootns_pid; echo $R
s rootns; for n in /proc/$R/ns/*; do echo "\${n##*/} $(readlink $n)"; done
s rootcaps; grep ^CapBnd /proc/$R/status
s mountinfo; cat /proc/$P/mountinfo
s cgroup; cat /proc/$P/cgroup
s limits
v2=0; [ -f /sys/fs/cgroup/cgroup.controllers ] && v2=1
while IFS=: read -r _ c p; do
  case ",$c," in
    *,memory,*) echo "memory $(cat /sys/fs/cgroup/memory$p/memory.limit_in_bytes 2>/dev/null)";;
    *,pids,*) echo "pids $(cat /sys/fs/cgroup/pids$p/pids.max 2>/dev/null)";;
    *,cpu,*) echo "cpu $(cat /sys/fs/cgroup/$c$p/cpu.cfs_quota_us 2>/dev/null) $(cat /sys/fs/cgroup/$c$p/cpu.cfs_period_us 2>/dev/null)";;
    ,,) if [ $v2 = 1 ]; then r=/sys/fs/cgroup$p
          echo "memory $(cat $r/memory.max 2>/dev/null)"; echo "pids $(cat $r/pids.max 2>/dev/null)"; echo "cpu $(cat $r/cpu.max 2>/dev/null)"; fi;;
  esac
done < /proc/$P/cgroup
s meminfo; head -n 1 /proc/meminfo
s cpus; grep -c ^processor /proc/cpuinfo
s end
`;

/** The sections of the script's output, by name. */
export function parseSections(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let name: string | null = null;
  let lines: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^== (\w+) ==$/.exec(line);
    if (m) {
      if (name) out.set(name, lines.join('\n'));
      name = m[1] ?? null;
      lines = [];
    } else if (name) lines.push(line);
  }
  if (name) out.set(name, lines.join('\n'));
  return out;
}

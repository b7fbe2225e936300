/** Kubernetes resource quantities from isola's bytes and CPUs. */
const MI = 1024 * 1024;
const GI = 1024 * MI;

/** Bytes as a quantity: Gi or Mi when exact, else Mi rounded up (never less than asked). */
export function memoryQuantity(bytes: number): string {
  if (bytes % GI === 0) return `${bytes / GI}Gi`;
  return `${Math.ceil(bytes / MI)}Mi`;
}

/** CPUs as a quantity: whole CPUs as a number, fractions in millicores ("500m"), at least 1m. */
export function cpuQuantity(cpus: number): string {
  const milli = Math.max(1, Math.round(cpus * 1000));
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}

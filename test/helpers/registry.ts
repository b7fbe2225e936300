// The registry peer lives with the benchmarks (npm run bench measures against it too).
export { REGISTRY_BIN, freePort, startRegistry, type TestRegistry } from '../../src/bench/peers/registry.js';

/**
 * Loaded by `npm test` (node --import) into every test file's process: a file that starts
 * instances waits here for the suite's lock before its tests run (see suite-lock.ts). Files
 * under test/unit decide for themselves, by making a fixture or not.
 */
import { holdSuiteLock } from './suite-lock.js';

if (/[/\\]test[/\\](integration|contract)[/\\]/.test(process.argv[1] ?? '')) await holdSuiteLock();

import { VERSION } from './version.js';

/**
 * The CLI's entry (bin/isola.js). Everything but the version is loaded on demand: `--version`
 * answers before commander and the verbs are even read, so it costs little more than Node's
 * own start.
 */
export async function main(argv: string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const { runProgram } = await import('./program.js');
  return runProgram(argv);
}

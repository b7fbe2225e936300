import { randomBytes } from 'node:crypto';

const ADJECTIVES = ['brave', 'calm', 'eager', 'fond', 'keen', 'lucid', 'merry', 'nimble', 'proud', 'quiet', 'sharp', 'swift', 'tidy', 'vivid', 'wise', 'zesty'];
const NOUNS = ['otter', 'heron', 'lynx', 'marten', 'ibis', 'gecko', 'bison', 'finch', 'koala', 'lemur', 'okapi', 'puffin', 'quokka', 'tapir', 'viper', 'wombat'];

export function newId(): string {
  return randomBytes(32).toString('hex');
}

/** A readable default name, as Docker gives one; a random suffix keeps parallel runs apart. */
export function randomName(): string {
  const b = randomBytes(4);
  return `${ADJECTIVES[(b[0] ?? 0) % ADJECTIVES.length]}_${NOUNS[(b[1] ?? 0) % NOUNS.length]}_${b.readUInt16BE(2).toString(16)}`;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;
export function isValidName(n: string): boolean {
  return NAME.test(n);
}

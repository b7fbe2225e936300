/**
 * Text changes `scripts/bundle.mjs` makes to esbuild's output (the build step; nothing here runs
 * when the CLI does). Kept apart from bundle-loader.ts, which bin/isola.js loads on every command.
 */

/**
 * esbuild's helper that wraps a CommonJS module (a Node built-in, commander) for an `import`; its
 * third parameter is named after what else the bundle declares (target, target2, ...).
 */
export const TO_ESM_HELPER = /var __toESM=\(mod,isNodeMode,(\w+)\)=>\(/g;

/**
 * esbuild wraps a required module anew at every `import` of it: each `import fs from 'node:fs'`
 * (about 130 in isola) copies every export of fs onto a fresh object as getters. This makes the
 * wrap once per module and mode, as an ES module namespace is one object however often it is
 * imported (measured: 3 ms less for `isola ps`, 6 ms for `isola run --help`, 35-36 of 40 rounds).
 * Returns null when the helper is not there once as expected (another esbuild): the caller
 * keeps the output as it is, which is only slower.
 */
export function memoizeToEsm(code: string): string | null {
  const found = [...code.matchAll(TO_ESM_HELPER)];
  if (found.length !== 1) return null;
  const m = found[0]!;
  const memo = 'var __isolaToESM=new WeakMap();'
    + 'var __toESM=(mod,isNodeMode)=>{'
    + 'if(mod==null||typeof mod!=="object"&&typeof mod!=="function")return __toESMOnce(mod,isNodeMode);'
    + 'let c=__isolaToESM.get(mod);if(!c)__isolaToESM.set(mod,c=[]);'
    + 'return c[isNodeMode?1:0]??=__toESMOnce(mod,isNodeMode)};'
    + `var __toESMOnce=(mod,isNodeMode,${m[1]})=>(`;
  return code.slice(0, m.index) + memo + code.slice(m.index + m[0].length);
}

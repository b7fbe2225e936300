import path from 'node:path';
import { constants as osConstants } from 'node:os';
import { dockerfileError, type Flag, type Instruction } from './dockerfile.js';
import { WordError, processWord, processWords } from './shell-words.js';
import { parseHealthcheck } from './healthcheck.js';
import type { ConfigBody, CopySource, Step } from './steps.js';

/**
 * One stage's instructions, dispatched in order against the stage's state (image config, build
 * arguments in scope), as BuildKit's dockerfile2llb does: every value is expanded here, so each
 * step carries exactly what it will do and what its cache key must cover.
 */
export interface StageState {
  config: ConfigBody;
  author?: string;
  /** Build arguments declared in this stage: name to value (undefined: declared, no value). */
  args: Map<string, string | undefined>;
  /** Whether CMD was set in this stage (ENTRYPOINT clears an inherited CMD only). */
  cmdSet: boolean;
}

export interface DispatchContext {
  file: string;
  escape: string;
  /** Values of ARGs declared before the first FROM, with --build-arg applied. */
  metaArgs: ReadonlyMap<string, string | undefined>;
  buildArgs: ReadonlyMap<string, string>;
  /** --build-arg names consumed by an ARG. */
  consumed: Set<string>;
  network: 'none' | 'bridge';
  /** A COPY --from value to its source: an earlier stage or an image. */
  copyFrom(value: string, line: number): Promise<CopySource>;
}

const DEFAULT_SHELL = ['/bin/sh', '-c'];
const SIGNALS = new Set(Object.keys(osConstants.signals));

/** The variables instructions expand with: build arguments in scope, overridden by ENV. */
export function substitutionEnv(state: StageState): Map<string, string> {
  const env = new Map<string, string>();
  for (const [k, v] of state.args) if (v !== undefined) env.set(k, v);
  for (const e of state.config.Env ?? []) {
    const i = e.indexOf('=');
    env.set(i < 0 ? e : e.slice(0, i), i < 0 ? '' : e.slice(i + 1));
  }
  return env;
}

/** Docker's rule: a variable set again keeps its place; a new one goes last. */
function setEnv(env: string[], key: string, value: string): string[] {
  const i = env.findIndex((e) => e.split('=')[0] === key);
  return i < 0 ? [...env, `${key}=${value}`] : env.map((e, j) => (j === i ? `${key}=${value}` : e));
}

function clone(config: ConfigBody): ConfigBody {
  return JSON.parse(JSON.stringify(config)) as ConfigBody;
}

export async function dispatch(ctx: DispatchContext, state: StageState, ins: Instruction): Promise<Step> {
  const fail = (message: string, hint?: string) => dockerfileError(ctx.file, ins.line, `${ins.keyword}: ${message}`, hint);
  const env = substitutionEnv(state);
  const word = (text: string): string => {
    try {
      return processWord(text, env, ctx.escape).value;
    } catch (e) {
      if (e instanceof WordError) throw fail(e.message, 'check the quotes and ${...} substitutions');
      throw e;
    }
  };
  const words = (text: string): string[] => {
    try {
      return processWords(text, env, ctx.escape).value;
    } catch (e) {
      if (e instanceof WordError) throw fail(e.message, 'check the quotes and ${...} substitutions');
      throw e;
    }
  };
  const flags = (allowed: string[]): Map<string, string | null> => {
    const out = new Map<string, string | null>();
    for (const f of ins.flags) {
      if (!allowed.includes(f.name)) throw fail(`unknown flag --${f.name}`, allowed.length > 0 ? `${ins.keyword} takes ${allowed.map((a) => `--${a}`).join(', ')}` : `${ins.keyword} takes no flags`);
      out.set(f.name, f.value);
    }
    return out;
  };
  const config = clone(state.config);
  const shellForm = (args: string): string[] => [...(config.Shell ?? DEFAULT_SHELL), args];
  const meta = (createdBy: string): Step => {
    state.config = config;
    return { kind: 'meta', line: ins.line, text: ins.text, createdBy, config: clone(config), ...(state.author !== undefined ? { author: state.author } : {}) };
  };

  switch (ins.keyword) {
    case 'ENV': {
      flags([]);
      let next = config.Env ?? [];
      const set: string[] = [];
      for (const p of ins.properties) {
        if (p.raw === null) throw fail(`"${p.name}" has no value`, 'write ENV NAME=VALUE');
        const name = word(p.name);
        if (name === '') throw fail('a variable name is empty', 'write ENV NAME=VALUE');
        const value = word(p.raw); // every value of one ENV sees the environment from before it
        next = setEnv(next, name, value);
        set.push(`${name}=${value}`);
      }
      if (set.length === 0) throw fail('no NAME=VALUE given', 'write ENV NAME=VALUE');
      config.Env = next;
      return meta(`ENV ${set.join(' ')}`);
    }
    case 'ARG': {
      flags([]);
      const decl: string[] = [];
      for (const p of ins.properties) {
        const name = p.name;
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw fail(`"${name}" is not a valid argument name`);
        let value: string | undefined;
        if (ctx.buildArgs.has(name)) {
          value = ctx.buildArgs.get(name);
          ctx.consumed.add(name);
        } else if (p.raw !== null) {
          value = word(p.raw);
        } else {
          value = ctx.metaArgs.get(name);
        }
        state.args.set(name, value);
        decl.push(value === undefined ? name : `${name}=${value}`);
      }
      return meta(`ARG ${decl.join(' ')}`);
    }
    case 'LABEL': {
      flags([]);
      const labels = { ...config.Labels };
      const set: string[] = [];
      for (const p of ins.properties) {
        const key = word(p.name);
        if (key === '' || p.raw === null) throw fail(`"${p.name}" needs a value`, 'write LABEL key=value');
        labels[key] = word(p.raw);
        set.push(`${key}=${labels[key]}`);
      }
      if (set.length === 0) throw fail('no key=value given', 'write LABEL key=value');
      config.Labels = labels;
      return meta(`LABEL ${set.join(' ')}`);
    }
    case 'MAINTAINER': {
      flags([]);
      state.author = ins.args;
      return meta(`MAINTAINER ${ins.args}`);
    }
    case 'CMD':
    case 'ENTRYPOINT': {
      flags([]);
      const argv = ins.json ?? shellForm(ins.args);
      if (ins.keyword === 'CMD') {
        config.Cmd = argv;
        state.cmdSet = true;
      } else {
        config.Entrypoint = argv;
        if (!state.cmdSet) config.Cmd = null; // an inherited CMD made no sense for the old entrypoint
      }
      return meta(`${ins.keyword} ${JSON.stringify(argv)}`);
    }
    case 'SHELL': {
      flags([]);
      if (!ins.json || ins.json.length === 0) throw fail('SHELL requires the arguments to be in JSON form', 'write SHELL ["/bin/sh", "-c"]');
      config.Shell = ins.json;
      return meta(`SHELL ${JSON.stringify(ins.json)}`);
    }
    case 'EXPOSE': {
      flags([]);
      const ports = { ...config.ExposedPorts };
      for (const w of words(ins.args)) {
        const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(w);
        const lo = Number(m?.[1]);
        const hi = m?.[2] ? Number(m[2]) : lo;
        if (!m || lo < 1 || hi > 65535 || hi < lo) throw fail(`invalid port "${w}"`, 'write PORT[/tcp|udp|sctp] or a range FROM-TO');
        for (let p = lo; p <= hi; p++) ports[`${p}/${(m[3] ?? 'tcp').toLowerCase()}`] = {};
      }
      config.ExposedPorts = ports;
      return meta(`EXPOSE ${Object.keys(ports).join(' ')}`);
    }
    case 'VOLUME': {
      flags([]);
      const list = ins.json ?? words(ins.args);
      const volumes = { ...config.Volumes };
      for (const v of list) {
        if (v.trim() === '') throw fail('a volume path is empty');
        volumes[v] = {};
      }
      config.Volumes = volumes;
      return meta(`VOLUME ${JSON.stringify(list)}`);
    }
    case 'USER': {
      flags([]);
      const user = word(ins.args);
      if (user === '' || /\s/.test(user)) throw fail(`"${user}" is not a user`, 'write USER name[:group] or uid[:gid]');
      config.User = user;
      return meta(`USER ${user}`);
    }
    case 'STOPSIGNAL': {
      flags([]);
      const sig = word(ins.args);
      const name = sig.toUpperCase().startsWith('SIG') ? sig.toUpperCase() : `SIG${sig.toUpperCase()}`;
      if (!/^\d+$/.test(sig) && !SIGNALS.has(name)) throw fail(`unknown signal "${sig}"`, 'write a signal name such as SIGTERM, or its number');
      config.StopSignal = sig;
      return meta(`STOPSIGNAL ${sig}`);
    }
    case 'HEALTHCHECK': {
      try {
        config.Healthcheck = parseHealthcheck(ins.args, ins.flags);
      } catch (e) {
        throw fail((e as Error).message, 'write HEALTHCHECK [--interval=30s ...] CMD command, or HEALTHCHECK NONE');
      }
      return meta(`HEALTHCHECK ${JSON.stringify(config.Healthcheck)}`);
    }
    case 'ONBUILD': {
      flags([]);
      const trigger = /^(\S+)/.exec(ins.args)?.[1]?.toUpperCase() ?? '';
      if (['ONBUILD', 'FROM', 'MAINTAINER'].includes(trigger)) throw fail(`${trigger} is not allowed as an ONBUILD trigger`);
      config.OnBuild = [...(config.OnBuild ?? []), ins.args];
      return meta(`ONBUILD ${ins.args}`);
    }
    case 'WORKDIR': {
      flags([]);
      const dir = word(ins.args);
      if (dir === '') throw fail('the folder is empty');
      const abs = path.posix.resolve(config.WorkingDir || '/', dir);
      config.WorkingDir = abs;
      state.config = config;
      return { kind: 'workdir', line: ins.line, text: ins.text, createdBy: `WORKDIR ${abs}`, config: clone(config), path: abs, ...(state.author !== undefined ? { author: state.author } : {}) };
    }
    case 'RUN':
      return run(ctx, state, ins, flags(['network', 'mount', 'security']), fail);
    case 'COPY':
    case 'ADD':
      return copy(ctx, state, ins, word, words, fail);
    case 'FROM':
      throw fail('FROM inside a stage', 'this is a bug in the stage splitter');
  }
}

function run(ctx: DispatchContext, state: StageState, ins: Instruction, flags: Map<string, string | null>, fail: (m: string, h?: string) => Error): Step {
  if (flags.has('mount')) throw fail('--mount is not supported by isola build', 'COPY what the step needs instead');
  if (flags.has('security')) throw fail('--security is not supported by isola build', 'drop the flag: RUN steps run with the default container security');
  const net = flags.get('network');
  let network = ctx.network;
  if (net === 'none') network = 'none';
  else if (net !== undefined && net !== 'default') throw fail(`--network=${net} is not supported`, 'use --network=none or --network=default (the build\'s --network)');
  const argv = ins.json ?? [...(state.config.Shell ?? DEFAULT_SHELL), ins.args];
  const imageEnv = state.config.Env ?? [];
  const has = new Set(imageEnv.map((e) => e.split('=')[0]));
  // Build arguments reach RUN through its environment only; ENV of the same name wins.
  const argEnv = [...state.args].filter(([k, v]) => v !== undefined && !has.has(k)).map(([k, v]) => `${k}=${v}`);
  const prefix = argEnv.length > 0 ? `|${argEnv.length} ${argEnv.join(' ')} ` : '';
  return {
    kind: 'run', line: ins.line, text: ins.text, createdBy: `RUN ${prefix}${argv.join(' ')}`, config: clone(state.config),
    ...(state.author !== undefined ? { author: state.author } : {}),
    argv, env: [...imageEnv, ...argEnv], user: state.config.User ?? '', workdir: state.config.WorkingDir || '/', network,
  };
}

async function copy(ctx: DispatchContext, state: StageState, ins: Instruction, word: (t: string) => string, words: (t: string) => string[], fail: (m: string, h?: string) => Error): Promise<Step> {
  const add = ins.keyword === 'ADD';
  const allowed = add ? ['chown', 'chmod', 'link', 'checksum', 'keep-git-dir'] : ['from', 'chown', 'chmod', 'link'];
  const flags = new Map<string, string | null>();
  for (const f of ins.flags as Flag[]) {
    if (!allowed.includes(f.name)) throw fail(`unknown flag --${f.name}`, `${ins.keyword} takes ${allowed.map((a) => `--${a}`).join(', ')}`);
    flags.set(f.name, f.value);
  }
  if (flags.has('checksum') || flags.has('keep-git-dir')) throw fail('--checksum and --keep-git-dir apply to URLs and git sources, which isola build does not fetch', 'download the file beside the Dockerfile and ADD or COPY it');
  const list = ins.json ?? words(ins.args);
  if (list.length < 2) throw fail('needs at least one source and a destination', `write ${ins.keyword} SRC... DEST`);
  const sources = list.slice(0, -1).map((s) => (ins.json ? word(s) : s));
  let dest = ins.json ? word(list[list.length - 1] as string) : (list[list.length - 1] as string);
  for (const s of sources) {
    if (/^(https?|git):\/\/|^git@/.test(s)) {
      throw fail(`a URL source (${s}) is not supported: isola build reads only the build context, so a build never depends on a server`, 'download it beside the Dockerfile and ADD it from there, or fetch it in a RUN step with --network bridge');
    }
  }
  if (sources.length > 1 || sources.some((s) => /[*?[]/.test(s))) {
    if (!dest.endsWith('/')) throw fail(`with several sources or a wildcard the destination must be a folder ending in / (${dest})`, `write ${dest}/`);
  }
  const trailing = dest.endsWith('/') || dest === '.' || dest.endsWith('/.');
  dest = path.posix.resolve(state.config.WorkingDir || '/', dest);
  if (trailing && dest !== '/') dest += '/';
  const chown = flags.has('chown') ? word(flags.get('chown') ?? '') : undefined;
  if (chown !== undefined && !/^[^:\s]+(:[^:\s]+)?$/.test(chown)) throw fail(`--chown=${chown} is not USER[:GROUP]`);
  let chmod: number | undefined;
  if (flags.has('chmod')) {
    const v = word(flags.get('chmod') ?? '');
    if (!/^[0-7]{3,4}$/.test(v)) throw fail(`--chmod=${v} is not an octal mode`, 'write --chmod=644 or --chmod=0755');
    chmod = parseInt(v, 8);
  }
  const fromFlag = flags.get('from');
  const from: CopySource = fromFlag ? await ctx.copyFrom(word(fromFlag), ins.line) : { kind: 'context' };
  const fromText = from.kind === 'stage' ? ` --from=${from.index}` : from.kind === 'image' ? ` --from=${from.ref}` : '';
  const opts = `${chown !== undefined ? ` --chown=${chown}` : ''}${chmod !== undefined ? ` --chmod=${chmod.toString(8)}` : ''}`;
  return {
    kind: 'copy', line: ins.line, text: ins.text, createdBy: `${ins.keyword}${fromText}${opts} ${sources.join(' ')} ${dest}`, config: clone(state.config),
    ...(state.author !== undefined ? { author: state.author } : {}),
    add, sources, dest, from, ...(chown !== undefined ? { chown } : {}), ...(chmod !== undefined ? { chmod } : {}),
  };
}

import { DEFAULT_PATH } from '../base.js';
import type { ImageConfig } from '../layout.js';
import { dockerfileError, parseDockerfile, type DockerfileDoc, type Instruction } from './dockerfile.js';
import { dispatch, type DispatchContext, type StageState } from './dispatch.js';
import { WordError, processWord, processWords } from './shell-words.js';
import type { BuildPlan, ConfigBody, CopySource, PlannedStage, StageBase } from './steps.js';

/**
 * A Dockerfile compiled to a plan, before anything runs: stages split at FROM, build arguments
 * scoped as Docker scopes them (ARGs before the first FROM serve FROM lines and are inherited by
 * a stage only when it declares them again; a stage's ARGs end with the stage), stage names and
 * `--target` resolved, only the stages the target needs kept, base images resolved (their config
 * seeds each stage), and every instruction expanded into a step (dispatch.ts).
 *
 * Planning reads images but writes nothing, so every error it finds (syntax, unknown
 * instruction, a blank FROM from a missing build argument, an unknown stage) stores nothing.
 */
export interface BaseImage {
  /** The stored name. */
  ref: string;
  /** Manifest digest. */
  digest: string;
  config: ImageConfig;
}

export interface PlanOptions {
  /** How messages name the Dockerfile. */
  file: string;
  buildArgs: ReadonlyMap<string, string>;
  target?: string;
  network: 'none' | 'bridge';
  /** Finds (or pulls) an image for FROM and COPY --from. */
  resolveImage(ref: string, line: number): Promise<BaseImage>;
}

/** BuildKit's automatic platform arguments, in the global scope (linux/amd64 is all isola runs). */
export const PLATFORM_ARGS: ReadonlyMap<string, string> = new Map([
  ['TARGETPLATFORM', 'linux/amd64'], ['TARGETOS', 'linux'], ['TARGETARCH', 'amd64'], ['TARGETVARIANT', ''],
  ['BUILDPLATFORM', 'linux/amd64'], ['BUILDOS', 'linux'], ['BUILDARCH', 'amd64'], ['BUILDVARIANT', ''],
]);

interface RawStage {
  index: number;
  from: Instruction;
  image: string;
  name: string | null;
  body: Instruction[];
}

const STAGE_NAME = /^[a-z][a-z0-9_.-]*$/;

function definedOnly(m: ReadonlyMap<string, string | undefined>): Map<string, string> {
  return new Map([...m].filter((e): e is [string, string] => e[1] !== undefined));
}

function splitStages(doc: DockerfileDoc, metaEnv: Map<string, string>, metaArgs: Map<string, string | undefined>, opts: PlanOptions, consumed: Set<string>): RawStage[] {
  const stages: RawStage[] = [];
  for (const ins of doc.instructions) {
    if (ins.keyword === 'FROM') {
      let words: string[];
      try {
        words = processWords(ins.args, metaEnv, doc.escape).value;
      } catch (e) {
        if (e instanceof WordError) throw dockerfileError(doc.file, ins.line, `FROM: ${e.message}`);
        throw e;
      }
      const used = processWord(ins.args, metaEnv, doc.escape).used;
      const image = words[0] ?? '';
      if (image === '') {
        const missing = [...used].filter((u) => !metaEnv.has(u) || metaEnv.get(u) === '');
        throw dockerfileError(doc.file, ins.line, `FROM ${ins.args}: the base image name is blank${missing.length > 0 ? `: build argument ${missing.join(', ')} has no value` : ''}`,
          missing.length > 0 ? `pass --build-arg ${missing[0]}=IMAGE, or give the ARG a default` : 'name an image, or scratch');
      }
      if (words.length !== 1 && !(words.length === 3 && words[1]?.toUpperCase() === 'AS')) {
        throw dockerfileError(doc.file, ins.line, `FROM ${ins.args}: expected FROM IMAGE [AS NAME]`);
      }
      const name = words[2]?.toLowerCase() ?? null;
      if (name !== null && !STAGE_NAME.test(name)) throw dockerfileError(doc.file, ins.line, `invalid stage name "${words[2]}"`, 'start with a letter; use letters, digits, _ . and -');
      if (name !== null && stages.some((s) => s.name === name)) throw dockerfileError(doc.file, ins.line, `duplicate stage name "${name}"`);
      for (const f of ins.flags) {
        if (f.name !== 'platform') throw dockerfileError(doc.file, ins.line, `FROM: unknown flag --${f.name}`, 'FROM takes --platform');
        const p = processWord(f.value ?? '', metaEnv, doc.escape).value;
        if (p !== 'linux/amd64') throw dockerfileError(doc.file, ins.line, `FROM --platform=${p}: isola builds only linux/amd64 images`, 'drop --platform or set it to linux/amd64');
      }
      stages.push({ index: stages.length, from: ins, image, name, body: [] });
    } else if (stages.length === 0) {
      if (ins.keyword !== 'ARG') throw dockerfileError(doc.file, ins.line, `${ins.keyword} before the first FROM`, 'only ARG may come before FROM; start the build stage with FROM IMAGE');
      for (const p of ins.properties) {
        const given = opts.buildArgs.get(p.name);
        if (given !== undefined) consumed.add(p.name);
        const value = given ?? (p.raw === null ? undefined : processWord(p.raw, metaEnv, doc.escape).value);
        metaArgs.set(p.name, value);
        if (value !== undefined) metaEnv.set(p.name, value);
        else metaEnv.delete(p.name);
      }
    } else {
      (stages[stages.length - 1] as RawStage).body.push(ins);
    }
  }
  if (stages.length === 0) throw dockerfileError(doc.file, null, 'no FROM instruction', 'a Dockerfile starts with FROM IMAGE (or FROM scratch)');
  return stages;
}

/** The stage a FROM or COPY --from names: a number or an earlier stage's name. */
function stageRef(stages: RawStage[], before: number, value: string): RawStage | undefined {
  if (/^\d+$/.test(value)) {
    const n = Number(value);
    return n < before ? stages[n] : undefined;
  }
  return stages.slice(0, before).find((s) => s.name === value.toLowerCase());
}

/** The stages the target needs (FROM an earlier stage, COPY --from), found before any is planned. */
function neededStages(stages: RawStage[], target: RawStage, metaEnv: Map<string, string>, escape: string): Set<number> {
  const needed = new Set<number>();
  const visit = (s: RawStage): void => {
    if (needed.has(s.index)) return;
    needed.add(s.index);
    const dep = stageRef(stages, s.index, s.image);
    if (dep) visit(dep);
    for (const ins of s.body) {
      const from = ins.flags.find((f) => f.name === 'from');
      if ((ins.keyword === 'COPY') && from?.value) {
        // Stage names in --from are plain words in practice; meta ARGs are the only variables
        // known before the stage is planned.
        const d = stageRef(stages, s.index, processWord(from.value, metaEnv, escape).value);
        if (d) visit(d);
      }
    }
  };
  visit(target);
  return needed;
}

function baseConfig(config: ConfigBody | undefined): ConfigBody {
  const c = JSON.parse(JSON.stringify(config ?? {})) as ConfigBody;
  // BuildKit gives every stage a PATH when its base has none (scratch, for instance).
  if (!(c.Env ?? []).some((e) => e.startsWith('PATH='))) c.Env = [DEFAULT_PATH, ...(c.Env ?? [])];
  return c;
}

export async function planBuild(content: string, opts: PlanOptions): Promise<BuildPlan> {
  const doc = parseDockerfile(content, opts.file);
  const consumed = new Set<string>();
  const metaArgs = new Map<string, string | undefined>(PLATFORM_ARGS);
  const metaEnv = definedOnly(metaArgs);
  const raw = splitStages(doc, metaEnv, metaArgs, opts, consumed);
  let target = raw[raw.length - 1] as RawStage;
  if (opts.target !== undefined) {
    const t = raw.find((s) => s.name === opts.target?.toLowerCase());
    if (!t) throw dockerfileError(doc.file, null, `target stage "${opts.target}" could not be found`, `the stages are named ${raw.filter((s) => s.name).map((s) => s.name).join(', ') || '(none)'}`);
    target = t;
  }
  const needed = neededStages(raw, target, metaEnv, doc.escape);
  const planned = new Map<number, { stage: PlannedStage; config: ConfigBody; author?: string }>();
  const stages: PlannedStage[] = [];
  for (const s of raw) {
    if (!needed.has(s.index)) continue;
    let base: StageBase;
    let config: ConfigBody;
    let author: string | undefined;
    let triggers: Instruction[] = [];
    const dep = stageRef(raw, s.index, s.image);
    if (dep) {
      const p = planned.get(dep.index);
      if (!p) throw dockerfileError(doc.file, s.from.line, `stage ${dep.index} is not planned`, 'this is a bug');
      base = { kind: 'stage', index: dep.index };
      config = p.config;
      author = p.author;
    } else if (s.image.toLowerCase() === 'scratch') {
      base = { kind: 'scratch' };
      config = baseConfig(undefined);
    } else {
      const img = await opts.resolveImage(s.image, s.from.line);
      base = { kind: 'image', ref: img.ref, digest: img.digest };
      config = baseConfig(img.config.config);
      author = img.config.author;
      // ONBUILD triggers of the base run first, as if written right after FROM, and are not inherited.
      if (config.OnBuild && config.OnBuild.length > 0) {
        triggers = parseDockerfile(config.OnBuild.join('\n'), `${doc.file} (ONBUILD of ${img.ref})`).instructions.map((t) => ({ ...t, line: s.from.line }));
        config.OnBuild = null;
      }
    }
    const state: StageState = { config, args: new Map(), cmdSet: false, ...(author !== undefined ? { author } : {}) };
    const ctx: DispatchContext = {
      file: doc.file, escape: doc.escape, metaArgs, buildArgs: opts.buildArgs, consumed, network: opts.network,
      copyFrom: async (value, line): Promise<CopySource> => {
        const st = stageRef(raw, s.index, value);
        if (st) return { kind: 'stage', index: st.index };
        if (/^\d+$/.test(value)) throw dockerfileError(doc.file, line, `COPY --from=${value}: there is no earlier stage ${value}`);
        const img = await opts.resolveImage(value, line);
        return { kind: 'image', ref: img.ref, digest: img.digest };
      },
    };
    const stage: PlannedStage = { index: s.index, name: s.name, line: s.from.line, text: s.from.text, base, steps: [] };
    for (const ins of [...triggers, ...s.body]) stage.steps.push(await dispatch(ctx, state, ins));
    planned.set(s.index, { stage, config: state.config, ...(state.author !== undefined ? { author: state.author } : {}) });
    stages.push(stage);
  }
  const unusedBuildArgs = [...opts.buildArgs.keys()].filter((k) => !consumed.has(k) && !PLATFORM_ARGS.has(k));
  return { file: doc.file, stages, unusedBuildArgs };
}

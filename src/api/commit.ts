import type { Call, Router } from './router.js';
import { badRequest } from './errors.js';
import { readBody, parseJsonObject, sendJson } from './http.js';
import { findInstance } from './containers.js';
import { localName } from './images.js';
import { commitInstance } from '../engine/commit.js';
import { parseReference } from '../image/ref.js';

/**
 * POST /commit (`docker commit`): the same engine call as `isola commit`. Query: container, repo,
 * tag, comment, author, pause (default true), changes (repeatable, or several lines in one). A
 * container config in the body (which `docker commit` never sends) is refused rather than ignored:
 * isola applies `changes` only.
 */
async function commit(c: Call): Promise<void> {
  const rec = findInstance(c, c.query.str('container') ?? '');
  const body = await readBody(c.req);
  if (body.length > 0 && body.toString('utf8').trim() !== 'null') {
    const cfg = parseJsonObject(body);
    if (Object.keys(cfg).length > 0) throw badRequest('a container config in the body is not applied by isola; pass Dockerfile instructions in changes (docker commit --change)');
  }
  const repo = c.query.str('repo');
  const tag = c.query.str('tag');
  if (!repo && tag) throw badRequest('tag needs repo');
  let ref: string | undefined;
  if (repo) {
    ref = `${localName(repo)}${tag ? `:${tag}` : ''}`;
    parseReference(ref); // 400 for what is not a reference
  }
  const changes = c.query.all('changes').flatMap((v) => v.split('\n')).map((v) => v.trim()).filter(Boolean);
  const comment = c.query.str('comment');
  const author = c.query.str('author');
  const out = await commitInstance(c.api.engine, rec.id, {
    changes, pause: c.query.bool('pause', true),
    ...(ref !== undefined ? { ref } : {}),
    ...(comment ? { message: comment } : {}),
    ...(author ? { author } : {}),
  });
  sendJson(c.res, 201, { Id: out.digest }); // isola's image id: the manifest digest
}

export function register(r: Router): void {
  r.add('POST', '/commit', commit);
}

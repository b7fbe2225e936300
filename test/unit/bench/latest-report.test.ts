import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { latestReportPath, saveLatestReport } from '../../../src/bench/latest-report.js';
import { parseMeasured } from '../../../src/advise/measured.js';
import { compareFixture } from '../advise/fixtures.js';

test('the latest compare report is kept whole in the data root, and reads back as --measured does', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-latest-'));
  try {
    const first = compareFixture();
    const file = saveLatestReport(root, first);
    assert.equal(file, path.join(root, 'compare', 'latest.json'));
    assert.equal(latestReportPath(root), file);
    const second = compareFixture({ accelerator: 'tcg' });
    saveLatestReport(root, second);
    assert.deepEqual(parseMeasured(fs.readFileSync(file, 'utf8'), file).result, second, 'the newer replaces the older');
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['latest.json'], 'no temporary file is left');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { configTable } from '../src/config/config.js';
import { REPO_ROOT } from './helpers/paths.js';

/** The README must stay true to the code it documents. */
describe('README', () => {
  it('shows the two setup commands first', async () => {
    const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
    const firstBlock = readme.slice(readme.indexOf('```sh'), readme.indexOf('```', readme.indexOf('```sh') + 5));
    assert.match(firstBlock, /npm install && npm start/);
    assert.match(firstBlock, /npm test/);
  });

  it('documents every configuration variable exactly as the config module defines it', async () => {
    const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
    assert.ok(readme.includes(configTable()), 'README configuration table is out of date: paste the output of configTable()');
  });
});

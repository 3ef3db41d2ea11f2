#!/usr/bin/env node
// Runs every *.test.js under dist/ with Node's test runner, on every supported Node:
// Node 20 takes directories but no globs, Node 22 globs but no directories, so the
// list of files is made here. Options go to the runner (e.g. --test-name-pattern);
// other arguments name the files to run.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

// Arguments that are not options name the test files (a subset); none: every one.
const named = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const options = process.argv.slice(2).filter((a) => a.startsWith('-'));
const files = named.length
  ? named
  : walk('dist')
      .filter((f) => f.endsWith('.test.js'))
      .sort();
if (files.length === 0) {
  console.error('no test files under dist/: run `npm run build` first');
  process.exit(1);
}
const run = spawnSync(process.execPath, ['--test', '--test-timeout=300000', ...options, ...files], { stdio: 'inherit' });
process.exit(run.status ?? 1);

#!/usr/bin/env node
// Prints the README's configuration table from the config module (`npm run docs:config`,
// after `npm run build`); test/docs.test.ts fails when the README's copy differs.
import { configTable } from '../dist/src/config/config.js';

console.log(configTable());

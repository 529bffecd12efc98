// npm run suite <name> -- [options]: runs suites/<name>.ts through the runner.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SuiteDefinition } from '../core/matrix.ts';
import { runSuite } from '../runner/index.ts';

const suitesDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'suites');
const available = readdirSync(suitesDir).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3)).sort();
const [name, ...rest] = process.argv.slice(2);

if (!name || name === '--help' || name === '-h') {
  process.stderr.write(`usage: npm run suite <name> -- [options]   (suites: ${available.join(', ')}; <name> -- --help for options)\n`);
  process.exit(name ? 0 : 2);
}
if (!available.includes(name) || !existsSync(join(suitesDir, `${name}.ts`))) {
  process.stderr.write(`virtbench: unknown suite '${name}'; valid: ${available.join(', ')}\n`);
  process.exit(2);
}
const def = (await import(join(suitesDir, `${name}.ts`))).default as SuiteDefinition;
process.exitCode = await runSuite(def, rest);

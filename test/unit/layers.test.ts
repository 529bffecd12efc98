// Dependencies point down (DESIGN.md, "The flow"): cli -> runner -> {drivers, workloads, monitors,
// analysis} -> core. Checked on every import of the source (static, re-exports, side-effect,
// dynamic and `import('...')` types), read by TypeScript's own pre-processor.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The project folder a file's relative imports land in (package and node: imports are not the project's). */
function importedFolders(file: string, text: string): { spec: string; folder: string }[] {
  return ts
    .preProcessFile(text, true, true)
    .importedFiles.map((f) => f.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => ({ spec, folder: relative(root, resolve(dirname(file), spec)).split(sep)[0]! }));
}

function tsFiles(folder: string): string[] {
  return readdirSync(join(root, folder), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(root, folder, f));
}

/** Imports of files under `folders` that land in a folder not in `allowed` ("file: spec"). */
function violations(folders: string[], allowed: (folder: string) => boolean): string[] {
  return folders.flatMap((folder) =>
    tsFiles(folder).flatMap((file) =>
      importedFolders(file, readFileSync(file, 'utf8'))
        .filter((i) => !allowed(i.folder))
        .map((i) => `${relative(root, file)}: ${i.spec}`),
    ),
  );
}

test('the import reader sees every form of import', (t) => {
  const file = join(root, 'core', 'x.ts');
  const text = [
    "import { a } from '../drivers/index.ts';",
    "import type { B } from '../analysis/adaptive.ts';",
    "export { c } from '../runner/index.ts';",
    "import './rng.ts';",
    "type D = import('../monitors/proc.ts').ProcStat;",
    "const e = await import('../workloads/index.ts');",
    "import { execa } from 'execa';",
    "import { join } from 'node:path';",
  ].join('\n');
  t.deepEqual(
    importedFolders(file, text).map((i) => i.folder),
    ['drivers', 'analysis', 'runner', 'core', 'monitors', 'workloads'],
  );
});

test('core/ imports nothing outside core/', (t) => {
  t.true(tsFiles('core').length > 10, 'core/ was read');
  t.deepEqual(violations(['core'], (f) => f === 'core'), []);
});

test('nothing below the runner imports the runner or the command line', (t) => {
  t.deepEqual(violations(['core', 'drivers', 'workloads', 'experiments', 'monitors', 'analysis', 'suites'], (f) => f !== 'runner' && f !== 'cli'), []);
});

// npm run baseline accept <result dir> [--note TEXT]   record a run as the accepted baseline of its suite and host
// npm run baseline list                                every accepted baseline
// npm run baseline path <suite> [host]                 the baseline directory (default host: this one)
import { hostname } from 'node:os';
import { UsageError } from '../core/errors.ts';
import { acceptBaseline, listBaselines, resolveBaseline } from '../analysis/baseline.ts';
import { cliMain, parseCli } from '../analysis/cli-support.ts';
import { TOLERANCE_FILE } from '../analysis/tolerance.ts';

const USAGE = `usage: npm run baseline accept <result dir> [-- --note TEXT] [--allow-partial]
       npm run baseline list
       npm run baseline path <suite> [host]

accept copies the run (manifest.json, samples.jsonl, summary.csv) to
<results>/baselines/<suite>/<host>/, moves the baseline it replaces to history/<stamp>/ there,
and keeps (or, the first time, creates) ${TOLERANCE_FILE} beside it.

options:
  --results DIR     results root (default results)
  --note TEXT       why this run was accepted (kept in accepted.json)
  --allow-partial   accept an interrupted run (not recommended)
  -h, --help        this text`;

await cliMain(async () => {
  const { values: v, positionals } = parseCli(process.argv.slice(2), {
    results: { type: 'string' },
    note: { type: 'string' },
    'allow-partial': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const root = v.results ?? 'results';
  const [cmd, ...args] = positionals;
  switch (cmd) {
    case 'accept': {
      if (args.length !== 1) throw new UsageError('expected: npm run baseline accept <result dir>');
      const r = await acceptBaseline(args[0]!, { root, note: v.note, allowPartial: v['allow-partial'] });
      process.stdout.write(`accepted ${r.info.source} as the baseline of suite '${r.info.suite}' on host '${r.info.host}': ${r.dir}\n`);
      if (r.replaced) process.stdout.write(`previous baseline kept in ${r.replaced}\n`);
      if (r.toleranceCreated) process.stdout.write(`wrote a tolerance file with the defaults, to edit: ${r.dir}/${TOLERANCE_FILE}\n`);
      return 0;
    }
    case 'list': {
      if (args.length !== 0) throw new UsageError('expected: npm run baseline list');
      const all = listBaselines(root);
      if (all.length === 0) process.stdout.write(`no accepted baseline under ${root}/baselines\n`);
      for (const b of all) process.stdout.write(`${b.suite}\t${b.host}\t${b.info ? `accepted ${b.info.acceptedAt} from ${b.info.source}${b.info.note ? ` (${b.info.note})` : ''}` : '(no accepted.json)'}\t${b.dir}\n`);
      return 0;
    }
    case 'path': {
      if (args.length < 1 || args.length > 2) throw new UsageError('expected: npm run baseline path <suite> [host]');
      process.stdout.write(resolveBaseline(args[0]!, args[1] ?? hostname(), root) + '\n');
      return 0;
    }
    default:
      throw new UsageError(cmd === undefined ? 'expected a command: accept, list or path (see --help)' : `unknown command '${cmd}'; valid: accept, list, path`);
  }
});

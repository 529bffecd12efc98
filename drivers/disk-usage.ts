// Bytes a directory tree really occupies on the host's disk (allocated blocks, as du counts them):
// what a new guest's private layer or directory costs (the study's Table 4 increment).
import { execa } from 'execa';

export async function treeUsageBytes(dir: string): Promise<number> {
  const r = await execa('du', ['-s', '-B1', '-x', dir], { reject: false });
  if (r.exitCode !== 0) throw new Error(`du ${dir} failed: ${r.stderr.trim().split('\n').at(-1) ?? `exit ${r.exitCode}`}`);
  return Number(r.stdout.split('\t')[0]);
}

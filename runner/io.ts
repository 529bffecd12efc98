// Where the runner's lines go: `out` for what the command answers (a plan, a verdict), `err` for the
// log of what it does. Tests pass their own to read both.
export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

export const stdio: Io = { out: (l) => process.stdout.write(l + '\n'), err: (l) => process.stderr.write(l + '\n') };

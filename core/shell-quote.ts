// The one shell quoter of the harness, and `shellLine`, a zx-style tagged template that builds a
// command line with every interpolated value quoted (arrays become several words, as in zx).
//
// Why not zx's own `quote`: it writes bash's $'...' for any value that is not a plain word, which
// POSIX sh does not know. Debian's /bin/sh is dash, and the watchdog scripts and some guests'
// shells run there: under dash, zx's quote turns "a b" into the two characters "$a b" and "it's"
// into a syntax error. zx's `quotePowerShell` doubles single quotes, which sh reads as the end and
// start of two quoted strings ("it's" becomes "its"). Single quotes, with each ' written as '\'',
// mean the same thing in dash, bash and busybox ash, for every byte string (newlines included).
//
// Every value is quoted, plain words and numbers too: a bare word can change meaning where it
// lands (`echo ${n}>f` with n = 2 is a redirection of stderr; `${x} cmd` with x = "A=b" is an
// assignment; "if" or "time" in command position is a keyword), a quoted one cannot.
// A value is a whole word (or glued to literal text): never put one inside "...", '...' or $((...)),
// where the quotes would become part of the text.

/** What may be interpolated: strings, finite numbers, and arrays of them (one word each). */
export type ShellValue = string | number | readonly (string | number)[];

/** One word for a POSIX shell (sh, dash, bash, ash) that stands for exactly `value`. */
export function quoteSh(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function word(v: unknown, at: number): string {
  if (typeof v === 'string') return quoteSh(v);
  if (typeof v === 'number' && Number.isFinite(v)) return quoteSh(String(v));
  // undefined, null, NaN or an object would otherwise reach the guest as "undefined" or "[object Object]"
  throw new TypeError(`shell value #${at + 1} is ${typeof v === 'number' ? v : v === null ? 'null' : typeof v}: only strings, finite numbers and arrays of them are quoted`);
}

function quoted(v: unknown, at: number): string {
  return Array.isArray(v) ? v.map((x) => word(x, at)).join(' ') : word(v, at);
}

/** The command line of a tagged template: the literal text as written, every value quoted. */
export function buildShellLine(pieces: TemplateStringsArray, values: readonly unknown[]): string {
  let line = pieces[0] ?? '';
  values.forEach((v, i) => (line += quoted(v, i) + (pieces[i + 1] ?? '')));
  return line;
}

/**
 * A command line (or script) built like zx's `$`, for places that run it elsewhere: a watchdog's
 * `sh -c`, an `lxc-attach ... bash -c` argument, the QEMU guest agent.
 *   shellLine`mkdir -p ${dir} && cd ${dir}`   // dir = "/tmp/a b" -> mkdir -p '/tmp/a b' && cd '/tmp/a b'
 */
export function shellLine(pieces: TemplateStringsArray, ...values: ShellValue[]): string {
  return buildShellLine(pieces, values);
}

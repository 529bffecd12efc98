// The network adversary: a flood of small UDP packets at a UDP server, both in the neighbour's
// own guest, sent only to that guest's address on the harness network. Everything the flood
// costs (sending, the kernel's UDP path, receiving) is charged to the neighbour's guest, which
// shares the host's network stack and softirq CPU time with the measured guest on every platform.
// Bounded: a packet count and a deadline in the sender itself, a deadline in the sink, the
// runner's deadline kill and a watchdog that outlives the harness from outside, and the guest's
// cgroup limits. Sender and sink are perl (perl-base is in every Debian).
import { guestShell } from '../core/guest-shell.ts';
import { shellLine } from '../core/shell-quote.ts';
import type { Guest, Neighbour, ProfileName, RunContext, RunningNeighbour } from '../core/types.ts';
import { adversaryWatchdog, ownDeadlineS } from './adversary-bounds.ts';
import { addressOf, ensureCommands, portFor, startServer, waitUntilReady } from './service-util.ts';

/** Packet payload bytes (small packets: the cost is per packet). */
export const PAYLOAD_BYTES = 64;
/** Packets the whole flood may send per profile (senders split it). */
export const MAX_PACKETS: Record<ProfileName, number> = { smoke: 30_000_000, quick: 300_000_000, paper: 3_000_000_000 };

export function sinkScript(o: { host: string; port: number; dir: string; deadlineS: number }): string {
  const perl = [
    'use IO::Socket::INET;',
    // the sink's own deadline: SIGALRM ends it (its last count is saved first)
    `my $s = IO::Socket::INET->new(LocalAddr => "${o.host}", LocalPort => ${o.port}, Proto => "udp") or die "udp sink ${o.host}:${o.port}: $!\\n";`,
    'open(my $r, ">", "ready"); close($r);',
    `$SIG{ALRM} = sub { save(); exit 0; }; alarm ${Math.ceil(o.deadlineS)};`,
    'my ($n, $bytes, $last, $buf) = (0, 0, time, "");',
    'sub save { open(my $f, ">", "received.tmp"); print $f "$n $bytes\\n"; close($f); rename("received.tmp", "received"); }',
    'while (defined $s->recv($buf, 65536)) { $n++; $bytes += length $buf; if (($n & 4095) == 0 && time != $last) { $last = time; save(); } }',
    'save();',
  ].join(' ');
  return shellLine`mkdir -p ${o.dir} && cd ${o.dir} && rm -f ready received && exec perl -e ${perl}`;
}

export function senderScript(o: { host: string; port: number; dir: string; id: number; maxPackets: number; deadlineS: number; payloadBytes: number }): string {
  const perl = [
    'use IO::Socket::INET;',
    `my $s = IO::Socket::INET->new(PeerAddr => "${o.host}", PeerPort => ${o.port}, Proto => "udp") or die "udp sender: $!\\n";`,
    `my $p = "x" x ${o.payloadBytes}; my $max = ${o.maxPackets}; my $end = time + ${Math.ceil(o.deadlineS)};`,
    'my ($n, $failed, $last) = (0, 0, time);',
    `sub save { open(my $f, ">", "sent-${o.id}.tmp"); print $f "$n $failed\\n"; close($f); rename("sent-${o.id}.tmp", "sent-${o.id}"); }`,
    'while ($n + $failed < $max) { for (1..256) { if (defined $s->send($p)) { $n++ } else { $failed++ } } my $t = time; if ($t != $last) { $last = $t; save(); last if $t >= $end; } }',
    'save();',
  ].join(' ');
  return shellLine`cd ${o.dir} && exec perl -e ${perl}`;
}

async function readCounts(guest: Guest, dir: string): Promise<{ sent: number; failed: number; received: number }> {
  const r = await guestShell(guest, { timeoutMs: 10_000 })`cd ${dir} 2>/dev/null && cat sent-* 2>/dev/null; echo ---; cat received 2>/dev/null`.nothrow();
  const [sentPart = '', recvPart = ''] = r.stdout.split('---');
  let sent = 0;
  let failed = 0;
  for (const line of sentPart.trim().split('\n').filter(Boolean)) {
    const [a = '0', b = '0'] = line.trim().split(/\s+/);
    sent += Number(a) || 0;
    failed += Number(b) || 0;
  }
  const received = Number(recvPart.trim().split(/\s+/)[0]) || 0;
  return { sent, failed, received };
}

const udpFlood: Neighbour = {
  name: 'udp-flood',
  resource: 'network',
  kind: 'adversarial',
  description: `floods a UDP server in its own guest with ${PAYLOAD_BYTES}-byte packets at its harness address, bounded in packets and time`,
  guestPackages: [],
  async setup(guest: Guest, ctx: RunContext) {
    addressOf(guest);
    await ensureCommands(guest, [{ command: 'perl', pkg: 'perl-base' }], { signal: ctx.signal, log: ctx.log });
  },
  async start(guest: Guest, ctx: RunContext): Promise<RunningNeighbour> {
    const host = addressOf(guest);
    const port = portFor(guest.name, 'udp-sink');
    const dir = `${guest.workdir}/udp-flood`;
    const deadlineS = ownDeadlineS(ctx);
    const watchdog = adversaryWatchdog(guest, ctx);
    const sink = startServer(guest, sinkScript({ host, port, dir, deadlineS }));
    try {
      await waitUntilReady(
        `UDP sink in guest ${guest.name} at ${host}:${port}`,
        sink,
        async () => (await guestShell(guest, { timeoutMs: 10_000 })`test -f ${dir}/ready`.nothrow()).exitCode === 0,
        15_000,
        ctx.signal,
      );
    } catch (err) {
      watchdog.cancel(); // no flood started; the guest is destroyed by the runner
      throw err;
    }
    const senders = Math.max(1, guest.spec.vcpus);
    const maxPackets = Math.floor(MAX_PACKETS[ctx.profile.name] / senders);
    const procs = Array.from({ length: senders }, (_, id) => guest.spawn(senderScript({ host, port, dir, id, maxPackets, deadlineS, payloadBytes: PAYLOAD_BYTES })));
    const t0 = Date.now();
    return {
      async stop() {
        for (const p of procs) p.kill('SIGTERM');
        await new Promise((r) => setTimeout(r, 1200)); // let the sink write its last count
        const counts = await readCounts(guest, dir);
        for (const p of procs) p.kill('SIGKILL');
        sink.proc.kill('SIGKILL');
        try {
          await guest.killAll();
        } finally {
          watchdog.cancel();
        }
        const seconds = (Date.now() - t0) / 1000;
        return {
          detail: {
            target: `${host}:${port}`,
            senders,
            packetsSent: counts.sent,
            sendFailures: counts.failed,
            packetsReceived: counts.received,
            sentPerSecond: Math.round(counts.sent / Math.max(seconds, 1e-3)),
            payloadBytes: PAYLOAD_BYTES,
            seconds: Math.round(seconds * 10) / 10,
          },
        };
      },
    };
  },
};

export default udpFlood;

import test from 'ava';
import { CHUNK_BYTES, bombCap, bombScript } from '../../workloads/malloc-bomb.ts';
import { MAX_PACKETS, PAYLOAD_BYTES, senderScript, sinkScript } from '../../workloads/udp-flood.ts';

const GiB = 1024 ** 3;

test('malloc bomb: grows in 16 MiB steps to at most twice the guest plus 256 MiB, restarts until its deadline', (t) => {
  t.is(CHUNK_BYTES, 16 * 1024 ** 2);
  t.is(bombCap(GiB), 2 * GiB + 256 * 1024 ** 2);
  const s = bombScript({ dir: '/w/mb', capBytes: bombCap(GiB), chunkBytes: CHUNK_BYTES, deadlineS: 90.5 });
  t.regex(s, /for \(1\.\.144\) \{ push @a, "x" x 16777216; \}/);
  t.regex(s, /end=\$\(\(SECONDS \+ 91\)\)/);
  t.regex(s, /while \[ \$SECONDS -lt \$end \]/);
});

test('udp flood: small packets, only at the address it is given, bounded in packets and time', (t) => {
  t.is(PAYLOAD_BYTES, 64);
  t.true(MAX_PACKETS.smoke < MAX_PACKETS.quick && MAX_PACKETS.quick < MAX_PACKETS.paper);
  const send = senderScript({ host: '10.1.2.3', port: 31000, dir: '/w/uf', id: 0, maxPackets: 1000, deadlineS: 60, payloadBytes: 64 });
  t.regex(send, /PeerAddr => "10\.1\.2\.3", PeerPort => 31000/);
  t.regex(send, /my \$max = 1000; my \$end = time \+ 60;/);
  t.regex(send, /while \(\$n \+ \$failed < \$max\)/);
  t.regex(send, /last if \$t >= \$end/);
  // the only addresses in either script are the one given
  const sink = sinkScript({ host: '10.1.2.3', port: 31000, dir: '/w/uf', deadlineS: 75 });
  t.regex(sink, /alarm 75;/);
  for (const s of [send, sink]) t.deepEqual([...new Set(s.match(/\d+\.\d+\.\d+\.\d+/g))], ['10.1.2.3']);
});

// Where a Docker launch's time goes on this host: the harness's own daemon and image (as a
// lifecycle run prepares them), then N times `docker run -d` alone, `docker exec ... true` alone,
// and `docker rm -f`. Compares the study's 0.3 s container launch with what the lifecycle suite's
// docker/launch ready_s includes (run, inspect, veth, exec). Usage (root, nothing else running):
//   flock /tmp/vb-machine.lock npx tsx contrib/docker-launch-parts.ts [N]
import { execa } from 'execa';
import { cleanupAll } from '../core/cleanup.ts';
import { median } from 'simple-statistics';
import docker, { DOCKER, IMAGE_REPO } from '../drivers/docker.ts';
import { smokeContext } from '../test/smoke-context.ts';

const n = Number(process.argv[2] ?? 10);
const secs = async (args: string[]) => {
  const t0 = performance.now();
  await execa(DOCKER, args);
  return (performance.now() - t0) / 1000;
};
try {
  await docker.prepare!({ ...smokeContext, log: () => undefined } as never);
  const tag = (await execa(DOCKER, ['images', '--format', '{{.Repository}}:{{.Tag}}', IMAGE_REPO])).stdout.split('\n')[0]!;
  const run: number[] = [], exec: number[] = [], rm: number[] = [];
  for (let i = 0; i < n; i++) {
    const name = `virtbench-parts-${process.pid}-${i}`;
    run.push(await secs(['run', '-d', '--pull', 'never', '--network', 'none', '--name', name, tag]));
    exec.push(await secs(['exec', name, 'true']));
    rm.push(await secs(['rm', '-f', name]));
  }
  const fmt = (v: number[]) => `median ${median(v).toFixed(3)} s (min ${Math.min(...v).toFixed(3)}, max ${Math.max(...v).toFixed(3)})`;
  console.log(`image ${tag}, ${n} times:\n  docker run -d: ${fmt(run)}\n  docker exec true: ${fmt(exec)}\n  docker rm -f: ${fmt(rm)}`);
} finally {
  await cleanupAll();
}

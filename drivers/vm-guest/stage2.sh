#!/bin/sh
# virtbench stage 2, in the guest's own root under tini: the few mounts a Debian userland expects
# (no systemd: nothing else starts, so a guest is ready as soon as the agent runs), the cgroup
# tree the agent runs commands in, then the agent. The host configures the rest (network,
# shares, limits) through the agent, so that nothing here depends on the platform.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
mkdir -p /dev/pts /dev/shm /sys/fs/cgroup /tmp /var/tmp
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts
mount -t tmpfs -o nosuid,nodev tmpfs /dev/shm
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
[ -e /dev/ptmx ] || ln -s pts/ptmx /dev/ptmx
chmod 1777 /tmp /var/tmp
for c in cpuset cpu io memory pids; do echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; done
mkdir -p /sys/fs/cgroup/vb
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    vb.name=*) hostname "${arg#vb.name=}" ;;
  esac
done
ip link set lo up 2>/dev/null || /run/vb/busybox ip link set lo up
# the agent (and what it forks before joining its command's cgroup) is the last thing to be OOM-killed
echo -1000 > /proc/self/oom_score_adj
echo "VB-STAGE2 uptime $(cut -d' ' -f1 /proc/uptime)" > /dev/console
exec /usr/bin/perl /run/vb/agent.pl vb.agent

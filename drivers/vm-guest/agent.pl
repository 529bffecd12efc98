#!/usr/bin/perl
# virtbench guest agent: runs the host's commands inside a VM, over a virtio-serial port.
#
# Why this and not SSH: it needs nothing in the guest image but perl-base, which is Essential in
# Debian (so the very rootfs the LXC driver uses works unchanged as a lightvm root), no network
# (guests without a harness address still take commands), no keys, no daemon start-up time.
# The protocol and the host side are in drivers/vm-agent.ts. Every command runs in its own
# cgroup under /sys/fs/cgroup/vb, so that one command, or every command (killAll), can be killed
# at once with cgroup.kill, fork bombs included, while the agent and init live on.
#
# Frame: type (1 byte), id (u32 BE), length (u32 BE), payload.
#   host -> guest: P ping | X exec "flags\nscript" | I stdin | E stdin EOF | K signal | A kill all
#   guest -> host: H hello "uptime" | S started "pid" | O stdout | R stderr
#                  Z exit "exit N" or "signal N" | F failed to start | a kill-all done
use strict;
use warnings;
use POSIX ();

$SIG{PIPE} = 'IGNORE';
my $CHLD = 0;
$SIG{CHLD} = sub { $CHLD = 1 };
my $CG = '/sys/fs/cgroup/vb';
my $PORT_NAME = shift // 'vb.agent';
# After a command's process ended, how long its output pipes may stay open (held by a background
# child it left running) before the exit is reported anyway.
my $EXIT_GRACE = 1.0;

sub now { return POSIX::clock_gettime(POSIX::CLOCK_MONOTONIC()) if defined &POSIX::clock_gettime; return time }

sub find_port {
  for (my $i = 0; ; $i++) {
    for my $d (glob '/sys/class/virtio-ports/*') {
      open(my $f, '<', "$d/name") or next;
      my $n = <$f> // '';
      close $f;
      chomp $n;
      next unless $n eq $PORT_NAME;
      my $dev = '/dev/' . (split m{/}, $d)[-1];
      return $dev if -e $dev;
    }
    die "agent: no virtio-serial port named $PORT_NAME\n" if $i > 400;
    select(undef, undef, undef, 0.025);
  }
}

my $dev = find_port();
sysopen(my $P, $dev, POSIX::O_RDWR()) or die "agent: open $dev: $!\n";
binmode $P;

sub send_frame {
  my ($t, $id, $data) = @_;
  $data //= '';
  my $buf = pack('a1 N N', $t, $id, length $data) . $data;
  while (length $buf) {
    my $n = syswrite($P, $buf);
    if (!defined $n) {
      next if $!{EINTR} || $!{EAGAIN};
      return;
    }
    substr($buf, 0, $n, '');
  }
}

sub write_file {
  my ($path, $text) = @_;
  open(my $f, '>', $path) or return 0;
  my $ok = print $f $text;
  close($f) or $ok = 0;
  return $ok;
}

sub populated {
  my ($cg) = @_;
  open(my $f, '<', "$cg/cgroup.events") or return 0;
  local $/;
  my $t = <$f>;
  close $f;
  return ($t // '') =~ /^populated 1/m ? 1 : 0;
}

sub uptime {
  open(my $f, '<', '/proc/uptime') or return '0';
  my $l = <$f> // '0';
  close $f;
  return (split ' ', $l)[0];
}

my %cmds;      # id -> command state
my %by_pid;    # pid -> id
my @stale_cgroups;

sub set_nonblock {
  my ($fh) = @_;
  my $fl = fcntl($fh, POSIX::F_GETFL(), 0) or return;
  fcntl($fh, POSIX::F_SETFL(), $fl | POSIX::O_NONBLOCK());
}

sub start_cmd {
  my ($id, $payload) = @_;
  my ($flags, $script) = split /\n/, $payload, 2;
  $script //= '';
  my ($out_r, $out_w, $err_r, $err_w, $in_r, $in_w);
  unless (pipe($out_r, $out_w) && pipe($err_r, $err_w)) { send_frame('F', $id, "pipe: $!"); return; }
  my $want_in = index($flags, 'i') >= 0;
  if ($want_in && !pipe($in_r, $in_w)) { send_frame('F', $id, "pipe: $!"); return; }
  my $cg = "$CG/c$id";
  mkdir $cg;
  my $pid = fork;
  if (!defined $pid) {
    send_frame('F', $id, "fork: $!");
    rmdir $cg;
    return;
  }
  if ($pid == 0) {
    POSIX::setsid();
    write_file("$cg/cgroup.procs", "$$\n");
    write_file('/proc/self/oom_score_adj', '0');    # the agent is protected, its commands are not
    if ($want_in) { open(STDIN, '<&', $in_r) or POSIX::_exit(126) }
    else { open(STDIN, '<', '/dev/null') or POSIX::_exit(126) }
    open(STDOUT, '>&', $out_w) or POSIX::_exit(126);
    open(STDERR, '>&', $err_w) or POSIX::_exit(126);
    $SIG{PIPE} = 'DEFAULT';
    $SIG{CHLD} = 'DEFAULT';
    chdir '/';
    # every other descriptor is close-on-exec (perl sets FD_CLOEXEC above $^F)
    exec('/bin/bash', '-c', $script) or POSIX::_exit(127);
  }
  close $out_w;
  close $err_w;
  close $in_r if $in_r;
  set_nonblock($in_w) if $in_w;
  $cmds{$id} = { pid => $pid, out => $out_r, err => $err_r, in => $in_w, inbuf => '', ineof => 0, cg => $cg, status => undef, ended => 0 };
  $by_pid{$pid} = $id;
  send_frame('S', $id, "$pid");
}

sub close_in {
  my ($c) = @_;
  if ($c->{in}) { close $c->{in}; $c->{in} = undef }
}

sub flush_in {
  my ($c) = @_;
  return unless $c->{in};
  while (length $c->{inbuf}) {
    my $n = syswrite($c->{in}, $c->{inbuf});
    if (!defined $n) {
      return if $!{EAGAIN} || $!{EINTR};
      $c->{inbuf} = '';    # the command closed its stdin: drop the rest
      close_in($c);
      return;
    }
    substr($c->{inbuf}, 0, $n, '');
  }
  close_in($c) if $c->{ineof};
}

sub kill_cmd {
  my ($id, $sig) = @_;
  my $c = $cmds{$id} or return;
  write_file("$c->{cg}/cgroup.kill", '1') if $sig == 9;
  kill($sig, -$c->{pid});
  kill($sig, $c->{pid});
}

sub kill_all {
  my ($id) = @_;
  my $ok = write_file("$CG/cgroup.kill", '1');
  my $deadline = now() + 10;
  while ($ok && populated($CG) && now() < $deadline) { select(undef, undef, undef, 0.02) }
  send_frame('a', $id, populated($CG) ? 'busy' : 'ok');
}

sub handle_frame {
  my ($t, $id, $data) = @_;
  if ($t eq 'P') { send_frame('H', 0, uptime()) }
  elsif ($t eq 'X') { start_cmd($id, $data) }
  elsif ($t eq 'I') { my $c = $cmds{$id} or return; if ($c->{in}) { $c->{inbuf} .= $data; flush_in($c) } }
  elsif ($t eq 'E') { my $c = $cmds{$id} or return; $c->{ineof} = 1; flush_in($c) }
  elsif ($t eq 'K') { kill_cmd($id, int($data)) }
  elsif ($t eq 'A') { kill_all($id) }
}

sub drain {
  my ($id, $which, $type) = @_;
  my $c = $cmds{$id};
  my $fh = $c->{$which} or return;
  my $n = sysread($fh, my $chunk, 65536);
  return if !defined $n && ($!{EINTR} || $!{EAGAIN});
  if (!$n) { close $fh; $c->{$which} = undef; return }
  send_frame($type, $id, $chunk);
}

sub finish {
  my ($id) = @_;
  my $c = delete $cmds{$id};
  delete $by_pid{$c->{pid}};
  for my $w ('out', 'err') {
    next unless $c->{$w};
    # what is already in the pipe still goes out
    while (1) { my $n = sysread($c->{$w}, my $chunk, 65536); last unless $n; send_frame($w eq 'out' ? 'O' : 'R', $id, $chunk) }
    close $c->{$w};
  }
  close_in($c);
  my $st = $c->{status};
  send_frame('Z', $id, POSIX::WIFSIGNALED($st) ? 'signal ' . POSIX::WTERMSIG($st) : 'exit ' . POSIX::WEXITSTATUS($st));
  push @stale_cgroups, $c->{cg};
}

my $inbuf = '';
my $idle_host = 0;
while (1) {
  my ($rin, $win) = ('', '');
  vec($rin, fileno($P), 1) = 1 unless $idle_host;
  for my $c (values %cmds) {
    vec($rin, fileno($c->{out}), 1) = 1 if $c->{out};
    vec($rin, fileno($c->{err}), 1) = 1 if $c->{err};
    vec($win, fileno($c->{in}), 1) = 1 if $c->{in} && length $c->{inbuf};
  }
  my $timeout = ($idle_host || @stale_cgroups || grep { defined $_->{status} } values %cmds) ? 0.1 : 1.0;
  $idle_host = 0;
  my $n = select(my $rout = $rin, my $wout = $win, undef, $CHLD ? 0 : $timeout);
  if ($n > 0) {
    if (vec($rout, fileno($P), 1)) {
      my $got = sysread($P, my $chunk, 262144);
      if (defined $got && $got == 0) { $idle_host = 1 }    # no host connected yet: poll gently
      elsif ($got) {
        $inbuf .= $chunk;
        while (length($inbuf) >= 9) {
          my ($t, $id, $len) = unpack('a1 N N', $inbuf);
          last if length($inbuf) < 9 + $len;
          my $data = substr($inbuf, 9, $len);
          substr($inbuf, 0, 9 + $len, '');
          handle_frame($t, $id, $data);
        }
      }
    }
    for my $id (keys %cmds) {
      my $c = $cmds{$id} or next;
      drain($id, 'out', 'O') if $c->{out} && vec($rout, fileno($c->{out}), 1);
      drain($id, 'err', 'R') if $c->{err} && vec($rout, fileno($c->{err}), 1);
      flush_in($c) if $c->{in} && length $c->{inbuf} && vec($wout, fileno($c->{in}), 1);
    }
  }
  select(undef, undef, undef, 0.1) if $idle_host;
  $CHLD = 0;
  while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) {
    my $id = $by_pid{$pid};
    next unless defined $id && $cmds{$id};
    $cmds{$id}{status} = $?;
    $cmds{$id}{ended} = now();
  }
  for my $id (keys %cmds) {
    my $c = $cmds{$id};
    next unless defined $c->{status};
    finish($id) if (!$c->{out} && !$c->{err}) || now() - $c->{ended} > $EXIT_GRACE;
  }
  @stale_cgroups = grep { !rmdir($_) && -d $_ } @stale_cgroups;
}

// The guest kernel's CPU-vulnerability mitigations. Bare metal and containers run under the host
// kernel's settings; a VM guest's kernel has its own. By default it follows the host's (the study
// used stock installations), so that syscall-heavy work is not flattered in VMs by a guest with
// mitigations off; any other setting is an explicit choice, recorded in the manifest and samples.
import { readFileSync, readdirSync } from 'node:fs';
import type { GuestMitigations } from '../core/options.ts';

/** Host kernel parameters that switch mitigations (besides mitigations=), copied to the guest as given. */
const SWITCHES = [
  'pti',
  'nopti',
  'nosmt',
  'spectre_v2',
  'spectre_v2_user',
  'spectre_bhi',
  'nospectre_v1',
  'nospectre_v2',
  'spec_store_bypass_disable',
  'nospec_store_bypass_disable',
  'l1tf',
  'mds',
  'tsx_async_abort',
  'mmio_stale_data',
  'retbleed',
  'srbds',
  'gather_data_sampling',
  'spec_rstack_overflow',
  'reg_file_data_sampling',
];

export interface GuestMitigationSetting {
  choice: GuestMitigations;
  /** Kernel command-line arguments the guest gets ('' = the guest kernel's default, which is auto). */
  args: string;
  /** One line for samples and the manifest, e.g. 'host: mitigations=auto pti=on'. */
  label: string;
}

/**
 * The guest's arguments for a choice, given the host's /proc/cmdline. 'host': the host's
 * mitigations= reduced to what any kernel understands (off, or auto with its nosmt), plus the
 * host's per-issue switches; 'auto' and 'off': that value alone.
 */
export function guestMitigationArgs(choice: GuestMitigations, hostCmdline: string): GuestMitigationSetting {
  if (choice !== 'host') return { choice, args: `mitigations=${choice}`, label: `mitigations=${choice} (explicit)` };
  const args: string[] = [];
  for (const token of hostCmdline.trim().split(/\s+/)) {
    if (token === '--') break; // what follows is init's, not the kernel's
    const [key, value] = token.split('=', 2) as [string, string | undefined];
    if (key === 'mitigations' && value !== undefined) {
      const parts = value.split(',');
      // newer suboptions (no_guest_host, ...) are unknown to older guest kernels, which would warn and fall back to auto anyway
      args.push(parts[0] === 'off' ? 'mitigations=off' : `mitigations=auto${parts.includes('nosmt') ? ',nosmt' : ''}`);
    } else if (SWITCHES.includes(key)) args.push(token);
  }
  return { choice, args: args.join(' '), label: `host: ${args.length ? args.join(' ') : 'kernel default (auto)'}` };
}

/** The setting of this run: the choice the runner put in VIRTBENCH_GUEST_MITIGATIONS (default host). */
export function currentGuestMitigations(): GuestMitigationSetting {
  const v = process.env.VIRTBENCH_GUEST_MITIGATIONS;
  const choice: GuestMitigations = v === 'auto' || v === 'off' ? v : 'host';
  let cmdline = '';
  try {
    cmdline = readFileSync('/proc/cmdline', 'utf8');
  } catch {
    /* no /proc/cmdline: the kernel default */
  }
  return guestMitigationArgs(choice, cmdline);
}

/** The host kernel's view of each vulnerability (/sys/devices/system/cpu/vulnerabilities), for the manifest. */
export function hostVulnerabilities(): Record<string, string> {
  const dir = '/sys/devices/system/cpu/vulnerabilities';
  try {
    return Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(`${dir}/${f}`, 'utf8').trim()]));
  } catch {
    return {};
  }
}

// CPU time and memory of processes during a load run, read from /proc (Linux): utime + stime from
// /proc/PID/stat, resident set size (VmRSS) from /proc/PID/status, sampled every SAMPLE_MS.
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

const SAMPLE_MS = 200;
const PID_REFRESH_MS = 1000;

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** CPU seconds (user + system) a process has used so far, or null when it is gone. */
export async function cpuSeconds(pid: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks();
  } catch {
    return null;
  }
}

export async function rssBytes(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

export interface Usage {
  /** CPU seconds used during the run, summed over the processes. */
  cpuSeconds: number;
  /** The largest RSS seen, summed over the processes at each sample. */
  peakRssBytes: number;
}

/**
 * Samples a changing set of processes (e.g. a server, or the PostgreSQL backends of a database) until
 * stopped. A process that exits between two samples loses at most one interval of CPU time.
 */
export class ProcessSampler {
  private readonly baseline = new Map<number, number>();
  private readonly last = new Map<number, number>();
  private pids: number[] = [];
  private peak = 0;
  private timer: NodeJS.Timeout | null = null;
  private lastRefresh = 0;
  private sampling: Promise<void> = Promise.resolve();

  constructor(private readonly listPids: () => Promise<number[]>) {}

  async start(): Promise<void> {
    await this.refresh();
    for (const pid of this.pids) {
      const cpu = await cpuSeconds(pid);
      if (cpu !== null) this.baseline.set(pid, cpu);
    }
    this.timer = setInterval(() => {
      this.sampling = this.sampling.then(() => this.sample());
    }, SAMPLE_MS);
  }

  async stop(): Promise<Usage> {
    if (this.timer) clearInterval(this.timer);
    await this.sampling;
    await this.sample();
    let cpu = 0;
    for (const [pid, value] of this.last) cpu += value - (this.baseline.get(pid) ?? 0);
    return { cpuSeconds: cpu, peakRssBytes: this.peak };
  }

  private async refresh(): Promise<void> {
    this.lastRefresh = Date.now();
    try {
      this.pids = await this.listPids();
    } catch {
      // keep the previous list (e.g. the database is briefly busy)
    }
  }

  private async sample(): Promise<void> {
    if (Date.now() - this.lastRefresh >= PID_REFRESH_MS) await this.refresh();
    let rss = 0;
    for (const pid of this.pids) {
      const cpu = await cpuSeconds(pid);
      if (cpu === null) continue;
      // A process that appeared during the run (a new database connection) counts from zero.
      if (!this.baseline.has(pid)) this.baseline.set(pid, 0);
      this.last.set(pid, cpu);
      rss += (await rssBytes(pid)) ?? 0;
    }
    this.peak = Math.max(this.peak, rss);
  }
}

/** A process and all its descendants (e.g. a cluster's primary and workers), from /proc/PID/stat's ppid field. */
export async function processTree(root: number): Promise<number[]> {
  const children = new Map<number, number[]>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  const tree: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

import os from 'node:os';
import { pinningNote } from './processes.js';
import { formatSize } from './format.js';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memory: string;
  kernel: string;
  node: string;
  tools: Record<string, string>;
  pinning: string;
  loadAverageAtStart: number[];
}

export function describeMachine(tools: Record<string, string>): MachineInfo {
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown CPU',
    // os.cpus(), not availableParallelism(): this process is pinned to one core by now.
    cores: os.cpus().length,
    memory: formatSize(Math.round(os.totalmem() / 1024 ** 3) * 1024 ** 3),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    tools,
    pinning: pinningNote(),
    loadAverageAtStart: os.loadavg().map((n) => Number(n.toFixed(2))),
  };
}

export function renderMachine(machine: MachineInfo): string {
  const tools = Object.values(machine.tools).join(', ');
  return [
    `machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memory}, ${machine.kernel}, Node ${machine.node}${tools ? `, ${tools}` : ''}`,
    `pinning: ${machine.pinning}; load average at start ${machine.loadAverageAtStart.join(' ')}`,
  ].join('\n');
}

// The machine-readable result: everything measured (raw per-round samples included), the
// machine it ran on, the options, and every note about what was skipped and why.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EchoResult } from '../echo/suite.js';
import type { PipesResult } from '../pipes/suite.js';
import type { MachineInfo } from './env.js';

export interface BenchReport {
  schema: 'iomux-bench/1';
  started: string;
  finished: string;
  machine: MachineInfo;
  options: Record<string, unknown>;
  /** Skipped columns, unpinned processes and the like, in words. */
  notes: string[];
  pipes: PipesResult[];
  echo: EchoResult[];
}

/** Writes latest.json into `dir` (created if needed); returns its path. */
export function writeReport(dir: string, report: BenchReport): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'latest.json');
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

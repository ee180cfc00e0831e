import type { Lab } from './lab.js';
import type { ScenarioName } from './options.js';

/** What one scenario hands back: a Markdown table for the terminal and raw figures for the JSON. */
export interface ScenarioReport {
  title: string;
  table: string;
  /** Lines printed under the table: what was measured, anomalies (errors, misses). */
  notes: string[];
  data: unknown;
}

export type Progress = (message: string) => void;

export type Scenario = (lab: Lab, progress: Progress) => Promise<ScenarioReport>;

export type ScenarioTable = Record<ScenarioName, Scenario>;

export function renderReport(report: ScenarioReport): string {
  const notes = report.notes.map((note) => `- ${note}`).join('\n');
  return `## ${report.title}\n\n${report.table}\n${notes ? `\n${notes}\n` : ''}`;
}

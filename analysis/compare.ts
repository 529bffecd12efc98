// Comparing a candidate run with a baseline (and the nights accepted before it): three ideas, three
// files. comparable.ts: whether two runs can be compared; verdict.ts: the verdict of every cell and
// metric and of the night; compare-report.ts: compare.csv, the terminal table and the Markdown
// report. This module re-exports them for the commands and the runner.
export * from './comparable.ts';
export * from './verdict.ts';
export * from './compare-report.ts';

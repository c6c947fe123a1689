// The package's public entry: `import { Aegis } from 'aegis'`. See docs/sdk.md.
export { Aegis, type AegisOptions, type ApplyOptions, type ExecOptions, type RunOptions } from './aegis.js';
export type { LogsOptions } from './logs.js';
export { AegisApiError, AegisNotRunningError, type AegisIssue } from './errors.js';
export { Execution, type ExitStatus, type OutputChunk, type OutputResult, type OutputStream } from './execution.js';
export { Files, type FileDownload, type FilesTarget, type FileStat, type ReadOptions, type WriteOptions } from './files.js';
export type { App, AppSpecInput, ApplyResult, Instance, InstanceSpecInput, Release, Resource, Task } from './resources.js';
export type { InstanceLogEntry, LogSource } from '../logs/instance-log-entry.js';
export type { DaemonStatus } from './daemon-status.js';

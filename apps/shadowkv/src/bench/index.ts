// The shadowkv/bench entry: benchmark helpers (needle-in-a-haystack, speed, prefill recordings), kept out of
// the main entry so that generation does not carry them.
export { formatNiahTable, isCorrect, mergeNiah, readNiah, runNiah, shardRows } from './niah.js';
export type { NiahResult, NiahRow } from './niah.js';
export { formatCountersTable, formatSpeedTable, runSpeed, syntheticPrompt } from './speed.js';
export type { SpeedResult } from './speed.js';
export { modelFingerprint, PrefillRecordingCache, recordPrefill, replayPrefill } from './prefill-recording.js';
export type { PrefillRecording } from './prefill-recording.js';
export { formatThroughputTable, largestBatch, runThroughput } from './throughput.js';
export type { ThroughputOptions, ThroughputRow } from './throughput.js';
export { findCapacity, formatCapacityReport, formatCapacityTable, largestFitting, projectCapacity, readCapacityModel, runCapacity, validateCapacity } from './capacity.js';
export type { CapacityCheck, CapacityReport, CapacityResult, CapacityRow, CapacityTerms } from './capacity.js';

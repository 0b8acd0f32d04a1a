// Saved-session files and the model fingerprint in Node ("#session-files" default): they read and write files.
export { readSavedSession, writeSavedSession } from './saved-session.js';
export { modelFingerprint } from './model-fingerprint.js';

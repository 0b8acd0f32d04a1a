// findLavapipeIcd: where the Node loader looks for the driver installed by scripts/setup-webgpu.sh.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findLavapipeIcd } from './node-gpu.js';

describe('findLavapipeIcd', () => {
  const saved = { dir: process.env.SHADOWKV_LAVAPIPE_DIR, cwd: process.cwd() };
  const made: string[] = [];
  afterEach(() => {
    if (saved.dir === undefined) delete process.env.SHADOWKV_LAVAPIPE_DIR;
    else process.env.SHADOWKV_LAVAPIPE_DIR = saved.dir;
    process.chdir(saved.cwd);
    for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('prefers $SHADOWKV_LAVAPIPE_DIR', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvp-'));
    made.push(dir);
    writeFileSync(join(dir, 'lvp_icd.json'), '{}');
    process.env.SHADOWKV_LAVAPIPE_DIR = dir;
    expect(await findLavapipeIcd()).toBe(join(dir, 'lvp_icd.json'));
  });

  it('finds .vendor/webgpu in a parent of the working directory', async () => {
    delete process.env.SHADOWKV_LAVAPIPE_DIR;
    const root = mkdtempSync(join(tmpdir(), 'repo-'));
    made.push(root);
    mkdirSync(join(root, '.vendor', 'webgpu'), { recursive: true });
    writeFileSync(join(root, '.vendor', 'webgpu', 'lvp_icd.json'), '{}');
    mkdirSync(join(root, 'packages', 'x'), { recursive: true });
    process.chdir(join(root, 'packages', 'x'));
    const found = await findLavapipeIcd();
    // A system-wide install in /opt wins over the repository folder.
    expect([join(root, '.vendor', 'webgpu', 'lvp_icd.json'), '/opt/shadowkv-lavapipe/lvp_icd.json']).toContain(found);
  });
});

// Node-only loader of the Dawn binding (`webgpu` package). Imported lazily by webgpu(), and every Node
// module here is itself imported dynamically, so browser bundles of this package never include them.

/** Where scripts/setup-webgpu.sh installs Mesa 25 lavapipe when run as root. */
export const SYSTEM_LAVAPIPE_DIR = '/opt/shadowkv-lavapipe';
/** Where it installs without root: inside the repository, git-ignored. */
export const REPO_LAVAPIPE_DIR = '.vendor/webgpu';
const ICD_FILE = 'lvp_icd.json';
/** Vulkan loader variables that choose drivers; if the user set any, we leave driver choice to them. */
const DRIVER_ENV = ['VK_ICD_FILENAMES', 'VK_DRIVER_FILES', 'VK_ADD_DRIVER_FILES'] as const;

export interface NodeGpu {
  gpu: GPU;
  /** The ICD json this loader added to the Vulkan driver list, if it added one. */
  lavapipeIcd: string | undefined;
  /** Driver-selection variables the user had set (then the loader adds nothing). */
  userDriverEnv: string[];
}

type DawnModule = { create(options: string[]): GPU };

// Dawn aborts the process when the object returned by create() is garbage-collected while a device is
// in use, so the instance is created once and held here for the life of the process.
let instance: Promise<NodeGpu> | undefined;

/** Returns the process-wide Dawn instance, creating it on first use. */
export function loadNodeGpu(dawnOptions: readonly string[] = []): Promise<NodeGpu> {
  instance ??= createNodeGpu(dawnOptions);
  return instance;
}

async function createNodeGpu(dawnOptions: readonly string[]): Promise<NodeGpu> {
  const userDriverEnv = DRIVER_ENV.filter((k) => process.env[k]).map((k) => `${k}=${process.env[k]}`);
  // VK_ADD_DRIVER_FILES adds lavapipe to the drivers the Vulkan loader finds anyway, so a real GPU stays
  // visible and preferred; VK_ICD_FILENAMES / VK_DRIVER_FILES would hide it. The loader reads the
  // variable when Dawn creates its Vulkan instance, so setting it here, before create(), is enough.
  const lavapipeIcd = userDriverEnv.length === 0 ? await findLavapipeIcd() : undefined;
  if (lavapipeIcd) process.env.VK_ADD_DRIVER_FILES = lavapipeIcd;
  const specifier = 'webgpu';
  let dawn: DawnModule;
  try {
    dawn = (await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier)) as DawnModule;
  } catch (err) {
    // Dawn is an optional peer: browsers use navigator.gpu and never download it (it is over 100 MB).
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new Error('Dawn, the npm package "webgpu" that gives Node a WebGPU, is not installed; it is an optional peer of @shadowkv/kernels-webgpu, needed in Node only: npm install webgpu@^0.6.2', { cause: err });
    }
    throw err;
  }
  return { gpu: dawn.create([...dawnOptions]), lavapipeIcd, userDriverEnv };
}

/**
 * The lavapipe ICD json installed by scripts/setup-webgpu.sh: $SHADOWKV_LAVAPIPE_DIR, then
 * /opt/shadowkv-lavapipe, then .vendor/webgpu in the current directory or one of its parents.
 */
export async function findLavapipeIcd(): Promise<string | undefined> {
  const fsName = 'node:fs';
  const pathName = 'node:path';
  const fs = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs');
  const path = (await import(/* @vite-ignore */ pathName)) as typeof import('node:path');
  const candidates: string[] = [];
  if (process.env.SHADOWKV_LAVAPIPE_DIR) candidates.push(path.join(process.env.SHADOWKV_LAVAPIPE_DIR, ICD_FILE));
  candidates.push(path.join(SYSTEM_LAVAPIPE_DIR, ICD_FILE));
  for (let dir = process.cwd(); ; dir = path.dirname(dir)) {
    candidates.push(path.join(dir, REPO_LAVAPIPE_DIR, ICD_FILE));
    if (path.dirname(dir) === dir) break;
  }
  return candidates.find((c) => fs.existsSync(c));
}

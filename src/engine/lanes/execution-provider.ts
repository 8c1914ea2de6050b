/**
 * What a lane needs from ONNX Runtime's execution providers, checked before its sessions are
 * created, and how loud ONNX Runtime's own log is.
 *
 * onnxruntime-node bundles the CPU provider only. Its CUDA provider files are downloaded by its
 * install script, which CPU installs skip (`ONNXRUNTIME_NODE_INSTALL=skip`): a `cuda:N` lane
 * then fails with one sentence that says how to install them, instead of ONNX Runtime's log
 * lines and a bare "Failed to load shared library".
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { InvalidOptionError } from '../../core/errors.js';
import type { Device } from '../../core/domain.js';

/** ONNX Runtime's log levels (`ort.env.logLevel`), from the loudest. */
export const ONNX_LOG_LEVELS = ['verbose', 'info', 'warning', 'error', 'fatal'] as const;
export type OnnxLogLevel = (typeof ONNX_LOG_LEVELS)[number];

/**
 * Default: errors only. ONNX Runtime's warnings (nodes placed on the CPU, unused initialisers)
 * are not the user's to act on, and its errors are thrown as exceptions as well.
 */
export const DEFAULT_ONNX_LOG_LEVEL: OnnxLogLevel = 'error';

/** Environment variable read when `RuntimeOptions.onnxLogLevel` is not given (the CLI has no flag for it). */
export const ONNX_LOG_LEVEL_ENV = 'BLOCK_CASCADE_ONNX_LOG_LEVEL';

/** A session's `logSeverityLevel` for a log level (0 verbose … 4 fatal). */
export function onnxLogSeverity(level: OnnxLogLevel): 0 | 1 | 2 | 3 | 4 {
  return ONNX_LOG_LEVELS.indexOf(level) as 0 | 1 | 2 | 3 | 4;
}

/**
 * The log level of a runtime: the option, else the environment variable, else the default.
 *
 * @throws {InvalidOptionError} when either names no level.
 */
export function resolveOnnxLogLevel(option: unknown, env: string | undefined = process.env[ONNX_LOG_LEVEL_ENV]): OnnxLogLevel {
  const [name, value] = option !== undefined ? ['onnxLogLevel', option] : env !== undefined && env !== '' ? [ONNX_LOG_LEVEL_ENV, env] : [null, DEFAULT_ONNX_LOG_LEVEL];
  if (!(ONNX_LOG_LEVELS as readonly unknown[]).includes(value)) {
    throw new InvalidOptionError(name ?? 'onnxLogLevel', `one of ${ONNX_LOG_LEVELS.map((l) => `"${l}"`).join(', ')}`, value);
  }
  return value as OnnxLogLevel;
}

/**
 * Sets ONNX Runtime's process-wide log level. ONNX Runtime reads it once, when the first
 * session of the process is created (the model loader's, on the main thread), so it is set
 * before that as well as in each lane's worker.
 */
export function applyOnnxLogLevel(level: OnnxLogLevel): void {
  ort.env.logLevel = level;
}

/** How to get the CUDA provider files into an installed onnxruntime-node. */
export const CUDA_INSTALL_HINT =
  'install them with `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node` ' +
  '(or `npm install` with `--onnxruntime-node-install=cuda12`; the host needs CUDA 12 and cuDNN 9), ' +
  "or use device 'cpu'";

/** The CUDA provider's shared libraries, by platform; absent where onnxruntime-node offers none. */
const CUDA_PROVIDER_FILES: Readonly<Record<string, readonly string[]>> = {
  'linux/x64': ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'],
  'win32/x64': ['onnxruntime_providers_shared.dll', 'onnxruntime_providers_cuda.dll'],
};

/**
 * The folder that holds onnxruntime-node's native binding (and, once installed, its provider
 * files); null when its layout is not the one known here (then only ONNX Runtime's own error
 * is left to explain a missing provider).
 */
export function onnxBinaryDir(platform: string = process.platform, arch: string = process.arch): string | null {
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve('onnxruntime-node');
  } catch {
    return null;
  }
  // dist/index.js loads ../bin/napi-v6/<platform>/<arch>/onnxruntime_binding.node.
  const dir = join(dirname(entry), '..', 'bin', 'napi-v6', platform, arch);
  return existsSync(join(dir, 'onnxruntime_binding.node')) ? dir : null;
}

/**
 * Why `device` cannot run here, as a sentence; null when nothing is known to be missing.
 *
 * @example
 * ```ts
 * executionProviderProblem('cuda:0'); // "the CUDA execution provider is not installed: …" after a CPU-only install
 * ```
 */
export function executionProviderProblem(device: Device, platform: string = process.platform, arch: string = process.arch, binDir: string | null = onnxBinaryDir(platform, arch)): string | null {
  if (device === 'cpu') return null;
  const files = CUDA_PROVIDER_FILES[`${platform}/${arch}`];
  if (files === undefined) return `device "${device}": onnxruntime-node has no CUDA execution provider for ${platform}/${arch}; use device 'cpu'`;
  if (binDir === null) return null;
  const missing = files.filter((f) => !existsSync(join(binDir, f)));
  if (missing.length === 0) return null;
  return (
    `device "${device}": the CUDA execution provider is not installed (${missing.join(', ')} missing from ${binDir}; ` +
    `installs with ONNXRUNTIME_NODE_INSTALL=skip leave it out): ${CUDA_INSTALL_HINT}`
  );
}

/**
 * ONNX Runtime's error when a CUDA session could not be created, turned into a sentence that
 * names what the host needs; other errors are returned as they are.
 */
export function explainProviderError(device: Device, error: unknown): unknown {
  if (device === 'cpu' || !(error instanceof Error)) return error;
  if (!/AppendExecutionProvider_Cuda|providers_(cuda|shared)|Failed to load shared library|cudnn|libcu/i.test(error.message)) return error;
  return new Error(
    `device "${device}": the CUDA execution provider could not be loaded (${error.message.trim()}): it needs CUDA 12 and cuDNN 9 ` +
      `on the host (libcudart.so.12, libcublas, libcudnn.so.9 on the library path); onnxLogLevel 'warning' ` +
      `(or ${ONNX_LOG_LEVEL_ENV}=warning) shows ONNX Runtime's own log`,
    { cause: error },
  );
}

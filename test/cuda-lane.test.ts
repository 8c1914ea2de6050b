/**
 * A `cuda:N` lane where onnxruntime-node's CUDA provider files are not installed (every
 * install with ONNXRUNTIME_NODE_INSTALL=skip): createRuntime rejects with one LaneError that
 * says how to install them, and ONNX Runtime prints nothing. ONNX Runtime's log level is a
 * runtime option (quiet by default).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../src/core/errors.js';
import { collectOutput, ROOT, type CliResult } from './support/cli.js';
import {
  executionProviderProblem,
  explainProviderError,
  onnxBinaryDir,
  onnxLogSeverity,
  resolveOnnxLogLevel,
} from '../src/engine/lanes/execution-provider.js';

const installed = executionProviderProblem('cuda:0') === null;

/** Runs an ESM snippet that imports `block-cascade` (the sources) in a child process. */
function runChild(code: string): Promise<CliResult> {
  const child = spawn(process.execPath, ['--conditions=block-cascade-source', '--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BLOCK_CASCADE_ONNX_LOG_LEVEL: '' },
  });
  return collectOutput(child);
}

describe('a cuda lane without the CUDA execution provider', () => {
  it.skipIf(installed)('createRuntime rejects with one LaneError that says how to install it, and ONNX Runtime logs nothing', async () => {
    const { code, stdout, stderr } = await runChild(`
      import { createRuntime, LaneError } from 'block-cascade';
      try {
        const runtime = await createRuntime({ lanes: [{ device: 'cuda:0', threads: 1 }] });
        await runtime.close();
        console.log(JSON.stringify({ created: true }));
      } catch (error) {
        console.log(JSON.stringify({ laneError: error instanceof LaneError, name: error.name, code: error.code, message: error.message }));
      }
    `);
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout.trim()) as { laneError: boolean; name: string; code: string; message: string };
    expect(result).toMatchObject({ laneError: true, name: 'LaneError', code: 'LANE_FAILED' });
    expect(result.message).toMatch(/^lane 0: failed to start: device "cuda:0": the CUDA execution provider is not installed \(/);
    expect(result.message).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node');
    expect(result.message).toContain('CUDA 12 and cuDNN 9');
    expect(result.message.split('\n')).toHaveLength(1);
    // No ONNX Runtime log line ("2026-… [E:onnxruntime:…]", red), nor anything else.
    expect(stderr).not.toMatch(/onnxruntime:|\[[EWF]:|\x1b\[/);
    expect(stderr).toBe('');
  }, 60_000);
});

describe('execution providers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ort-bin-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds onnxruntime-node\'s native folder', () => {
    expect(onnxBinaryDir()).toMatch(/onnxruntime-node[\\/]bin[\\/]napi-v\d+[\\/]/);
  });

  it('a cpu lane needs nothing; a cuda lane needs both provider files', () => {
    expect(executionProviderProblem('cpu', 'linux', 'x64', dir)).toBeNull();
    expect(executionProviderProblem('cuda:1', 'linux', 'x64', dir)).toMatch(
      /^device "cuda:1": the CUDA execution provider is not installed \(libonnxruntime_providers_shared\.so, libonnxruntime_providers_cuda\.so missing from /,
    );
    writeFileSync(join(dir, 'libonnxruntime_providers_shared.so'), '');
    expect(executionProviderProblem('cuda:1', 'linux', 'x64', dir)).toMatch(/\(libonnxruntime_providers_cuda\.so missing from /);
    writeFileSync(join(dir, 'libonnxruntime_providers_cuda.so'), '');
    expect(executionProviderProblem('cuda:1', 'linux', 'x64', dir)).toBeNull();
    expect(executionProviderProblem('cuda:0', 'darwin', 'arm64', dir)).toBe(`device "cuda:0": onnxruntime-node has no CUDA execution provider for darwin/arm64; use device 'cpu'`);
    // An unknown layout: ONNX Runtime's own error (explained) is all there is.
    expect(executionProviderProblem('cuda:0', 'linux', 'x64', null)).toBeNull();
  });

  it("explains ONNX Runtime's CUDA errors and leaves the others alone", () => {
    const ort = new Error('OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library');
    const explained = explainProviderError('cuda:0', ort) as Error;
    expect(explained.message).toMatch(/^device "cuda:0": the CUDA execution provider could not be loaded \(OrtSession.*\): it needs CUDA 12 and cuDNN 9/);
    expect(explained.cause).toBe(ort);
    expect(explainProviderError('cpu', ort)).toBe(ort);
    const other = new Error('Load model from x.onnx failed: Protobuf parsing failed');
    expect(explainProviderError('cuda:0', other)).toBe(other);
  });

  it('ONNX Runtime log level: the option, else BLOCK_CASCADE_ONNX_LOG_LEVEL, else error', () => {
    expect(resolveOnnxLogLevel(undefined, undefined)).toBe('error');
    expect(resolveOnnxLogLevel(undefined, '')).toBe('error');
    expect(resolveOnnxLogLevel(undefined, 'verbose')).toBe('verbose');
    expect(resolveOnnxLogLevel('fatal', 'verbose')).toBe('fatal');
    expect(() => resolveOnnxLogLevel('loud', undefined)).toThrow(InvalidOptionError);
    expect(() => resolveOnnxLogLevel(undefined, 'loud')).toThrow(/BLOCK_CASCADE_ONNX_LOG_LEVEL.*expected one of "verbose", "info", "warning", "error", "fatal", got "loud"/);
    expect([onnxLogSeverity('verbose'), onnxLogSeverity('warning'), onnxLogSeverity('fatal')]).toEqual([0, 2, 4]);
  });
});

import { readFileSync } from 'node:fs';
import { arch, platform } from 'node:os';

/**
 * Whether the CPU has int8 dot-product instructions that ONNX Runtime's int8 kernels
 * (MLAS u8s8 QGEMM) use: AVX512-VNNI or AVX-VNNI on x86-64. Read from /proc/cpuinfo's
 * flags, so only known on Linux; elsewhere (and on ARM, where the dot-product kernels
 * exist but were never measured here) the answer is false and `auto` keeps FP32.
 */
export interface CpuFeatures {
  readonly vnni: boolean;
  /** The flags found, for the log line ("avx512_vnni avx_vnni"). */
  readonly flags: readonly string[];
}

const INT8_FLAGS = ['avx512_vnni', 'avx_vnni', 'avx512_bf16', 'amx_int8'];

export function cpuFeatures(cpuinfo?: string): CpuFeatures {
  let text = cpuinfo;
  if (text === undefined) {
    if (platform() !== 'linux' || arch() !== 'x64') return { vnni: false, flags: [] };
    try {
      text = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return { vnni: false, flags: [] };
    }
  }
  const line = text.split('\n').find((l) => /^flags\s*:/.test(l)) ?? '';
  const present = new Set(line.replace(/^flags\s*:/, '').trim().split(/\s+/));
  const flags = INT8_FLAGS.filter((f) => present.has(f));
  return { vnni: present.has('avx512_vnni') || present.has('avx_vnni'), flags };
}

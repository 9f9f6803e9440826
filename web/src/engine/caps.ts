// What this browser offers: cross-origin isolation (multi-threaded WASM), cores, WebGPU.

export interface Caps {
  isolated: boolean;
  cores: number;
  webgpu: boolean;
  shaderF16: boolean;
  adapter?: string;
  /** a software adapter (e.g. SwiftShader): correct but far too slow to pick automatically */
  fallbackAdapter: boolean;
  gpuProblem?: string;
}

interface GpuLike {
  requestAdapter(): Promise<{
    features: { has(n: string): boolean };
    info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean };
    isFallbackAdapter?: boolean;
  } | null>;
}

export async function detectCaps(): Promise<Caps> {
  const isolated = globalThis.crossOriginIsolated === true;
  const cores = Math.max(1, navigator.hardwareConcurrency || 1);
  const gpu = (navigator as unknown as { gpu?: GpuLike }).gpu;
  const base = { isolated, cores, webgpu: false, shaderF16: false, fallbackAdapter: false };
  if (!gpu) return { ...base, gpuProblem: 'this browser has no WebGPU' };
  try {
    const a = await gpu.requestAdapter();
    if (!a) return { ...base, gpuProblem: 'no WebGPU adapter (GPU disabled or not supported)' };
    const adapter = [a.info?.vendor, a.info?.architecture, a.info?.description].filter(Boolean).join(' ') || 'WebGPU adapter';
    return {
      ...base,
      webgpu: true,
      shaderF16: a.features.has('shader-f16'),
      adapter,
      fallbackAdapter: a.info?.isFallbackAdapter === true || a.isFallbackAdapter === true,
    };
  } catch (e) {
    return { ...base, gpuProblem: `WebGPU adapter request failed: ${(e as Error).message}` };
  }
}

export function defaultThreads(caps: Caps): number {
  return caps.isolated ? Math.min(4, caps.cores) : 1;
}

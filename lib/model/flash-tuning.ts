/**
 * The flash / streaming I/O tuning options of loadModel (LoadOptions extends them), in a module of their
 * own so that the flash speed benchmark's parent process can pass them on without loading the model code.
 */
/** Flash / streaming I/O tuning (LoadOptions). */
export interface FlashTuningOptions {
  /** Flash I/O tuning: bundle reader threads and largest read; dense-stream prefetch (default true). */
  flashReaders?: number;
  flashMaxRead?: number;
  /** Flash: read neighbouring bundles closer than this as one read (default 16 KiB). */
  flashMaxGap?: number;
  /** Flash: SIMD per-neuron kernels (default true); false decodes bundle rows to f32. */
  flashSimd?: boolean;
  /** Flash: one neuron arena for all layers (default: when a layer's share cannot hold 1.25 x its active set). */
  flashSharedArena?: boolean;
  streamPrefetch?: boolean;
}

/** The flash tuning options set in `o` (flashReaders / flashMaxRead only when non-zero), to pass on to loadModel. */
export function pickFlashTuning(o: FlashTuningOptions): FlashTuningOptions {
  const t: FlashTuningOptions = {};
  if (o.flashReaders) t.flashReaders = o.flashReaders;
  if (o.flashMaxRead) t.flashMaxRead = o.flashMaxRead;
  if (o.streamPrefetch !== undefined) t.streamPrefetch = o.streamPrefetch;
  if (o.flashMaxGap !== undefined) t.flashMaxGap = o.flashMaxGap;
  if (o.flashSimd !== undefined) t.flashSimd = o.flashSimd;
  if (o.flashSharedArena !== undefined) t.flashSharedArena = o.flashSharedArena;
  return t;
}

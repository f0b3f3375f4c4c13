/** bitflash: low-bit inference kernels for Node.js. */
export {
  BitflashError,
  BitflashArgumentError,
  BitflashIOError,
  BitflashFormatError,
  BitflashBudgetError,
  BitflashMemoryError,
  BitflashUnsupportedError,
  BitflashDisposedError,
  BitflashLoadError,
  BitflashInternalError,
  errorCodes,
  type BitflashErrorCode,
} from './errors.js';
export { DTYPES, byteSize, type DType, type BlockDType } from './dtypes.js';
export {
  ISAS,
  cpuFeatures,
  setIsa,
  kernelChoices,
  setThreads,
  getThreads,
  physicalCores,
  type Isa,
  type CpuFeatures,
  type KernelChoice,
} from './runtime.js';
export {
  quantizeBlocks,
  quantizeBlocksSync,
  dequantizeBlocks,
  dequantizeBlocksSync,
  type BlockQuantType,
} from './ops/quantize-blocks.js';
export { measureRoofline, formatRoofline, type Roofline, type RooflineRow, type RooflineOptions } from './roofline.js';
export { version } from './version.js';

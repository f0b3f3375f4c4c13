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
export { DTYPES, byteSize, trailerBytes, type DType, type BlockDType, type QDType } from './dtypes.js';
export {
  Tensor,
  QTensor,
  PackedWeights,
  qtensorSizes,
  type TensorDType,
  type TensorArrays,
  type TensorArray,
  type ArrayOf,
  type DTypeOf,
  type TensorViewOptions,
  type QTensorDType,
  type MatmulDType,
  type I4Group,
  type MatMulNBitsWeights,
  type PerChannelWeights,
  type TernaryDType,
  type TernaryFamily,
} from './tensor.js';
export { ternaryTune, ternaryKernels, type TernaryMatmulOptions, type TernaryFamilyOption } from './ops/ternary.js';
export { quantize, quantizeSync, dequantize, dequantizeSync, type QuantizeDType, type QuantizeOptions } from './ops/quantize.js';
export {
  matmul,
  matmulSync,
  pack,
  packSync,
  matmulInfo,
  matmulTolerance,
  type MatmulOptions,
  type MatmulQ8Options,
  type MatmulI32Options,
  type MatmulInfo,
  type Int8Tensor,
  type F32Input,
} from './ops/matmul.js';
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

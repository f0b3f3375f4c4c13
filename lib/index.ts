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
export { linearInt, linearIntSync, type LinearIntOptions, type Int8Input } from './ops/linear-int.js';
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
export {
  dyadicFromScale,
  dyadicValue,
  requantize,
  requantizeSync,
  DyadicParams,
  prepareAddRescale,
  addRescale,
  addRescaleSync,
  prepareIExp,
  iExp,
  iExpSync,
  prepareSoftmaxInt,
  softmaxInt,
  softmaxIntSync,
  prepareIGelu,
  iGelu,
  iGeluSync,
  prepareShiftGelu,
  shiftGelu,
  shiftGeluSync,
  prepareSiluInt,
  siluInt,
  siluIntSync,
  prepareLayerNormInt,
  layerNormInt,
  layerNormIntSync,
  prepareRmsNormInt,
  rmsNormInt,
  rmsNormIntSync,
  type Dyadic,
  type DyadicOp,
  type RequantizeOut,
  type RequantizeOutArrays,
  type RequantizeOptions,
  type AddRescaleConfig,
  type Int8OutOptions,
  type ExpMethod,
  type ExpConfig,
  type SoftmaxIntOptions,
  type ActivationConfig,
  type NormConfig,
} from './ops/dyadic.js';
export { measureRoofline, formatRoofline, type Roofline, type RooflineRow, type RooflineOptions } from './roofline.js';
export { version } from './version.js';
export { loadModel, Model, type LoadOptions, type GenerateOptions, type GeneratedToken, type GenerationStats } from './model/model.js';
export { readGGUF, readTensorData, GGML_TYPES, GGUFValueType, type GGUFFile, type GGUFTensorInfo, type GGUFValue } from './model/gguf.js';
export { writeGGUF, convertGGUF, CONVERT_TYPES, type ConvertType, type ConvertReport, type WriteTensor, type WriteMeta } from './model/gguf-write.js';
export { tokenizerFromGGUF, type Tokenizer, type EncodeOptions } from './model/tokenizer.js';
export { GraphBuilder, createPlan, type GraphNode, type GraphWeight, type PlanSpec, type NativePlan } from './graph/builder.js';
export { llamaHParams, buildLlama, type LlamaHParams } from './model/llama.js';
export { Sampler, type SamplingOptions } from './model/sampling.js';

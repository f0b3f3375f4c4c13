// Plan executor: validation at construction, then each step runs the ops in order over f32 slots.
#include "bitflash/graph.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "bitflash/error.h"
#include "bitflash/fmatmul.h"
#include "bitflash/io.h"
#include "bitflash/matmul.h"
#include "bitflash/quant.h"
#include "bitflash/threadpool.h"
#include "flash-state.h"

namespace bitflash::graph {

void init_flash(const PlanSpec& s, std::unique_ptr<FlashState>& st);  // ffn-flash.cc
void init_stream(const PlanSpec& s, std::unique_ptr<StreamState>& st);  // stream.cc
void validate_ffn_flash_relu(const PlanSpec& s, const OpSpec& o);      // ffn-predict.cc

namespace {

size_t row_bytes(DType t, size_t k) {
  switch (t) {
    case DType::f32: return k * 4;
    case DType::f16: return k * 2;
    case DType::q8_0: return k % QK8_0 ? 0 : k / QK8_0 * sizeof(block_q8_0);
    case DType::q4_0: return k % QK4_0 ? 0 : k / QK4_0 * sizeof(block_q4_0);
    case DType::q4_K: return k % QK_K ? 0 : k / QK_K * sizeof(block_q4_K);
    default: return 0;
  }
}

}  // namespace

void dequant_weight_row(const WeightSpec& w, size_t r, float* out) {
  const uint8_t* row = static_cast<const uint8_t*>(w.data) + r * row_bytes(w.dtype, w.k);
  switch (w.dtype) {
    case DType::f32: std::memcpy(out, row, w.k * 4); break;
    case DType::f16:
      for (size_t j = 0; j < w.k; j++) out[j] = fp16_to_f32(reinterpret_cast<const uint16_t*>(row)[j]);
      break;
    case DType::q8_0: q8_0_dequant__ref(reinterpret_cast<const block_q8_0*>(row), out, w.k / QK8_0); break;
    case DType::q4_0: q4_0_dequant__ref(reinterpret_cast<const block_q4_0*>(row), out, w.k / QK4_0); break;
    case DType::q4_K: q4_K_dequant__ref(reinterpret_cast<const block_q4_K*>(row), out, w.k / QK_K); break;
    default: fail(kErrUnsupported, "embed: unsupported weight dtype");
  }
}

Executor::Executor(PlanSpec spec) : spec_(std::move(spec)) {
  const PlanSpec& s = spec_;
  BITFLASH_CHECK(s.max_tokens >= 1 && s.max_tokens <= (1u << 20), kErrArg, "plan: maxTokens out of range");
  BITFLASH_CHECK(!s.slots.empty() && s.slots.size() < 100000, kErrArg, "plan: bad slot count");
  bool streamed = false;
  for (const WeightSpec& w : s.weights) {
    BITFLASH_CHECK(w.n >= 1 && w.k >= 1 && (w.data != nullptr || w.group != -1), kErrArg, "plan: empty weight");
    BITFLASH_CHECK(w.group == -1 || (s.stream && w.group >= -2 && w.dtype != DType::f32), kErrArg, "plan: a streamed weight needs a stream spec and a quantized or f16 type");
    streamed = streamed || w.group != -1;
    const size_t rb = row_bytes(w.dtype, w.k);
    BITFLASH_CHECK(rb > 0, kErrUnsupported, "plan: unsupported weight dtype, or a row length that is not a multiple of its block");
    BITFLASH_CHECK(w.n <= w.bytes / rb && w.n * rb <= w.bytes, kErrArg, "plan: weight buffer shorter than its shape");
  }
  auto slot = [&](int i, const char* what) -> const SlotSpec& {
    BITFLASH_CHECK(i >= 0 && static_cast<size_t>(i) < s.slots.size(), kErrArg, std::string("plan: bad slot for ") + what);
    return s.slots[i];
  };
  auto weight = [&](int i, const char* what) -> const WeightSpec& {
    BITFLASH_CHECK(i >= 0 && static_cast<size_t>(i) < s.weights.size(), kErrArg, std::string("plan: bad weight for ") + what);
    return s.weights[i];
  };
  auto same_rows = [&](const SlotSpec& a, const SlotSpec& b, const char* what) {
    BITFLASH_CHECK(a.single_row == b.single_row, kErrArg, std::string("plan: row count mismatch in ") + what);
  };
  for (const OpSpec& o : s.ops) {
    switch (o.op) {
      case OpCode::embed: {
        const WeightSpec& w = weight(o.w, "embed");
        BITFLASH_CHECK(w.group == -1 || w.group == -2, kErrArg, "plan: an embedding is resident or read by rows (group -2)");
        BITFLASH_CHECK(slot(o.out, "embed").cols == w.k && !s.slots[o.out].single_row, kErrArg, "plan: embed output must be [T, dim]");
        break;
      }
      case OpCode::rmsnorm: {
        const WeightSpec& w = weight(o.w, "rmsnorm");
        BITFLASH_CHECK(w.dtype == DType::f32 && w.n * w.k == slot(o.a, "rmsnorm").cols && slot(o.out, "rmsnorm").cols == s.slots[o.a].cols, kErrArg, "plan: rmsnorm shapes");
        same_rows(s.slots[o.a], s.slots[o.out], "rmsnorm");
        BITFLASH_CHECK(o.eps > 0, kErrArg, "plan: rmsnorm eps must be > 0");
        break;
      }
      case OpCode::matmul: {
        const WeightSpec& w = weight(o.w, "matmul");
        BITFLASH_CHECK(w.group >= -1, kErrArg, "plan: a matmul weight cannot be read by rows");
        BITFLASH_CHECK(w.dtype == DType::f32 || w.dtype == DType::f16 || w.dtype == DType::q8_0 || w.dtype == DType::q4_0 || w.dtype == DType::q4_K,
                       kErrUnsupported, "plan: matmul weight dtype not supported by the executor");
        BITFLASH_CHECK(slot(o.a, "matmul").cols == w.k && slot(o.out, "matmul").cols == w.n, kErrArg, "plan: matmul shapes");
        same_rows(s.slots[o.a], s.slots[o.out], "matmul");
        break;
      }
      case OpCode::rope:
        BITFLASH_CHECK(o.heads >= 1 && o.head_dim >= 2 && o.n_rot >= 2 && o.n_rot <= o.head_dim && o.n_rot % 2 == 0, kErrArg, "plan: rope dims");
        BITFLASH_CHECK(slot(o.a, "rope").cols == static_cast<size_t>(o.heads) * o.head_dim, kErrArg, "plan: rope input shape");
        BITFLASH_CHECK(o.rope_mode == 0 || o.rope_mode == 2, kErrArg, "plan: rope mode must be 0 (norm) or 2 (neox)");
        BITFLASH_CHECK(slot(o.out, "rope").cols == s.slots[o.a].cols, kErrArg, "plan: rope output shape");
        same_rows(s.slots[o.a], s.slots[o.out], "rope");
        break;
      case OpCode::attention:
        BITFLASH_CHECK(o.heads >= 1 && o.kv_heads >= 1 && o.heads % o.kv_heads == 0 && o.head_dim >= 1, kErrArg, "plan: attention heads");
        BITFLASH_CHECK(slot(o.a, "q").cols == static_cast<size_t>(o.heads) * o.head_dim, kErrArg, "plan: attention q shape");
        BITFLASH_CHECK(slot(o.b, "k").cols == s.kv_cols && slot(o.c, "v").cols == s.kv_cols &&
                           s.kv_cols == static_cast<size_t>(o.kv_heads) * o.head_dim, kErrArg, "plan: attention k/v shape");
        BITFLASH_CHECK(slot(o.out, "attention").cols == s.slots[o.a].cols, kErrArg, "plan: attention output shape");
        BITFLASH_CHECK(o.layer >= 0 && o.layer < s.n_layers, kErrArg, "plan: attention layer");
        // one row per token in q, k, v and out: a single-row k or v slot was read for n rows
        // (fuzz_plan, test/fuzz/regressions/fuzz_plan/)
        BITFLASH_CHECK(!s.slots[o.a].single_row && !s.slots[o.b].single_row && !s.slots[o.c].single_row && !s.slots[o.out].single_row,
                       kErrArg, "plan: attention q, k, v and output must hold one row per token");
        break;
      case OpCode::swiglu:
      case OpCode::reglu:
      case OpCode::add:
        BITFLASH_CHECK(slot(o.a, "a").cols == slot(o.b, "b").cols && slot(o.out, "out").cols == s.slots[o.a].cols, kErrArg, "plan: elementwise shapes");
        same_rows(s.slots[o.a], s.slots[o.b], "elementwise");
        same_rows(s.slots[o.a], s.slots[o.out], "elementwise");
        break;
      case OpCode::take_last:
        BITFLASH_CHECK(slot(o.out, "take_last").single_row && slot(o.a, "take_last").cols == s.slots[o.out].cols, kErrArg, "plan: take_last shapes");
        break;
      case OpCode::bias: {
        const WeightSpec& w = weight(o.w, "bias");
        BITFLASH_CHECK(w.dtype == DType::f32 && w.n * w.k == slot(o.a, "bias").cols && slot(o.out, "bias").cols == s.slots[o.a].cols, kErrArg, "plan: bias shapes");
        same_rows(s.slots[o.a], s.slots[o.out], "bias");
        break;
      }
      case OpCode::ffn_flash: {
        BITFLASH_CHECK(s.flash != nullptr, kErrArg, "plan: ffn_flash needs a flash spec");
        const WeightSpec& g = weight(o.w, "ffn_flash gate");
        BITFLASH_CHECK(g.group >= -1, kErrArg, "plan: the flash gate cannot be read by rows");
        BITFLASH_CHECK(g.n == s.flash->n_ff && g.k == s.flash->n_embd, kErrArg, "plan: ffn_flash gate must be [n_ff, n_embd]");
        BITFLASH_CHECK(slot(o.a, "ffn_flash").cols == g.k && slot(o.out, "ffn_flash").cols == g.k && o.a != o.out, kErrArg, "plan: ffn_flash shapes");
        same_rows(s.slots[o.a], s.slots[o.out], "ffn_flash");
        BITFLASH_CHECK(o.layer >= 0 && static_cast<size_t>(o.layer) < s.flash->layer_offsets.size(), kErrArg, "plan: ffn_flash layer");
        break;
      }
      case OpCode::ffn_flash_relu:
        validate_ffn_flash_relu(s, o);
        break;
      case OpCode::softmax:
        BITFLASH_CHECK(slot(o.a, "softmax").cols == slot(o.out, "softmax").cols, kErrArg, "plan: softmax shapes");
        same_rows(s.slots[o.a], s.slots[o.out], "softmax");
        break;
      default: fail(kErrArg, "plan: unknown op code " + std::to_string(static_cast<int>(o.op)));
    }
  }
  slot(s.output_slot, "output");
  if (s.n_layers > 0) BITFLASH_CHECK(s.n_ctx >= 1 && s.kv_cols >= 1, kErrArg, "plan: KV cache needs nCtx and kv columns");
  slots_.resize(s.slots.size());
  for (size_t i = 0; i < s.slots.size(); i++) slots_[i].assign((s.slots[i].single_row ? 1 : s.max_tokens) * s.slots[i].cols, 0.0f);
  const size_t kv = s.n_ctx * s.kv_cols;
  if (s.kv_f16) {
    kcache16_.assign(s.n_layers, std::vector<uint16_t>(kv));
    vcache16_.assign(s.n_layers, std::vector<uint16_t>(kv));
  } else {
    kcache_.assign(s.n_layers, std::vector<float>(kv));
    vcache_.assign(s.n_layers, std::vector<float>(kv));
  }
  if (s.flash) init_flash(spec_, flash_);
  if (streamed) init_stream(spec_, stream_);
}

Executor::~Executor() = default;

size_t Executor::output_rows(size_t n) const { return spec_.slots[spec_.output_slot].single_row ? 1 : n; }
size_t Executor::output_cols() const { return spec_.slots[spec_.output_slot].cols; }

size_t Executor::bytes_held() const {
  size_t b = 0;
  for (const auto& s : slots_) b += s.size() * 4;
  for (const auto& c : kcache_) b += c.size() * 4 * 2;
  for (const auto& c : kcache16_) b += c.size() * 2 * 2;
  if (flash_) b += flash_->cache->arena_bytes() + flash_->pool->scratch_bytes() + flash_->gate.size() * 4;
  if (stream_) b += stream_->nbuf * stream_->buf_bytes + stream_->pool->scratch_bytes();
  return b;
}

void Executor::step(const int32_t* tokens, size_t n, size_t pos0, float* out, size_t out_len) {
  const PlanSpec& s = spec_;
  BITFLASH_CHECK(n >= 1 && n <= s.max_tokens, kErrArg, "step: token count must be 1..maxTokens (" + std::to_string(s.max_tokens) + ")");
  if (s.n_layers > 0) BITFLASH_CHECK(pos0 <= s.n_ctx && n <= s.n_ctx - pos0, kErrArg, "step: context full (nCtx " + std::to_string(s.n_ctx) + ")");
  BITFLASH_CHECK(out_len >= output_rows(n) * output_cols(), kErrArg, "step: output buffer too short");
  if (flash_) flash_->cache->begin_step();
  const uint64_t t_step = now_ns();
  for (const OpSpec& o : s.ops) {
    // `a` and `w` are validated only for the ops that read them: an op without an input (embed) or
    // without a weight may carry any index there (fuzz_plan found the out-of-bounds read;
    // test/fuzz/regressions/fuzz_plan/).
    const size_t rows_a = o.a >= 0 && static_cast<size_t>(o.a) < s.slots.size() && s.slots[o.a].single_row ? 1 : n;
    if (stream_ && o.w >= 0 && static_cast<size_t>(o.w) < s.weights.size() && s.weights[o.w].group >= 0) ensure_group(s.weights[o.w].group);
    switch (o.op) {
      case OpCode::embed: {
        const WeightSpec& w = s.weights[o.w];
        for (size_t t = 0; t < n; t++) {
          const int32_t id = tokens[t];
          BITFLASH_CHECK(id >= 0 && static_cast<size_t>(id) < w.n, kErrArg, "step: token id " + std::to_string(id) + " outside the vocabulary");
          if (w.group == -2) embed_row_streamed(w, static_cast<size_t>(id), slots_[o.out].data() + t * w.k);
          else dequant_weight_row(w, static_cast<size_t>(id), slots_[o.out].data() + t * w.k);
        }
        break;
      }
      case OpCode::rmsnorm: {
        const size_t d = s.slots[o.a].cols;
        const float* g = static_cast<const float*>(s.weights[o.w].data);
        for (size_t t = 0; t < rows_a; t++) {
          const float* x = slots_[o.a].data() + t * d;
          float* y = slots_[o.out].data() + t * d;
          double ss = 0;
          for (size_t j = 0; j < d; j++) ss += static_cast<double>(x[j]) * x[j];
          const float scale = 1.0f / std::sqrt(static_cast<float>(ss / d) + o.eps);
          for (size_t j = 0; j < d; j++) y[j] = x[j] * scale * g[j];
        }
        break;
      }
      case OpCode::matmul: {
        const WeightSpec& w = s.weights[o.w];
        const float* x = slots_[o.a].data();
        float* y = slots_[o.out].data();
        if (w.dtype == DType::f32 || w.dtype == DType::f16) {
          matmul_float_weights(w.dtype, w.data, w.bytes, w.n, w.k, 0, x, slots_[o.a].size(), rows_a, w.k, y, slots_[o.out].size(), w.n);
        } else if (w.dtype == DType::q4_K) {
          // No q4_K kernel yet: dequantize tiles of rows to f32 and run the float kernel on them.
          constexpr size_t kRows = 32;
          const size_t tasks = (w.n + kRows - 1) / kRows, rb = row_bytes(w.dtype, w.k);
          parallel_for(tasks, [&](size_t t, unsigned) {
            const size_t r0 = t * kRows, r1 = std::min(w.n, r0 + kRows);
            std::vector<float> tile((r1 - r0) * w.k), part(rows_a * (r1 - r0));
            for (size_t r = r0; r < r1; r++)
              q4_K_dequant__ref(reinterpret_cast<const block_q4_K*>(static_cast<const uint8_t*>(w.data) + r * rb), tile.data() + (r - r0) * w.k, w.k / QK_K);
            fmatmul_kernel(DType::f32).fn(tile.data(), w.k * 4, w.k, x, w.k, rows_a, part.data(), r1 - r0, 0, r1 - r0);
            for (size_t i = 0; i < rows_a; i++)
              for (size_t r = r0; r < r1; r++) y[i * w.n + r] = part[i * (r1 - r0) + (r - r0)];
          });
        } else {
          WeightView v;
          v.dtype = w.dtype;
          v.n = w.n;
          v.k = w.k;
          v.data = w.data;
          v.data_bytes = w.bytes;
          matmul_f32(v, nullptr, 0, x, slots_[o.a].size(), rows_a, w.k, y, slots_[o.out].size(), w.n);
        }
        break;
      }
      case OpCode::rope: {
        const size_t cols = s.slots[o.a].cols;
        if (o.out != o.a) std::memcpy(slots_[o.out].data(), slots_[o.a].data(), rows_a * cols * 4);
        float* x = slots_[o.out].data();
        const float theta_scale = std::pow(o.rope_base, -2.0f / static_cast<float>(o.n_rot));
        for (size_t t = 0; t < rows_a; t++) {
          const float p = static_cast<float>(pos0 + t);
          for (int h = 0; h < o.heads; h++) {
            float* v = x + t * cols + static_cast<size_t>(h) * o.head_dim;
            float theta = p * o.rope_freq_scale;
            for (int i = 0; i < o.n_rot / 2; i++) {
              const float c = std::cos(theta), sn = std::sin(theta);
              const int i0 = o.rope_mode == 0 ? 2 * i : i;
              const int i1 = o.rope_mode == 0 ? 2 * i + 1 : i + o.n_rot / 2;
              const float x0 = v[i0], x1 = v[i1];
              v[i0] = x0 * c - x1 * sn;
              v[i1] = x0 * sn + x1 * c;
              theta *= theta_scale;
            }
          }
        }
        break;
      }
      case OpCode::attention: {
        const size_t hd = static_cast<size_t>(o.head_dim), kvc = s.kv_cols;
        const size_t qcols = s.slots[o.a].cols;
        // append k, v of these tokens to the cache
        for (size_t t = 0; t < n; t++) {
          const float* kr = slots_[o.b].data() + t * kvc;
          const float* vr = slots_[o.c].data() + t * kvc;
          const size_t at = (pos0 + t) * kvc;
          if (s.kv_f16) {
            for (size_t j = 0; j < kvc; j++) {
              kcache16_[o.layer][at + j] = f32_to_fp16(kr[j]);
              vcache16_[o.layer][at + j] = f32_to_fp16(vr[j]);
            }
          } else {
            std::memcpy(kcache_[o.layer].data() + at, kr, kvc * 4);
            std::memcpy(vcache_[o.layer].data() + at, vr, kvc * 4);
          }
        }
        const float scale = o.attn_scale > 0 ? o.attn_scale : 1.0f / std::sqrt(static_cast<float>(hd));
        const int group = o.heads / o.kv_heads;
        const size_t ctx = pos0 + n;
        const bool f16 = s.kv_f16;
        const float* kc = f16 ? nullptr : kcache_[o.layer].data();
        const float* vc = f16 ? nullptr : vcache_[o.layer].data();
        const uint16_t* kc16 = f16 ? kcache16_[o.layer].data() : nullptr;
        const uint16_t* vc16 = f16 ? vcache16_[o.layer].data() : nullptr;
        const float* q = slots_[o.a].data();
        float* y = slots_[o.out].data();
        parallel_for(static_cast<size_t>(o.heads) * n, [&](size_t task, unsigned) {
          const size_t h = task % o.heads, t = task / o.heads;
          const size_t kvh = h / group;
          const size_t last = pos0 + t;  // causal: keys 0..last
          std::vector<float> sc(last + 1);
          const float* qv = q + t * qcols + h * hd;
          float mx = -INFINITY;
          for (size_t j = 0; j <= last; j++) {
            float d = 0;
            if (f16) {
              const uint16_t* kv = kc16 + j * kvc + kvh * hd;
              for (size_t e = 0; e < hd; e++) d += qv[e] * fp16_to_f32(kv[e]);
            } else {
              const float* kv = kc + j * kvc + kvh * hd;
              for (size_t e = 0; e < hd; e++) d += qv[e] * kv[e];
            }
            sc[j] = d * scale;
            mx = std::max(mx, sc[j]);
          }
          double sum = 0;
          for (size_t j = 0; j <= last; j++) {
            sc[j] = std::exp(sc[j] - mx);
            sum += sc[j];
          }
          const float inv = static_cast<float>(1.0 / sum);
          float* yv = y + t * qcols + h * hd;
          for (size_t e = 0; e < hd; e++) yv[e] = 0;
          for (size_t j = 0; j <= last; j++) {
            const float p = sc[j] * inv;
            if (f16) {
              const uint16_t* vv = vc16 + j * kvc + kvh * hd;
              for (size_t e = 0; e < hd; e++) yv[e] += p * fp16_to_f32(vv[e]);
            } else {
              const float* vv = vc + j * kvc + kvh * hd;
              for (size_t e = 0; e < hd; e++) yv[e] += p * vv[e];
            }
          }
          (void)ctx;
        });
        break;
      }
      case OpCode::swiglu: {
        const size_t len = rows_a * s.slots[o.a].cols;
        const float* a = slots_[o.a].data();
        const float* b = slots_[o.b].data();
        float* y = slots_[o.out].data();
        for (size_t i = 0; i < len; i++) y[i] = a[i] / (1.0f + std::exp(-a[i])) * b[i];
        break;
      }
      case OpCode::add: {
        const size_t len = rows_a * s.slots[o.a].cols;
        const float* a = slots_[o.a].data();
        const float* b = slots_[o.b].data();
        float* y = slots_[o.out].data();
        for (size_t i = 0; i < len; i++) y[i] = a[i] + b[i];
        break;
      }
      case OpCode::bias: {
        const size_t d = s.slots[o.a].cols;
        const float* bv = static_cast<const float*>(s.weights[o.w].data);
        for (size_t t = 0; t < rows_a; t++) {
          const float* x = slots_[o.a].data() + t * d;
          float* y = slots_[o.out].data() + t * d;
          for (size_t j = 0; j < d; j++) y[j] = x[j] + bv[j];
        }
        break;
      }
      case OpCode::ffn_flash:
        run_ffn_flash(o, rows_a);
        break;
      case OpCode::ffn_flash_relu:
        run_ffn_flash_relu(o, rows_a);
        break;
      case OpCode::reglu: {
        const size_t len = rows_a * s.slots[o.a].cols;
        const float* a = slots_[o.a].data();
        const float* b = slots_[o.b].data();
        float* y = slots_[o.out].data();
        for (size_t i = 0; i < len; i++) y[i] = (a[i] > 0 ? a[i] : 0.0f) * b[i];
        break;
      }
      case OpCode::take_last: {
        const size_t d = s.slots[o.a].cols;
        std::memmove(slots_[o.out].data(), slots_[o.a].data() + (rows_a - 1) * d, d * 4);
        break;
      }
      case OpCode::softmax: {
        const size_t d = s.slots[o.a].cols;
        for (size_t t = 0; t < rows_a; t++) {
          const float* x = slots_[o.a].data() + t * d;
          float* y = slots_[o.out].data() + t * d;
          float mx = -INFINITY;
          for (size_t j = 0; j < d; j++) mx = std::max(mx, x[j]);
          double sum = 0;
          for (size_t j = 0; j < d; j++) {
            y[j] = std::exp(x[j] - mx);
            sum += y[j];
          }
          const float inv = static_cast<float>(1.0 / sum);
          for (size_t j = 0; j < d; j++) y[j] *= inv;
        }
        break;
      }
    }
  }
  std::memcpy(out, slots_[s.output_slot].data(), output_rows(n) * output_cols() * 4);
  step_stats_.steps++;
  step_stats_.step_ns += now_ns() - t_step;
}

}  // namespace bitflash::graph

// Roofline probes run and report plausible, positive figures on every host path.
#include <doctest/doctest.h>

#include "bitflash/isa.h"
#include "bitflash/roofline.h"
#include "test-util.h"

using namespace bitflash;

TEST_CASE("roofline probes run on every host path") {
  const Isa saved = isa_cap();
  for (Isa isa : test::host_isas()) {
    set_isa_cap(isa);
    Measure bw = measure_read_bandwidth(8u << 20, 1, 2);
    CHECK(bw.value > 0.1);
    Measure i8 = measure_i8_peak(1, 0.01, 1);
    CHECK(i8.value > 0.1);
    Measure f = measure_f32_peak(1, 0.01, 1);
    CHECK(f.value > 0.1);
  }
  set_isa_cap(saved);
  CHECK_THROWS(measure_read_bandwidth(100, 1, 1));
}

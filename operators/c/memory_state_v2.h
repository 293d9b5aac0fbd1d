// For 0.2.0 operators that run with `state: memory` in pipeline.yaml: the
// host snapshots the instance's linear memory and globals itself, so the
// operator writes no snapshot code. The 0.2.0 world still names `snapshot`,
// `snapshot-read`, `restore`, `restore-write` and `restore-finish`; this
// header defines them once, as refusals the host never calls for such an
// operator (they say what is wrong if `state: memory` is missing). Include it
// after "operator_world_v2.h", in one file of the operator; write `init`,
// `process` and `on-watermark` yourself. (`memory_state.h` is the same for
// 0.1.0, "operator_world.h".)

#ifndef CAIRN_MEMORY_STATE_V2_H
#define CAIRN_MEMORY_STATE_V2_H

#include <string.h>

#include "operator_world_v2.h"

#define CAIRN_MEMORY_STATE_MISSING "this operator's state is taken by the host: set `state: memory` on it in pipeline.yaml"

bool exports_cairn_operator_0_2_0_operator_snapshot(exports_cairn_operator_0_2_0_operator_snapshot_info_t *ret,
                                                   operator_world_v2_string_t *err) {
  (void)ret;
  operator_world_v2_string_dup(err, CAIRN_MEMORY_STATE_MISSING);
  return false;
}

void exports_cairn_operator_0_2_0_operator_snapshot_read(uint32_t max_len, operator_world_v2_list_u8_t *ret) {
  (void)max_len;
  *ret = (operator_world_v2_list_u8_t){NULL, 0};
}

bool exports_cairn_operator_0_2_0_operator_restore(exports_cairn_operator_0_2_0_operator_restore_info_t *info,
                                                  operator_world_v2_string_t *err) {
  exports_cairn_operator_0_2_0_operator_restore_info_free(info);
  operator_world_v2_string_dup(err, CAIRN_MEMORY_STATE_MISSING);
  return false;
}

bool exports_cairn_operator_0_2_0_operator_restore_write(operator_world_v2_list_u8_t *bytes, operator_world_v2_string_t *err) {
  operator_world_v2_list_u8_free(bytes);
  operator_world_v2_string_dup(err, CAIRN_MEMORY_STATE_MISSING);
  return false;
}

bool exports_cairn_operator_0_2_0_operator_restore_finish(operator_world_v2_string_t *err) {
  operator_world_v2_string_dup(err, CAIRN_MEMORY_STATE_MISSING);
  return false;
}

#endif

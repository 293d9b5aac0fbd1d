// `last` in C: per key, the number of events seen and the last value, in a
// hash table -- and no snapshot code at all: it runs with `state: memory`, so
// the host snapshots its linear memory (see docs/state-memory.md).
//
// For each input event it stores the event's value as its key's last value
// (overwritten in place when the length is unchanged, so an update touches only
// the pages that hold that value) and emits an event with the same key (or
// none) and timestamp whose value is `<count>:<bytes of the previous value>`.
// No config.
//
// Built by `guestc c` into target/operators/c-last.wasm.

#include <stdlib.h>
#include <string.h>

#include "operator_world.h"
#include "memory_state.h"

#include "counts.h"

bool exports_cairn_operator_operator_init(operator_world_string_t *config, operator_world_string_t *err) {
  size_t n = config->len;
  bool ok = n == 0 || (n == 4 && memcmp(config->ptr, "null", 4) == 0);
  operator_world_string_free(config);
  if (!ok) operator_world_string_dup(err, "invalid config: last takes none");
  return ok;
}

// Appends `v` in decimal to `out`; returns the new end.
static uint8_t *put_decimal(uint8_t *out, uint64_t v) {
  char digits[20];
  int d = 0;
  do {
    digits[d++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (d) *out++ = (uint8_t)digits[--d];
  return out;
}

bool exports_cairn_operator_operator_process(exports_cairn_operator_operator_batch_t *input,
                                             exports_cairn_operator_operator_batch_t *ret,
                                             operator_world_string_t *err) {
  (void)err;
  size_t n = input->key_ends.len;
  uint8_t *values = n ? malloc(n * 41) : NULL;  // two u64s and a colon
  uint32_t *value_ends = n ? malloc(n * sizeof(uint32_t)) : NULL;
  if (n && (!values || !value_ends)) abort();
  uint8_t *at = values;
  uint32_t key_start = 0, value_start = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t key_end = input->key_ends.ptr[i], value_end = input->value_ends.ptr[i];
    entry_t *e = entry_of(input->keys.ptr + key_start, key_end - key_start);
    uint32_t len = value_end - value_start;
    uint32_t previous = e->value_len;
    if (len != e->value_len) {
      e->value = realloc(e->value, len ? len : 1);
      if (!e->value) abort();
      e->value_len = len;
    }
    memcpy(e->value, input->values.ptr + value_start, len);
    e->count++;
    at = put_decimal(at, e->count);
    *at++ = ':';
    at = put_decimal(at, previous);
    value_ends[i] = (uint32_t)(at - values);
    key_start = key_end;
    value_start = value_end;
  }
  ret->keys = input->keys;
  ret->key_ends = input->key_ends;
  ret->timestamps = input->timestamps;
  ret->keyless = input->keyless;
  ret->values = (operator_world_list_u8_t){values, (size_t)(at - values)};
  ret->value_ends = (operator_world_list_u32_t){value_ends, n};
  operator_world_list_u8_free(&input->values);
  operator_world_list_u32_free(&input->value_ends);
  return true;
}

bool exports_cairn_operator_operator_on_watermark(int64_t ts, exports_cairn_operator_operator_batch_t *ret,
                                                  operator_world_string_t *err) {
  (void)ts;
  (void)err;
  memset(ret, 0, sizeof *ret);
  return true;
}

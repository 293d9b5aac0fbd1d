// `count` in C: running count of events per key.
//
// The same operator as the Rust `operators/guests/count`: for each input event,
// increments its key's count (keyless events count under the empty key) and
// emits an event with the same key (or none) and timestamp whose value is the
// new count in decimal ASCII. No config.
//
// State: the counts, format "postcard", version 1 -- the byte layout of the
// Rust counter's `KeyedState<u64>` (a varint entry count, then per key in
// ascending byte order: varint key length, key bytes, varint count), so a
// checkpoint of either restores into the other.
//
// Ownership, as wit-bindgen's C bindings define it: an export owns its
// arguments (it frees them or hands them on), and everything it returns is
// malloc'ed and freed by the bindings after the host copied it out. `process`
// hands the input's key, timestamp and keyless columns straight back as its
// output's: only the values column is new.
//
// Built by `guestc c` (clang-19, wasi-libc, the preview 1 reactor adapter)
// into target/operators/c-count.wasm.

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counts.h"
#include "operator_world.h"

#define FORMAT "postcard"
#define STATE_VERSION 1

// ------------------------------------------------------------ errors, logging

// Sets `err` to a malloc'ed copy of a formatted message; returns false (the
// export's "error" result) so that callers can `return fail(err, ...)`.
__attribute__((format(printf, 2, 3))) static bool fail(operator_world_string_t *err, const char *fmt, ...) {
  char msg[256];
  va_list args;
  va_start(args, fmt);
  vsnprintf(msg, sizeof msg, fmt, args);
  va_end(args);
  operator_world_string_dup(err, msg);
  return false;
}

static void log_msg(cairn_operator_log_level_t level, const char *text) {
  operator_world_string_t s;
  operator_world_string_set(&s, text);  // borrowed: imports do not take ownership
  cairn_operator_log_log(level, &s);
}

// ------------------------------------------------------------ the operator

bool exports_cairn_operator_operator_init(operator_world_string_t *config, operator_world_string_t *err) {
  // No config: JSON `null` (or nothing).
  size_t n = config->len;
  const char *c = (const char *)config->ptr;
  bool ok = n == 0 || (n == 4 && memcmp(c, "null", 4) == 0);
  operator_world_string_free(config);
  if (!ok) return fail(err, "invalid config: count takes none");
  log_msg(CAIRN_OPERATOR_LOG_LEVEL_DEBUG, "c count ready");
  return true;
}

static bool restoring;

bool exports_cairn_operator_operator_process(exports_cairn_operator_operator_batch_t *input,
                                             exports_cairn_operator_operator_batch_t *ret,
                                             operator_world_string_t *err) {
  if (restoring) {
    cairn_operator_types_batch_free(input);
    return fail(err, "process called while a restore is in progress");
  }
  size_t n = input->key_ends.len;
  // At most 20 digits per count (u64).
  uint8_t *values = n ? malloc(n * 20) : NULL;
  uint32_t *value_ends = n ? malloc(n * sizeof(uint32_t)) : NULL;
  if (n && (!values || !value_ends)) abort();
  size_t at = 0;
  uint32_t start = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t end = input->key_ends.ptr[i];
    uint64_t *count = count_of(input->keys.ptr + start, end - start);
    start = end;
    uint64_t v = ++*count;
    char digits[20];
    int d = 0;
    do {
      digits[d++] = (char)('0' + v % 10);
      v /= 10;
    } while (v);
    while (d) values[at++] = (uint8_t)digits[--d];
    value_ends[i] = (uint32_t)at;
  }
  if (n) {
    uint8_t *shrunk = realloc(values, at);
    if (shrunk) values = shrunk;
  }
  // The output keeps the input's keys, key ends, timestamps and keyless events.
  ret->keys = input->keys;
  ret->key_ends = input->key_ends;
  ret->timestamps = input->timestamps;
  ret->keyless = input->keyless;
  ret->values = (operator_world_list_u8_t){values, at};
  ret->value_ends = (operator_world_list_u32_t){value_ends, n};
  operator_world_list_u8_free(&input->values);
  operator_world_list_u32_free(&input->value_ends);
  return true;
}

bool exports_cairn_operator_operator_on_watermark(int64_t ts, exports_cairn_operator_operator_batch_t *ret,
                                                  operator_world_string_t *err) {
  (void)ts;
  (void)err;
  memset(ret, 0, sizeof *ret);  // no events
  return true;
}

// ------------------------------------------------------------ snapshot and restore

static int by_key(const void *a, const void *b) {
  const entry_t *x = *(entry_t *const *)a, *y = *(entry_t *const *)b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->key, y->key, n);
  if (c) return c;
  return (x->len > y->len) - (x->len < y->len);
}

static buf_t pending;      // snapshot bytes
static size_t pending_at;  // how many were read

bool exports_cairn_operator_operator_snapshot(exports_cairn_operator_operator_state_info_t *ret,
                                              operator_world_string_t *err) {
  (void)err;
  free(pending.ptr);
  pending = (buf_t){0};
  pending_at = 0;
  entry_t **sorted = malloc((used ? used : 1) * sizeof(entry_t *));
  if (!sorted) abort();
  size_t k = 0;
  for (size_t i = 0; i < capacity; i++)
    if (slots[i].key) sorted[k++] = &slots[i];
  qsort(sorted, k, sizeof *sorted, by_key);
  put_varint(&pending, k);
  for (size_t i = 0; i < k; i++) {
    put_varint(&pending, sorted[i]->len);
    for (uint32_t j = 0; j < sorted[i]->len; j++) put_byte(&pending, sorted[i]->key[j]);
    put_varint(&pending, sorted[i]->count);
  }
  free(sorted);
  operator_world_string_dup(&ret->format, FORMAT);
  ret->version = STATE_VERSION;
  ret->size = pending.len;
  return true;
}

void exports_cairn_operator_operator_snapshot_read(uint32_t max_len, operator_world_list_u8_t *ret) {
  size_t n = pending.len - pending_at;
  if (n > max_len) n = max_len;
  if (n == 0) {
    *ret = (operator_world_list_u8_t){NULL, 0};
    return;
  }
  uint8_t *piece = malloc(n);  // freed by the bindings after the call
  if (!piece) abort();
  memcpy(piece, pending.ptr + pending_at, n);
  pending_at += n;
  if (pending_at == pending.len) {
    free(pending.ptr);
    pending = (buf_t){0};
    pending_at = 0;
  }
  *ret = (operator_world_list_u8_t){piece, n};
}

static buf_t incoming;        // state bytes being restored
static uint64_t incoming_size;  // as announced

bool exports_cairn_operator_operator_restore(exports_cairn_operator_operator_state_info_t *info,
                                             operator_world_string_t *err) {
  bool format_ok = info->format.len == strlen(FORMAT) && memcmp(info->format.ptr, FORMAT, info->format.len) == 0;
  char format[64];
  snprintf(format, sizeof format, "%.*s", (int)info->format.len, (const char *)info->format.ptr);
  uint32_t version = info->version;
  uint64_t size = info->size;
  cairn_operator_types_state_info_free(info);
  if (!format_ok) return fail(err, "cannot restore state in format \"%s\": count reads \"" FORMAT "\" only", format);
  if (version != STATE_VERSION)
    return fail(err, "cannot restore state version %u: count reads version %d only", (unsigned)version, STATE_VERSION);
  free(incoming.ptr);
  incoming = (buf_t){malloc(size ? size : 1), 0, size};
  if (!incoming.ptr) return fail(err, "cannot restore state of %llu bytes: out of memory", (unsigned long long)size);
  incoming_size = size;
  restoring = true;
  return true;
}

bool exports_cairn_operator_operator_restore_write(operator_world_list_u8_t *bytes, operator_world_string_t *err) {
  size_t n = bytes->len;
  if (!restoring) {
    operator_world_list_u8_free(bytes);
    return fail(err, "restore-write without restore");
  }
  if (incoming.len + n > incoming_size) {
    operator_world_list_u8_free(bytes);
    restoring = false;
    return fail(err, "restore-write: more bytes than the %llu announced", (unsigned long long)incoming_size);
  }
  if (n) memcpy(incoming.ptr + incoming.len, bytes->ptr, n);
  incoming.len += n;
  operator_world_list_u8_free(bytes);
  return true;
}

// Reads a varint at `*at`; false if the bytes end first or it is too long.
static bool get_varint(const buf_t *b, size_t *at, uint64_t *v) {
  *v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*at >= b->len) return false;
    uint8_t x = b->ptr[(*at)++];
    *v |= (uint64_t)(x & 0x7f) << shift;
    if (x < 0x80) return true;
  }
  return false;
}

bool exports_cairn_operator_operator_restore_finish(operator_world_string_t *err) {
  if (!restoring) return fail(err, "restore-finish without restore");
  restoring = false;
  buf_t b = incoming;
  incoming = (buf_t){0};
  if (b.len != incoming_size) {
    free(b.ptr);
    return fail(err, "restore-finish: %zu bytes written but the state has %llu bytes", b.len,
                (unsigned long long)incoming_size);
  }
  // Decode fully before touching the current counts: a bad state leaves them as they were.
  size_t at = 0;
  uint64_t n;
  const char *problem = NULL;
  if (!get_varint(&b, &at, &n)) problem = "truncated entry count";
  // Check the whole layout first.
  for (uint64_t e = 0; !problem && e < n; e++) {
    uint64_t len, count;
    if (!get_varint(&b, &at, &len) || len > b.len - at) problem = "truncated key";
    else if ((at += len, !get_varint(&b, &at, &count))) problem = "truncated count";
  }
  if (!problem && at != b.len) problem = "bytes left over after the state";
  if (problem) {
    free(b.ptr);
    return fail(err, "state version %d: cannot decode state: %s", STATE_VERSION, problem);
  }
  clear_counts();
  at = 0;
  get_varint(&b, &at, &n);
  for (uint64_t e = 0; e < n; e++) {
    uint64_t len, count;
    get_varint(&b, &at, &len);
    uint64_t *c = count_of(b.ptr + at, len);
    at += len;
    get_varint(&b, &at, &count);
    *c = count;
  }
  free(b.ptr);
  char msg[64];
  snprintf(msg, sizeof msg, "c count restored %zu keys", used);
  log_msg(CAIRN_OPERATOR_LOG_LEVEL_INFO, msg);
  return true;
}

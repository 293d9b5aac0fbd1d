// `count-0-2` in C: the running count of `count.c`, for contract
// `cairn:operator@0.2.0` (wit/0.2/operator.wit), so that it rescales.
//
// Emits exactly what the Rust `count` emits. State, format "postcard",
// version 1, in the pieces of 0.2.0 and byte for byte what the Rust SDK
// writes for `KeyedState<u64>` (guest-sdk/src/pieces.rs), so a checkpoint of
// either restores into the other, at any parallelism:
// - one operator piece (redistribution `union`): the byte 0x00 (the state's
//   only `KeyedState`, field 0);
// - keyed pieces: entries `varint field (0), varint key length, key bytes,
//   varint value length, value bytes (the count as a varint)`, sorted by
//   (XXH3-64 of the key with seed 0, key), cut into pieces of about 4 MiB
//   between two different hashes; the pieces' hash ranges are disjoint,
//   ascending, and cover exactly this subtask's range (`init`'s context).
// On restore the keyed pieces may come from several old subtasks: every
// entry whose hash lies outside this subtask's range is dropped (it is
// another subtask's key now).
//
// The key hash is XXH3 from Debian's libxxhash-dev (header only,
// `XXH_INLINE_ALL`), which `guestc c` installs and puts on the include path.

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include "xxhash.h"

#include "counts.h"
#include "operator_world_v2.h"

#define FORMAT "postcard"
#define STATE_VERSION 1
#define PIECE (4u << 20)

// ------------------------------------------------------------ errors, logging

// Sets `err` to a malloc'ed copy of a formatted message; returns false (the
// export's "error" result) so that callers can `return fail(err, ...)`.
__attribute__((format(printf, 2, 3))) static bool fail(operator_world_v2_string_t *err, const char *fmt, ...) {
  char msg[256];
  va_list args;
  va_start(args, fmt);
  vsnprintf(msg, sizeof msg, fmt, args);
  va_end(args);
  operator_world_v2_string_dup(err, msg);
  return false;
}

static void log_msg(cairn_operator_0_1_0_log_level_t level, const char *text) {
  operator_world_v2_string_t s;
  operator_world_v2_string_set(&s, text);  // borrowed: imports do not take ownership
  cairn_operator_0_1_0_log_log(level, &s);
}

// ------------------------------------------------------------ the operator

// The key hashes this subtask owns (from `init`'s context).
static uint64_t own_first = 0, own_last = UINT64_MAX;

bool exports_cairn_operator_0_2_0_operator_init(operator_world_v2_string_t *config,
                                               exports_cairn_operator_0_2_0_operator_context_t *context,
                                               operator_world_v2_string_t *err) {
  own_first = context->key_range.first;
  own_last = context->key_range.last;
  exports_cairn_operator_0_2_0_operator_context_free(context);
  // No config: JSON `null` (or nothing).
  size_t n = config->len;
  const char *c = (const char *)config->ptr;
  bool ok = n == 0 || (n == 4 && memcmp(c, "null", 4) == 0);
  operator_world_v2_string_free(config);
  if (!ok) return fail(err, "invalid config: count takes none");
  log_msg(CAIRN_OPERATOR_0_1_0_LOG_LEVEL_DEBUG, "c count (0.2.0) ready");
  return true;
}

static bool restoring;

bool exports_cairn_operator_0_2_0_operator_process(uint32_t input_index, exports_cairn_operator_0_2_0_operator_batch_t *input,
                                             exports_cairn_operator_0_2_0_operator_batch_t *ret,
                                             operator_world_v2_string_t *err) {
  (void)input_index;  // one input
  if (restoring) {
    cairn_operator_0_1_0_types_batch_free(input);
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
  ret->values = (operator_world_v2_list_u8_t){values, at};
  ret->value_ends = (operator_world_v2_list_u32_t){value_ends, n};
  operator_world_v2_list_u8_free(&input->values);
  operator_world_v2_list_u32_free(&input->value_ends);
  return true;
}

bool exports_cairn_operator_0_2_0_operator_on_watermark(int64_t ts, exports_cairn_operator_0_2_0_operator_batch_t *ret,
                                                  operator_world_v2_string_t *err) {
  (void)ts;
  (void)err;
  memset(ret, 0, sizeof *ret);  // no events
  return true;
}

// ------------------------------------------------------------ snapshot and restore

static size_t varint_len(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) v >>= 7, n++;
  return n;
}

typedef struct {
  uint64_t hash;
  const entry_t *e;
} hashed_t;

static int by_hash_then_key(const void *a, const void *b) {
  const hashed_t *x = a, *y = b;
  if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
  size_t n = x->e->len < y->e->len ? x->e->len : y->e->len;
  int c = memcmp(x->e->key, y->e->key, n);
  if (c) return c;
  return (x->e->len > y->e->len) - (x->e->len < y->e->len);
}

static buf_t pending;      // snapshot bytes: the operator piece, then the keyed pieces
static size_t pending_at;  // how many were read

bool exports_cairn_operator_0_2_0_operator_snapshot(exports_cairn_operator_0_2_0_operator_snapshot_info_t *ret,
                                                   operator_world_v2_string_t *err) {
  (void)err;
  free(pending.ptr);
  pending = (buf_t){0};
  pending_at = 0;
  hashed_t *sorted = malloc((used ? used : 1) * sizeof(hashed_t));
  if (!sorted) abort();
  size_t k = 0;
  for (size_t i = 0; i < capacity; i++)
    if (slots[i].key) sorted[k++] = (hashed_t){XXH3_64bits(slots[i].key, slots[i].len), &slots[i]};
  qsort(sorted, k, sizeof *sorted, by_hash_then_key);
  // Pieces: at most one per PIECE bytes, plus the operator piece.
  size_t max_pieces = 2 + (k * 16) / PIECE + k / 1024;
  cairn_operator_0_2_0_types_piece_t *pieces = malloc(max_pieces * sizeof *pieces);
  if (!pieces) abort();
  size_t np = 0;
  put_byte(&pending, 0);  // the operator piece: field 0
  pieces[np++] = (cairn_operator_0_2_0_types_piece_t){
      {CAIRN_OPERATOR_0_2_0_TYPES_PIECE_KIND_OPERATOR, {.operator_ = CAIRN_OPERATOR_0_2_0_TYPES_REDISTRIBUTION_UNION}}, 1};
  size_t piece_start = pending.len;
  uint64_t first = own_first;
  for (size_t i = 0; i < k; i++) {
    const entry_t *e = sorted[i].e;
    put_varint(&pending, 0);
    put_varint(&pending, e->len);
    for (uint32_t j = 0; j < e->len; j++) put_byte(&pending, e->key[j]);
    put_varint(&pending, varint_len(e->count));
    put_varint(&pending, e->count);
    bool last = i + 1 == k;
    bool cut = !last && pending.len - piece_start >= PIECE && sorted[i + 1].hash != sorted[i].hash && np + 1 < max_pieces;
    if (cut || last) {
      uint64_t end = last ? own_last : sorted[i].hash;
      cairn_operator_0_2_0_types_piece_kind_t kind = {CAIRN_OPERATOR_0_2_0_TYPES_PIECE_KIND_KEYED, {.keyed = {first, end}}};
      pieces[np++] = (cairn_operator_0_2_0_types_piece_t){kind, pending.len - piece_start};
      piece_start = pending.len;
      first = end + 1;
    }
  }
  free(sorted);
  operator_world_v2_string_dup(&ret->format, FORMAT);
  ret->version = STATE_VERSION;
  ret->pieces = (cairn_operator_0_2_0_types_list_piece_t){pieces, np};
  return true;
}

void exports_cairn_operator_0_2_0_operator_snapshot_read(uint32_t max_len, operator_world_v2_list_u8_t *ret) {
  size_t n = pending.len - pending_at;
  if (n > max_len) n = max_len;
  if (n == 0) {
    *ret = (operator_world_v2_list_u8_t){NULL, 0};
    return;
  }
  uint8_t *chunk = malloc(n);  // freed by the bindings after the call
  if (!chunk) abort();
  memcpy(chunk, pending.ptr + pending_at, n);
  pending_at += n;
  if (pending_at == pending.len) {
    free(pending.ptr);
    pending = (buf_t){0};
    pending_at = 0;
  }
  *ret = (operator_world_v2_list_u8_t){chunk, n};
}

static buf_t incoming;          // bytes of the pieces being restored
static uint64_t incoming_size;  // as announced
static cairn_operator_0_2_0_types_restore_piece_t *incoming_pieces;
static size_t incoming_count;

bool exports_cairn_operator_0_2_0_operator_restore(exports_cairn_operator_0_2_0_operator_restore_info_t *info,
                                                  operator_world_v2_string_t *err) {
  bool format_ok = info->format.len == strlen(FORMAT) && memcmp(info->format.ptr, FORMAT, info->format.len) == 0;
  char format[64];
  snprintf(format, sizeof format, "%.*s", (int)info->format.len, (const char *)info->format.ptr);
  uint32_t version = info->version;
  uint64_t size = 0;
  for (size_t i = 0; i < info->pieces.len; i++) size += info->pieces.ptr[i].size;
  free(incoming_pieces);
  incoming_count = info->pieces.len;
  incoming_pieces = malloc((incoming_count ? incoming_count : 1) * sizeof *incoming_pieces);
  if (!incoming_pieces) abort();
  if (incoming_count) memcpy(incoming_pieces, info->pieces.ptr, incoming_count * sizeof *incoming_pieces);
  exports_cairn_operator_0_2_0_operator_restore_info_free(info);
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

bool exports_cairn_operator_0_2_0_operator_restore_write(operator_world_v2_list_u8_t *bytes, operator_world_v2_string_t *err) {
  size_t n = bytes->len;
  if (!restoring) {
    operator_world_v2_list_u8_free(bytes);
    return fail(err, "restore-write without restore");
  }
  if (incoming.len + n > incoming_size) {
    operator_world_v2_list_u8_free(bytes);
    restoring = false;
    return fail(err, "restore-write: more bytes than the %llu announced", (unsigned long long)incoming_size);
  }
  if (n) memcpy(incoming.ptr + incoming.len, bytes->ptr, n);
  incoming.len += n;
  operator_world_v2_list_u8_free(bytes);
  return true;
}

// Reads a varint at `*at` (below `end`); false if the bytes end first or it is too long.
static bool get_varint(const uint8_t *p, size_t end, size_t *at, uint64_t *v) {
  *v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*at >= end) return false;
    uint8_t x = p[(*at)++];
    *v |= (uint64_t)(x & 0x7f) << shift;
    if (x < 0x80) return true;
  }
  return false;
}

// Walks the keyed piece `p[at..end]` of range [first, last]; with `install`,
// adds the entries of this subtask's range to the counts. Returns a problem, or NULL.
static const char *walk_piece(const uint8_t *p, size_t at, size_t end, uint64_t first, uint64_t last, bool install) {
  while (at < end) {
    uint64_t field, len, vlen, count;
    if (!get_varint(p, end, &at, &field) || field != 0) return "an entry of a field other than 0 (count keeps one KeyedState)";
    if (!get_varint(p, end, &at, &len) || len > end - at) return "truncated key";
    const uint8_t *key = p + at;
    at += len;
    if (!get_varint(p, end, &at, &vlen) || vlen > end - at) return "truncated count";
    size_t value_end = at + vlen;
    if (!get_varint(p, value_end, &at, &count) || at != value_end) return "a count that is not one varint";
    uint64_t h = XXH3_64bits(key, len);
    if (h < first || h > last) return "a key whose hash lies outside its piece's range (the piece is corrupt)";
    if (install && h >= own_first && h <= own_last) *count_of(key, len) = count;
  }
  return NULL;
}

bool exports_cairn_operator_0_2_0_operator_restore_finish(operator_world_v2_string_t *err) {
  if (!restoring) return fail(err, "restore-finish without restore");
  restoring = false;
  buf_t b = incoming;
  incoming = (buf_t){0};
  if (b.len != incoming_size) {
    free(b.ptr);
    return fail(err, "restore-finish: %zu bytes written but the state has %llu bytes", b.len,
                (unsigned long long)incoming_size);
  }
  // Check every piece first: a bad state leaves the counts as they were.
  const char *problem = NULL;
  for (int pass = 0; pass < 2 && !problem; pass++) {
    if (pass == 1) clear_counts();
    size_t at = 0;
    for (size_t i = 0; i < incoming_count && !problem; i++) {
      cairn_operator_0_2_0_types_restore_piece_t *piece = &incoming_pieces[i];
      size_t end = at + piece->size;
      if (piece->kind.tag == CAIRN_OPERATOR_0_2_0_TYPES_PIECE_KIND_OPERATOR) {
        if (piece->size != 1 || b.ptr[at] != 0) problem = "an operator piece other than the byte 0x00";
      } else {
        uint64_t first = piece->kind.val.keyed.first, last = piece->kind.val.keyed.last;
        if (last < own_first || first > own_last) problem = "a keyed piece whose range does not overlap the hashes this subtask owns";
        else problem = walk_piece(b.ptr, at, end, first, last, pass == 1);
      }
      at = end;
    }
  }
  free(b.ptr);
  if (problem) return fail(err, "state version %d: cannot decode state: %s", STATE_VERSION, problem);
  char msg[64];
  snprintf(msg, sizeof msg, "c count restored %zu keys", used);
  log_msg(CAIRN_OPERATOR_0_1_0_LOG_LEVEL_INFO, msg);
  return true;
}

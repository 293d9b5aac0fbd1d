// `filter` in C: keeps the events whose value contains a substring.
//
// The same operator as the Rust `operators/guests/filter`. Config:
// {"contains": "<substring>", "invert": false} (`contains` required; `invert`
// optional, default false, keeps the events that do *not* contain it).
// Matching is on bytes. Events pass through unchanged. Stateless: its
// snapshot is postcard's encoding of "no state", zero bytes.
//
// Built by `guestc c` into target/operators/c-filter.wasm.

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator_world.h"

__attribute__((format(printf, 2, 3))) static bool fail(operator_world_string_t *err, const char *fmt, ...) {
  char msg[256];
  va_list args;
  va_start(args, fmt);
  vsnprintf(msg, sizeof msg, fmt, args);
  va_end(args);
  operator_world_string_dup(err, msg);
  return false;
}

static uint8_t *needle;
static size_t needle_len;
static bool invert;

// ------------------------------------------------------------ a small JSON reader for the config

typedef struct {
  const uint8_t *p, *end;
} json_t;

static void skip_ws(json_t *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static bool eat(json_t *j, char c) {
  skip_ws(j);
  if (j->p < j->end && *j->p == (uint8_t)c) {
    j->p++;
    return true;
  }
  return false;
}

static bool eat_word(json_t *j, const char *w) {
  size_t n = strlen(w);
  skip_ws(j);
  if ((size_t)(j->end - j->p) >= n && memcmp(j->p, w, n) == 0) {
    j->p += n;
    return true;
  }
  return false;
}

static int hex4(const uint8_t *p) {
  int v = 0;
  for (int i = 0; i < 4; i++) {
    int c = p[i], d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

// Reads a JSON string into a malloc'ed UTF-8 buffer; NULL if malformed.
static uint8_t *read_string(json_t *j, size_t *len) {
  if (!eat(j, '"')) return NULL;
  uint8_t *out = malloc((size_t)(j->end - j->p) + 1);
  if (!out) abort();
  size_t n = 0;
  while (j->p < j->end && *j->p != '"') {
    uint8_t c = *j->p++;
    if (c != '\\') {
      out[n++] = c;
      continue;
    }
    if (j->p >= j->end) break;
    c = *j->p++;
    const char *simple = strchr("\"\\/bfnrt", c);
    if (simple && c) {
      out[n++] = (uint8_t) "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
      continue;
    }
    if (c != 'u' || j->end - j->p < 4) break;
    long cp = hex4(j->p);
    j->p += 4;
    if (cp >= 0xD800 && cp < 0xDC00 && j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u') {
      int lo = hex4(j->p + 2);
      if (lo >= 0xDC00 && lo < 0xE000) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        j->p += 6;
      }
    }
    if (cp < 0) break;
    // Encode as UTF-8 (at most 4 bytes; an escape takes at least 6 input bytes).
    if (cp < 0x80) out[n++] = (uint8_t)cp;
    else if (cp < 0x800) out[n++] = (uint8_t)(0xC0 | cp >> 6), out[n++] = (uint8_t)(0x80 | (cp & 0x3F));
    else if (cp < 0x10000)
      out[n++] = (uint8_t)(0xE0 | cp >> 12), out[n++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F)), out[n++] = (uint8_t)(0x80 | (cp & 0x3F));
    else
      out[n++] = (uint8_t)(0xF0 | cp >> 18), out[n++] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F)),
      out[n++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F)), out[n++] = (uint8_t)(0x80 | (cp & 0x3F));
  }
  if (j->p >= j->end) {
    free(out);
    return NULL;
  }
  j->p++;  // closing quote
  *len = n;
  return out;
}

// Parses {"contains": "...", "invert": true|false}; NULL or an error message.
static const char *parse_config(json_t *j, char *problem, size_t size) {
  if (!eat(j, '{')) return "invalid config: expected an object with `contains`";
  bool have_contains = false;
  if (!eat(j, '}')) {
    do {
      size_t klen;
      uint8_t *key = read_string(j, &klen);
      if (!key || !eat(j, ':')) {
        free(key);
        return "invalid config: malformed JSON";
      }
      if (klen == 8 && memcmp(key, "contains", 8) == 0) {
        free(needle);
        needle = read_string(j, &needle_len);
        if (!needle) {
          free(key);
          return "invalid config: `contains` must be a string";
        }
        have_contains = true;
      } else if (klen == 6 && memcmp(key, "invert", 6) == 0) {
        if (eat_word(j, "true")) invert = true;
        else if (eat_word(j, "false")) invert = false;
        else {
          free(key);
          return "invalid config: `invert` must be true or false";
        }
      } else {
        snprintf(problem, size, "invalid config: unknown field `%.*s`", (int)klen, (const char *)key);
        free(key);
        return problem;
      }
      free(key);
    } while (eat(j, ','));
    if (!eat(j, '}')) return "invalid config: malformed JSON";
  }
  skip_ws(j);
  if (j->p != j->end) return "invalid config: trailing characters";
  if (!have_contains) return "invalid config: missing field `contains`";
  return NULL;
}

bool exports_cairn_operator_operator_init(operator_world_string_t *config, operator_world_string_t *err) {
  json_t j = {config->ptr, config->ptr + config->len};
  char problem[128];
  const char *msg = parse_config(&j, problem, sizeof problem);
  operator_world_string_free(config);
  if (msg) return fail(err, "%s", msg);
  return true;
}

// ------------------------------------------------------------ processing

static bool contains(const uint8_t *hay, size_t n) {
  if (needle_len == 0) return true;
  for (size_t i = 0; i + needle_len <= n; i++)
    if (hay[i] == needle[0] && memcmp(hay + i, needle, needle_len) == 0) return true;
  return false;
}

bool exports_cairn_operator_operator_process(exports_cairn_operator_operator_batch_t *in,
                                             exports_cairn_operator_operator_batch_t *ret,
                                             operator_world_string_t *err) {
  (void)err;
  size_t n = in->timestamps.len;
  // Kept events are compacted in place: the input's columns become the output's.
  size_t kept = 0, key_at = 0, value_at = 0, keyless_in = 0, keyless_out = 0;
  uint32_t key_start = 0, value_start = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t key_end = in->key_ends.ptr[i], value_end = in->value_ends.ptr[i];
    bool is_keyless = keyless_in < in->keyless.len && in->keyless.ptr[keyless_in] == i;
    if (is_keyless) keyless_in++;
    if (contains(in->values.ptr + value_start, value_end - value_start) != invert) {
      memmove(in->keys.ptr + key_at, in->keys.ptr + key_start, key_end - key_start);
      key_at += key_end - key_start;
      memmove(in->values.ptr + value_at, in->values.ptr + value_start, value_end - value_start);
      value_at += value_end - value_start;
      in->key_ends.ptr[kept] = (uint32_t)key_at;
      in->value_ends.ptr[kept] = (uint32_t)value_at;
      in->timestamps.ptr[kept] = in->timestamps.ptr[i];
      if (is_keyless) in->keyless.ptr[keyless_out++] = (uint32_t)kept;
      kept++;
    }
    key_start = key_end;
    value_start = value_end;
  }
  // A list whose length drops to 0 is not freed by the bindings: free it here.
  if (key_at == 0) operator_world_list_u8_free(&in->keys);
  if (value_at == 0) operator_world_list_u8_free(&in->values);
  if (kept == 0) {
    operator_world_list_u32_free(&in->key_ends);
    operator_world_list_u32_free(&in->value_ends);
    operator_world_list_s64_free(&in->timestamps);
  }
  if (keyless_out == 0) operator_world_list_u32_free(&in->keyless);
  in->keys.len = key_at;
  in->values.len = value_at;
  in->key_ends.len = in->value_ends.len = in->timestamps.len = kept;
  in->keyless.len = keyless_out;
  *ret = *in;
  return true;
}

bool exports_cairn_operator_operator_on_watermark(int64_t ts, exports_cairn_operator_operator_batch_t *ret,
                                                  operator_world_string_t *err) {
  (void)ts;
  (void)err;
  memset(ret, 0, sizeof *ret);
  return true;
}

// ------------------------------------------------------------ no state

bool exports_cairn_operator_operator_snapshot(exports_cairn_operator_operator_state_info_t *ret,
                                              operator_world_string_t *err) {
  (void)err;
  operator_world_string_dup(&ret->format, "postcard");
  ret->version = 1;
  ret->size = 0;
  return true;
}

void exports_cairn_operator_operator_snapshot_read(uint32_t max_len, operator_world_list_u8_t *ret) {
  (void)max_len;
  *ret = (operator_world_list_u8_t){NULL, 0};
}

bool exports_cairn_operator_operator_restore(exports_cairn_operator_operator_state_info_t *info,
                                             operator_world_string_t *err) {
  uint64_t size = info->size;
  cairn_operator_types_state_info_free(info);
  if (size != 0) return fail(err, "filter is stateless but was handed %llu bytes of state", (unsigned long long)size);
  return true;
}

bool exports_cairn_operator_operator_restore_write(operator_world_list_u8_t *bytes, operator_world_string_t *err) {
  size_t n = bytes->len;
  operator_world_list_u8_free(bytes);
  if (n) return fail(err, "filter is stateless");
  return true;
}

bool exports_cairn_operator_operator_restore_finish(operator_world_string_t *err) {
  (void)err;
  return true;
}

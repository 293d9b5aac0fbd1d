// Shared by the C operators (`count.c`, contract 0.1.0, `count-0-2.c`, 0.2.0,
// and `last.c`, which also keeps the last value per key): the counts per key in an open-addressing hash table, and a growable
// byte buffer with postcard's varint. Included once by each operator (every
// function is static: each component gets its own copy).

#ifndef CAIRN_COUNTS_H
#define CAIRN_COUNTS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// ------------------------------------------------------------ the counts: an open-addressing hash table

typedef struct {
  uint8_t *key;  // malloc'ed copy, NULL for an empty slot (an empty key is stored as a 1-byte allocation)
  uint32_t len;
  uint64_t hash;
  uint64_t count;
  uint8_t *value;  // malloc'ed, `value_len` bytes: the last value, for operators that keep one (NULL otherwise)
  uint32_t value_len;
} entry_t;

static entry_t *slots;
static size_t capacity;  // a power of two, or 0
static size_t used;

static uint64_t hash_bytes(const uint8_t *p, size_t n) {  // FNV-1a
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

static void grow(void) {
  size_t new_cap = capacity ? capacity * 2 : 1024;
  entry_t *fresh = calloc(new_cap, sizeof(entry_t));
  if (!fresh) abort();
  for (size_t i = 0; i < capacity; i++) {
    if (!slots[i].key) continue;
    size_t j = slots[i].hash & (new_cap - 1);
    while (fresh[j].key) j = (j + 1) & (new_cap - 1);
    fresh[j] = slots[i];
  }
  free(slots);
  slots = fresh;
  capacity = new_cap;
}

// Not every operator that includes this file uses every function.
#define CAIRN_MAYBE_UNUSED __attribute__((unused))

// The entry of `key`, inserted with count 0 and no value if new.
CAIRN_MAYBE_UNUSED static entry_t *entry_of(const uint8_t *key, size_t len) {
  if ((used + 1) * 10 > capacity * 7) grow();
  uint64_t h = hash_bytes(key, len);
  size_t i = h & (capacity - 1);
  while (slots[i].key) {
    if (slots[i].hash == h && slots[i].len == len && memcmp(slots[i].key, key, len) == 0) return &slots[i];
    i = (i + 1) & (capacity - 1);
  }
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy) abort();
  memcpy(copy, key, len);
  slots[i] = (entry_t){copy, (uint32_t)len, h, 0, NULL, 0};
  used++;
  return &slots[i];
}

// The count of `key`, inserted as 0 if new.
CAIRN_MAYBE_UNUSED static uint64_t *count_of(const uint8_t *key, size_t len) {
  return &entry_of(key, len)->count;
}

CAIRN_MAYBE_UNUSED static void clear_counts(void) {
  for (size_t i = 0; i < capacity; i++) {
    free(slots[i].key);
    free(slots[i].value);
  }
  free(slots);
  slots = NULL;
  capacity = used = 0;
}

typedef struct {
  uint8_t *ptr;
  size_t len, cap;
} buf_t;

CAIRN_MAYBE_UNUSED static void put_byte(buf_t *b, uint8_t x) {
  if (b->len == b->cap) {
    b->cap = b->cap ? b->cap * 2 : 256;
    b->ptr = realloc(b->ptr, b->cap);
    if (!b->ptr) abort();
  }
  b->ptr[b->len++] = x;
}

CAIRN_MAYBE_UNUSED static void put_varint(buf_t *b, uint64_t v) {
  while (v >= 0x80) {
    put_byte(b, (uint8_t)(v | 0x80));
    v >>= 7;
  }
  put_byte(b, (uint8_t)v);
}

#endif

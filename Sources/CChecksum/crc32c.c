#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#define POLY 0x82F63B78u  /* Castagnoli, reflected */

static uint32_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ ((c & 1) ? POLY : 0);
        table[i] = c;
    }
}

uint32_t stowage_crc32c_portable(uint32_t crc, const void *bytes, size_t length) {
    pthread_once(&table_once, build_table);
    const uint8_t *p = bytes;
    crc = ~crc;
    while (length--) crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

#if defined(__x86_64__)
#include <nmmintrin.h>

__attribute__((target("sse4.2")))
static uint32_t crc32c_hardware(uint32_t crc, const void *bytes, size_t length) {
    const uint8_t *p = bytes;
    uint64_t c = ~crc;
    for (; length >= 8; p += 8, length -= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = _mm_crc32_u64(c, word);
    }
    uint32_t c32 = (uint32_t)c;
    while (length--) c32 = _mm_crc32_u8(c32, *p++);
    return ~c32;
}

static int has_hardware(void) { return __builtin_cpu_supports("sse4.2"); }

#elif defined(__aarch64__) && defined(__linux__)
#include <arm_acle.h>
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif

__attribute__((target("crc")))
static uint32_t crc32c_hardware(uint32_t crc, const void *bytes, size_t length) {
    const uint8_t *p = bytes;
    uint32_t c = ~crc;
    for (; length >= 8; p += 8, length -= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = __crc32cd(c, word);
    }
    while (length--) c = __crc32cb(c, *p++);
    return ~c;
}

static int has_hardware(void) { return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0; }

#else
static uint32_t crc32c_hardware(uint32_t crc, const void *bytes, size_t length) {
    return stowage_crc32c_portable(crc, bytes, length);
}
static int has_hardware(void) { return 0; }
#endif

uint32_t stowage_crc32c(uint32_t crc, const void *bytes, size_t length) {
    /* Racing first calls all store the same answer. */
    static int hardware = -1;
    int known = __atomic_load_n(&hardware, __ATOMIC_RELAXED);
    if (known < 0) {
        known = has_hardware();
        __atomic_store_n(&hardware, known, __ATOMIC_RELAXED);
    }
    return known ? crc32c_hardware(crc, bytes, length) : stowage_crc32c_portable(crc, bytes, length);
}

#ifndef STOWAGE_CRC32C_H
#define STOWAGE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/// CRC-32C (Castagnoli), as S3's x-amz-checksum-crc32c wants it. `crc` is the value so
/// far (0 to start); the result of one call feeds the next, so a stream can be fed in
/// chunks. Uses the CPU's CRC32 instruction (x86-64 SSE4.2, AArch64 CRC) when the CPU has
/// it, else a table.
uint32_t stowage_crc32c(uint32_t crc, const void *bytes, size_t length);

/// The table version alone, whatever the CPU: for tests that check both agree.
uint32_t stowage_crc32c_portable(uint32_t crc, const void *bytes, size_t length);

#endif

#pragma once
#include <zlib.h>

/// inflateInit2 is a macro; this accepts gzip and zlib streams (windowBits 15 + 32 = auto-detect).
static inline int pingroll_inflate_init_auto(z_stream *stream) {
    return inflateInit2(stream, 15 + 32);
}

/// deflateInit2 is a macro; windowBits 15 + 16 writes a gzip wrapper.
static inline int pingroll_deflate_init_gzip(z_stream *stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}

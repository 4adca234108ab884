// libpng as the reference for the png fuzz target (Fuzz/png.swift): a PNG decoded to what Prism's decoder returns.
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t width, height;
    int channels;    // 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA
    int bit_depth;   // 8 or 16
    uint16_t *samples;  // width * height * channels, row-major; free with png_reference_free
} png_reference_image;

/// Decodes with libpng: palette expanded to RGB (RGBA with tRNS), gray below 8 bits scaled to 8, 16 bits kept,
/// Adam7 undone, a tRNS colour key on gray or RGB ignored. Returns 0 on success.
int png_reference_decode(const uint8_t *data, size_t size, png_reference_image *out);
void png_reference_free(png_reference_image *image);

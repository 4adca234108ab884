// A thin C wrapper over libjpeg(-turbo): libjpeg reports errors by longjmp, which must not cross into Swift,
// so decoding happens here and errors come back as a status and a message.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int width, height, channels; // channels: 1 (gray) or 3 (RGB)
    uint8_t *pixels;             // width * height * channels bytes, row-major; free with cjpeg_free
    char message[200];           // libjpeg's message when decoding failed
} cjpeg_image;

/// Decodes a JPEG in memory; returns 0 on success, 2 for an image of more than `max_pixels` pixels (refused before
/// anything is allocated for it), 1 for any other failure. Colour JPEGs come out as RGB; CMYK and YCCK ones fail
/// ("Unsupported color conversion request": libjpeg-turbo does not convert them to RGB).
int cjpeg_decode(const uint8_t *data, size_t size, size_t max_pixels, cjpeg_image *out);
/// Encodes 8-bit gray (channels 1) or RGB (3) pixels; *out is malloc'd (free with cjpeg_free). Returns 0 on success.
int cjpeg_encode(const uint8_t *pixels, int width, int height, int channels, int quality, uint8_t **out,
                 size_t *out_size, char *message, size_t message_size);
void cjpeg_free(void *p);

#ifdef __cplusplus
}
#endif

// libpng as the reference for the png fuzz target; see png_reference.h.
#include "png_reference.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

struct source {
    const uint8_t *data;
    size_t size, offset;
};

static void read_data(png_structp png, png_bytep out, size_t length) {
    struct source *s = png_get_io_ptr(png);
    if (length > s->size - s->offset) png_error(png, "read past the end");
    memcpy(out, s->data + s->offset, length);
    s->offset += length;
}

static void quiet(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static void fail(png_structp png, png_const_charp message) {
    (void)message;
    png_longjmp(png, 1);
}

int png_reference_decode(const uint8_t *data, size_t size, png_reference_image *out) {
    memset(out, 0, sizeof *out);
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, fail, quiet);
    if (!png) return 1;
    png_infop info = png_create_info_struct(png);
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, info ? &info : NULL, NULL);
        free(pixels);
        free(rows);
        return 1;
    }
    struct source source = {data, size, 0};
    png_set_read_fn(png, &source, read_data);
    png_read_info(png, info);
    int color = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if ((uint64_t)png_get_image_width(png, info) * png_get_image_height(png, info) > (1u << 26)) png_error(png, "large");
    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_set_palette_to_rgb(png);
        if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    } else if (depth < 8) {
        png_set_expand_gray_1_2_4_to_8(png);
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    uint32_t w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int channels = png_get_channels(png, info), out_depth = png_get_bit_depth(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);
    pixels = malloc(row_bytes * h);
    rows = malloc(sizeof(png_bytep) * h);
    if (!pixels || !rows) png_error(png, "out of memory");
    for (uint32_t y = 0; y < h; y++) rows[y] = pixels + row_bytes * y;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    size_t count = (size_t)w * h * channels;
    uint16_t *samples = malloc(count * sizeof *samples + 1);
    if (!samples) png_error(png, "out of memory");
    for (size_t i = 0; i < count; i++)
        samples[i] = out_depth == 16 ? (uint16_t)(pixels[2 * i] << 8 | pixels[2 * i + 1]) : pixels[i];
    png_destroy_read_struct(&png, &info, NULL);
    free(pixels);
    free(rows);
    out->width = w;
    out->height = h;
    out->channels = channels;
    out->bit_depth = out_depth;
    out->samples = samples;
    return 0;
}

void png_reference_free(png_reference_image *image) {
    free(image->samples);
    image->samples = NULL;
}

// Writes the seed corpus of the jpeg fuzz target: small synthetic images encoded by libjpeg in the variants a
// decoder meets (gray and colour, baseline, progressive, optimised Huffman tables, arithmetic coding, restart
// markers, chroma subsampling, CMYK and the Adobe marker). The repository has no JPEG fixtures to start from.
// Usage: jpeg-seeds FOLDER (built and run by scripts/fuzz).
#include <setjmp.h>
#include <stdio.h>
#include <jpeglib.h>
#include <stdlib.h>
#include <string.h>

struct error_manager {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
};

static void on_error(j_common_ptr cinfo) { longjmp(((struct error_manager *)cinfo->err)->jump, 1); }

enum { GRAY, RGB, CMYK };

// One file; returns 0 on success (libjpeg may lack a variant, arithmetic coding say: that one is skipped).
static int write_jpeg(const char *path, int width, int height, int space, int quality, int progressive,
                      int optimize, int arithmetic, int restart, int subsample) {
    struct jpeg_compress_struct cinfo;
    struct error_manager err;
    int components = space == GRAY ? 1 : space == RGB ? 3 : 4;
    unsigned char *pixels = malloc((size_t)width * height * components);
    FILE *f = fopen(path, "wb");
    if (!pixels || !f) return 1;
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            for (int c = 0; c < components; c++) {
                // A gradient with a disc and some texture, so that every coefficient band is used.
                int dx = x - width / 2, dy = y - height / 2;
                int v = (x * 255 / width + y * 97 / height + c * 60 + ((x ^ y) & 7) * 5) & 255;
                if (dx * dx + dy * dy < width * height / 8) v = 255 - v;
                pixels[((size_t)y * width + x) * components + c] = (unsigned char)v;
            }
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = on_error;
    if (setjmp(err.jump)) {
        jpeg_destroy_compress(&cinfo);
        fclose(f);
        remove(path);
        free(pixels);
        return 1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, f);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = components;
    cinfo.in_color_space = space == GRAY ? JCS_GRAYSCALE : space == RGB ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    if (space == RGB && !subsample) {
        cinfo.comp_info[0].h_samp_factor = cinfo.comp_info[0].v_samp_factor = 1;
    } else if (space == RGB && subsample == 2) {
        cinfo.comp_info[0].h_samp_factor = 2;
        cinfo.comp_info[0].v_samp_factor = 1;
    }
    cinfo.optimize_coding = optimize ? TRUE : FALSE;
    cinfo.arith_code = arithmetic ? TRUE : FALSE;
    cinfo.restart_interval = (unsigned)restart;
    if (progressive) jpeg_simple_progression(&cinfo);
    jpeg_start_compress(&cinfo, TRUE);
    if (space == GRAY) {
        static const char comment[] = "prism fuzz seed";
        jpeg_write_marker(&cinfo, JPEG_COM, (const JOCTET *)comment, sizeof comment - 1);
    }
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = pixels + (size_t)cinfo.next_scanline * width * components;
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    fclose(f);
    free(pixels);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s FOLDER\n", argv[0]);
        return 2;
    }
    static const struct {
        const char *name;
        int width, height, space, quality, progressive, optimize, arithmetic, restart, subsample;
    } variants[] = {
        {"gray-baseline", 32, 24, GRAY, 90, 0, 0, 0, 0, 0},
        {"gray-progressive", 33, 17, GRAY, 75, 1, 1, 0, 0, 0},
        {"gray-restart", 40, 40, GRAY, 50, 0, 0, 0, 1, 0},
        {"gray-arithmetic", 16, 16, GRAY, 80, 0, 0, 1, 0, 0},
        {"gray-1x1", 1, 1, GRAY, 95, 0, 0, 0, 0, 0},
        {"rgb-420", 31, 29, RGB, 85, 0, 0, 0, 0, 1},
        {"rgb-444-optimized", 24, 16, RGB, 95, 0, 1, 0, 0, 0},
        {"rgb-422-progressive", 48, 20, RGB, 70, 1, 1, 0, 2, 2},
        {"rgb-arithmetic-progressive", 20, 20, RGB, 60, 1, 0, 1, 0, 1},
        {"cmyk", 16, 12, CMYK, 90, 0, 0, 0, 0, 0},
        {"gray-wide", 200, 8, GRAY, 30, 0, 0, 0, 0, 0},
    };
    int written = 0;
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.jpg", argv[1], variants[i].name);
        if (write_jpeg(path, variants[i].width, variants[i].height, variants[i].space, variants[i].quality,
                       variants[i].progressive, variants[i].optimize, variants[i].arithmetic, variants[i].restart,
                       variants[i].subsample) == 0)
            written++;
    }
    return written > 0 ? 0 : 1;
}

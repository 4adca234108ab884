// A plain C ABI over DCMTK (dcmdata, dcmjpeg, dcmjpls): DCMTK is C++, and neither its classes nor a C++ exception
// may cross into Swift, so every call here catches what DCMTK throws and reports a status and a message.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A DICOM file read into memory (DCMTK's DcmFileFormat: meta header + dataset).
typedef struct cdcmtk_file cdcmtk_file;

/// Reads a DICOM Part 10 file, in any transfer syntax DCMTK parses (deflated included), into memory. Returns 0 and
/// sets *out (free with cdcmtk_close), or 1 with DCMTK's reason in `message`. An element longer than the rest of
/// the file is refused before anything is allocated for it.
int cdcmtk_read_file(const char *path, cdcmtk_file **out, char *message, size_t message_size);
/// cdcmtk_read_file on bytes in memory (through a temporary file in $TMPDIR or /tmp, removed before returning).
int cdcmtk_read(const uint8_t *data, size_t size, cdcmtk_file **out, char *message, size_t message_size);
void cdcmtk_close(cdcmtk_file *file);

/// The transfer syntax the dataset was read in: its UID and DCMTK's name for it ("" when unknown).
void cdcmtk_transfer_syntax(const cdcmtk_file *file, char *uid, size_t uid_size, char *name, size_t name_size);

/// An attribute's whole value as text (multiple values separated by a backslash), from the meta header for group
/// 0002 and from the dataset otherwise. When `sequence_group` is non-zero the attribute is looked up in item `item`
/// of that sequence instead. Returns 1 when present (possibly empty), 0 when absent.
int cdcmtk_string(const cdcmtk_file *file, uint16_t sequence_group, uint16_t sequence_element, int item,
                  uint16_t group, uint16_t element, char *out, size_t out_size);

/// Whether the dataset has the attribute (with any length, zero included).
int cdcmtk_has(const cdcmtk_file *file, uint16_t group, uint16_t element);

/// The number of items of a sequence in the dataset (0 when absent).
int cdcmtk_items(const cdcmtk_file *file, uint16_t group, uint16_t element);

/// A LUT (LUT Descriptor + LUT Data) of item `item` of a sequence such as the VOI LUT Sequence (0028,3010) or the
/// Modality LUT Sequence (0028,3000). descriptor: entries (0 means 65536), first mapped value, bits. *data is
/// malloc'd (free with cdcmtk_free). Returns 0 on success, 1 with a message.
int cdcmtk_lut(const cdcmtk_file *file, uint16_t group, uint16_t element, int item, int32_t descriptor[3],
               uint16_t **data, size_t *count, char *message, size_t message_size);

/// The first frame's stored values, one int32 per pixel, after decompression (JPEG baseline/lossless, JPEG-LS,
/// RLE): bits_stored bits taken below high_bit, sign-extended when is_signed. *out is malloc'd (free with
/// cdcmtk_free). Returns 0 on success, 1 for a DCMTK failure (decompression), 2 when the pixel data is shorter
/// than rows x columns samples; `message` says why.
int cdcmtk_stored_values(cdcmtk_file *file, int rows, int columns, int bits_allocated, int bits_stored,
                         int high_bit, int is_signed, int32_t **out, char *message, size_t message_size);

/// What a derived image says about itself.
typedef struct {
    const char *derivation_description; // (0008,2111)
    const char *series_description;     // (0008,103E), may be NULL
    double window_center, window_width; // (0028,1050), (0028,1051)
} cdcmtk_derived_info;

/// Writes a derived 8-bit MONOCHROME2 image (explicit VR little endian) into memory: `source` (may be NULL) gives
/// the patient, study and equipment modules and the referenced image; the SOP Class is the source's when it is
/// Computed Radiography, Secondary Capture otherwise; new SOP Instance and Series Instance UIDs (DCMTK's
/// dcmGenerateUniqueIdentifier), ImageType DERIVED\SECONDARY, a Source Image Sequence, Burned In Annotation NO.
/// *out is malloc'd (free with cdcmtk_free); the new SOP Instance UID is copied to `instance_uid` (65 bytes).
int cdcmtk_write_derived(const cdcmtk_file *source, const uint8_t *pixels, int rows, int columns,
                         const cdcmtk_derived_info *info, uint8_t **out, size_t *out_size, char *instance_uid,
                         char *message, size_t message_size);

void cdcmtk_free(void *p);

#ifdef __cplusplus
}
#endif

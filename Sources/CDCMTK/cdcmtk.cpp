#include "cdcmtk.h"
#include "internal.hpp"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmdata/dcistrmb.h"
#include "dcmtk/dcmdata/dcostrmb.h"
#include "dcmtk/dcmdata/dcpxitem.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpls/djdecode.h"
#include "dcmtk/oflog/oflog.h"

#include <cerrno>
#include <cstdio>
#include <unistd.h>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <new>
#include <string>
#include <vector>
#include <zlib.h>


namespace {

const auto say = cdcmtk_say;

/// The decoders register once per process; DCMTK logs nothing below fatal (errors come back as messages).
void setUp() {
    static std::once_flag once;
    std::call_once(once, [] {
        OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
        DJDecoderRegistration::registerCodecs();
        DJLSDecoderRegistration::registerCodecs();
        DcmRLEDecoderRegistration::registerCodecs();
    });
}

DcmItem *itemFor(const cdcmtk_file *file, uint16_t sg, uint16_t se, int item, uint16_t group) {
    auto *f = const_cast<cdcmtk_file *>(file);
    if (sg == 0) return group == 0x0002 ? static_cast<DcmItem *>(f->format.getMetaInfo()) : f->format.getDataset();
    DcmItem *found = nullptr;
    if (f->format.getDataset()->findAndGetSequenceItem(DcmTagKey(sg, se), found, item).bad()) return nullptr;
    return found;
}

} // namespace

namespace {

/// The most a deflated data set may inflate to (an 8192 x 8192 16-bit image is 128 MiB).
const size_t maxInflated = size_t(1) << 30;

/// Writes `size` bytes to a new temporary file and returns its name ("" on failure).
std::string temporaryFile(const uint8_t *data, size_t size) {
    const char *folder = getenv("TMPDIR");
    std::string path = std::string(folder && *folder ? folder : "/tmp") + "/prism-dicom-XXXXXX";
    std::vector<char> name(path.begin(), path.end());
    name.push_back(0);
    int fd = mkstemp(name.data());
    if (fd < 0) return "";
    size_t written = 0;
    while (written < size) {
        ssize_t n = write(fd, data + written, size - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        written += static_cast<size_t>(n);
    }
    close(fd);
    if (written != size) { unlink(name.data()); return ""; }
    return name.data();
}

/// A deflated data set, inflated here (at most maxInflated bytes) and read from a file as explicit VR little endian:
/// DCMTK reading the deflated stream itself allocates an element's claimed length before it finds the stream short.
int readDeflated(const char *path, DcmFileFormat &meta, cdcmtk_file **out, char *message, size_t message_size) {
    FILE *f = fopen(path, "rb");
    if (!f) { say(message, message_size, "cannot open the file"); return 1; }
    std::vector<uint8_t> bytes;
    uint8_t chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) bytes.insert(bytes.end(), chunk, chunk + n);
    fclose(f);
    Uint32 groupLength = 0;
    if (bytes.size() < 144 || memcmp(bytes.data() + 128, "DICM", 4) != 0 ||
        meta.getMetaInfo()->findAndGetUint32(DCM_FileMetaInformationGroupLength, groupLength).bad() ||
        144 + size_t(groupLength) > bytes.size()) {
        say(message, message_size, "a deflated data set needs the preamble and the File Meta Information Group Length");
        return 1;
    }
    const size_t start = 144 + size_t(groupLength);
    std::vector<uint8_t> inflated;
    bool done = false;
    for (int bits : {-MAX_WBITS, MAX_WBITS + 32}) {   // raw deflate as the standard says, else a zlib/gzip stream
        z_stream z{};
        if (inflateInit2(&z, bits) != Z_OK) break;
        z.next_in = bytes.data() + start;
        z.avail_in = static_cast<uInt>(bytes.size() - start);
        inflated.clear();
        int status = Z_OK;
        while (status == Z_OK) {
            if (inflated.size() >= maxInflated) break;
            inflated.resize(inflated.size() + sizeof chunk);
            z.next_out = inflated.data() + inflated.size() - sizeof chunk;
            z.avail_out = sizeof chunk;
            status = inflate(&z, Z_NO_FLUSH);
            inflated.resize(inflated.size() - z.avail_out);
            if (status == Z_BUF_ERROR && z.avail_in == 0) break;   // the stream ends early: read what there is
        }
        inflateEnd(&z);
        if (inflated.size() >= maxInflated) {
            say(message, message_size, "the deflated data set inflates to more than 1 GiB");
            return 1;
        }
        if (status == Z_STREAM_END || (status == Z_BUF_ERROR && !inflated.empty())) { done = true; break; }
    }
    if (!done) { say(message, message_size, "the deflated data set does not inflate"); return 1; }
    std::string temporary = temporaryFile(inflated.data(), inflated.size());
    if (temporary.empty()) { say(message, message_size, "cannot write a temporary file"); return 1; }
    auto *file = new cdcmtk_file;
    OFCondition status = file->format.loadFile(temporary.c_str(), EXS_LittleEndianExplicit, EGL_noChange,
                                               DCM_MaxReadLength, ERM_dataset);
    if (status.good()) status = file->format.loadAllDataIntoMemory();
    unlink(temporary.c_str());
    if (status.bad()) {
        say(message, message_size, status.text());
        delete file;
        return 1;
    }
    DcmObject *element = nullptr;
    while ((element = meta.getMetaInfo()->nextInContainer(element)))
        file->format.getMetaInfo()->insert(static_cast<DcmElement *>(element->clone()), OFTrue);
    file->original = EXS_DeflatedLittleEndianExplicit;
    *out = file;
    return 0;
}

/// Whether DCMTK 3.6.7's DJCodecDecoder::scanJpegDataForBitDepth would never return on this fragment: it walks the
/// markers as below, and on a TEM marker (FF01) it does not move on. The walk is DCMTK's, so that what it would
/// loop on is refused here first (a fuzz find) and everything else goes to DCMTK as before.
bool jpegBitDepthScanLoops(const uint8_t *data, uint32_t length) {
    uint32_t offset = 0;
    auto word = [&](uint32_t at) { return uint16_t(data[at] << 8 | data[at + 1]); };
    while (offset + 4 < length) {
        const uint16_t marker = word(offset);
        if ((marker >= 0xffc0 && marker <= 0xffcf && marker != 0xffc4 && marker != 0xffc8 && marker != 0xffcc))
            return false;   // a frame header: DCMTK returns its precision
        if (marker == 0xff01) return true;
        if ((marker >= 0xffd0 && marker <= 0xffd9)) { offset += 2; continue; }
        if (marker == 0xffff) { offset += 1; continue; }
        if (marker == 0xffc4 || marker == 0xffc8 || marker == 0xffcc || (marker >= 0xffda && marker <= 0xfffe)) {
            offset += uint32_t(word(offset + 2)) + 2;
            continue;
        }
        if (data[offset] == 0xff && data[offset + 1] > 2 && data[offset + 1] <= 0xbf) { offset += 2; continue; }
        return false;   // an invalid marker: DCMTK stops
    }
    return false;
}

} // namespace

extern "C" int cdcmtk_read_file(const char *path, cdcmtk_file **out, char *message, size_t message_size) {
    *out = nullptr;
    try {
        setUp();
        DcmFileFormat meta;
        OFString syntax;
        if (meta.loadFile(path, EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_metaOnly).good() &&
            meta.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, syntax).good() &&
            syntax == UID_DeflatedExplicitVRLittleEndianTransferSyntax)
            return readDeflated(path, meta, out, message, message_size);
        auto *file = new cdcmtk_file;
        // From a file stream, DCMTK checks each element's length against the bytes left in the file before it
        // allocates (a buffer stream would allocate whatever a header claims: 2.5 GB for a 1 KB file); values above
        // DCM_MaxReadLength are then loaded from the file, all of them now, so the file may go away after this.
        OFCondition status = file->format.loadFile(path, EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_autoDetect);
        if (status.good()) status = file->format.loadAllDataIntoMemory();
        if (status.bad()) {
            say(message, message_size, status.text());
            delete file;
            return 1;
        }
        file->original = file->format.getDataset()->getOriginalXfer();
        *out = file;
        return 0;
    } catch (const std::exception &e) {
        say(message, message_size, e.what());
    } catch (...) {
        say(message, message_size, "DCMTK failed");
    }
    return 1;
}

extern "C" int cdcmtk_read(const uint8_t *data, size_t size, cdcmtk_file **out, char *message, size_t message_size) {
    *out = nullptr;
    // Through a temporary file, for the length checks only a file stream makes (see cdcmtk_read_file).
    std::string temporary = temporaryFile(data, size);
    if (temporary.empty()) { say(message, message_size, "cannot write a temporary file"); return 1; }
    int status = cdcmtk_read_file(temporary.c_str(), out, message, message_size);
    unlink(temporary.c_str());
    return status;
}

extern "C" void cdcmtk_close(cdcmtk_file *file) { delete file; }

extern "C" void cdcmtk_transfer_syntax(const cdcmtk_file *file, char *uid, size_t uid_size, char *name,
                                       size_t name_size) {
    say(uid, uid_size, "");
    say(name, name_size, "");
    try {
        OFString text;
        // The meta header's UID names even a syntax DCMTK does not know (then the dataset's own is unknown).
        if (const_cast<cdcmtk_file *>(file)->format.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, text).good() && !text.empty()) {
            say(uid, uid_size, text.c_str());
        } else if (file->original != EXS_Unknown) {
            say(uid, uid_size, DcmXfer(file->original).getXferID());
        }
        DcmXfer xfer(text.empty() ? DcmXfer(file->original).getXferID() : text.c_str());
        if (xfer.getXfer() != EXS_Unknown) say(name, name_size, xfer.getXferName());
    } catch (...) {
    }
}

extern "C" int cdcmtk_string(const cdcmtk_file *file, uint16_t sg, uint16_t se, int item, uint16_t group,
                             uint16_t element, char *out, size_t out_size) {
    say(out, out_size, "");
    try {
        DcmItem *where = itemFor(file, sg, se, item, group);
        if (!where) return 0;
        DcmElement *found = nullptr;
        if (where->findAndGetElement(DcmTagKey(group, element), found).bad() || !found) return 0;
        OFString text;
        if (found->getOFStringArray(text).bad()) text.clear();
        say(out, out_size, text.c_str());
        return 1;
    } catch (...) {
        return 0;
    }
}

extern "C" int cdcmtk_has(const cdcmtk_file *file, uint16_t group, uint16_t element) {
    try {
        return const_cast<cdcmtk_file *>(file)->format.getDataset()->tagExists(DcmTagKey(group, element)) ? 1 : 0;
    } catch (...) {
        return 0;
    }
}

extern "C" int cdcmtk_items(const cdcmtk_file *file, uint16_t group, uint16_t element) {
    try {
        DcmSequenceOfItems *sequence = nullptr;
        auto *dataset = const_cast<cdcmtk_file *>(file)->format.getDataset();
        if (dataset->findAndGetSequence(DcmTagKey(group, element), sequence).bad() || !sequence) return 0;
        return static_cast<int>(sequence->card());
    } catch (...) {
        return 0;
    }
}

extern "C" int cdcmtk_lut(const cdcmtk_file *file, uint16_t group, uint16_t element, int item,
                          int32_t descriptor[3], uint16_t **data, size_t *count, char *message, size_t message_size) {
    *data = nullptr;
    *count = 0;
    try {
        DcmItem *lut = itemFor(file, group, element, item, group);
        if (!lut) { say(message, message_size, "no such item"); return 1; }
        for (unsigned long k = 0; k < 3; k++) {
            Uint16 value = 0;
            if (lut->findAndGetUint16(DCM_LUTDescriptor, value, k).bad()) {
                say(message, message_size, "LUT Descriptor (0028,3002) missing or not three values");
                return 1;
            }
            descriptor[k] = value;
        }
        // The first mapped value is signed (SS) when the data it maps are: reinterpret it as 16-bit two's complement
        // only where the descriptor's VR says so.
        DcmElement *desc = nullptr;
        if (lut->findAndGetElement(DCM_LUTDescriptor, desc).good() && desc && desc->getVR() == EVR_SS)
            descriptor[1] = static_cast<int16_t>(descriptor[1]);
        const Uint16 *values = nullptr;
        unsigned long n = 0;
        DcmElement *lutData = nullptr;
        if (lut->findAndGetElement(DCM_LUTData, lutData).bad() || !lutData) {
            say(message, message_size, "LUT Data (0028,3006) missing");
            return 1;
        }
        Uint16 *raw = nullptr;
        if (lutData->getUint16Array(raw).bad() || !raw) {
            say(message, message_size, "LUT Data (0028,3006) is not 16-bit words");
            return 1;
        }
        values = raw;
        n = lutData->getLength() / 2;
        auto *copy = static_cast<uint16_t *>(malloc(n * sizeof(uint16_t) + 1));
        if (!copy) { say(message, message_size, "out of memory"); return 1; }
        memcpy(copy, values, n * sizeof(uint16_t));
        *data = copy;
        *count = n;
        return 0;
    } catch (const std::exception &e) {
        say(message, message_size, e.what());
    } catch (...) {
        say(message, message_size, "DCMTK failed");
    }
    return 1;
}

extern "C" int cdcmtk_stored_values(cdcmtk_file *file, int rows, int columns, int bits_allocated, int bits_stored,
                                    int high_bit, int is_signed, int32_t **out, char *message, size_t message_size) {
    *out = nullptr;
    try {
        DcmDataset *dataset = file->format.getDataset();
        // Compressed pixel data is decompressed in place by the registered decoders.
        const E_TransferSyntax current = dataset->getCurrentXfer();
        if (current == EXS_JPEGProcess1 || current == EXS_JPEGProcess2_4 || current == EXS_JPEGProcess14 ||
            current == EXS_JPEGProcess14SV1) {
            DcmElement *element = nullptr;
            DcmPixelSequence *sequence = nullptr;
            DcmPixelItem *fragment = nullptr;
            Uint8 *bytes = nullptr;
            dataset->findAndGetElement(DCM_PixelData, element);
            auto *pixels = dynamic_cast<DcmPixelData *>(element);
            if (pixels &&
                pixels->getEncapsulatedRepresentation(current, nullptr, sequence).good() && sequence &&
                sequence->card() > 1 && sequence->getItem(fragment, 1).good() && fragment &&
                fragment->getUint8Array(bytes).good() && bytes && jpegBitDepthScanLoops(bytes, fragment->getLength())) {
                say(message, message_size, "JPEG data with a TEM marker (FF01) before its frame header (DCMTK 3.6.7 "
                                           "would not return from it)");
                return 1;
            }
        }
        if (DcmXfer(current).isEncapsulated()) {
            OFCondition status = dataset->chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
            if (status.bad() || !dataset->canWriteXfer(EXS_LittleEndianExplicit)) {
                say(message, message_size, std::string("cannot decompress the pixel data (") + status.text() + ")");
                return 1;
            }
        }
        DcmElement *pixelData = nullptr;
        if (dataset->findAndGetElement(DCM_PixelData, pixelData).bad() || !pixelData) {
            say(message, message_size, "no Pixel Data (7FE0,0010)");
            return 1;
        }
        const size_t count = static_cast<size_t>(rows) * static_cast<size_t>(columns);
        const size_t bytes = count * (bits_allocated / 8);
        if (pixelData->getLength() < bytes) {
            say(message, message_size, "Pixel Data has " + std::to_string(pixelData->getLength()) + " bytes, " +
                                           std::to_string(rows) + "x" + std::to_string(columns) + " pixels of " +
                                           std::to_string(bits_allocated) + " bits need " + std::to_string(bytes));
            return 2;
        }
        auto *values = static_cast<int32_t *>(malloc(count * sizeof(int32_t) + 1));
        if (!values) { say(message, message_size, "out of memory"); return 1; }
        const int shift = high_bit - bits_stored + 1;
        const uint32_t mask = bits_stored >= 32 ? 0xFFFFFFFFu : ((1u << bits_stored) - 1);
        const uint32_t sign = 1u << (bits_stored - 1);
        auto store = [&](size_t i, uint32_t raw) {
            uint32_t v = (raw >> shift) & mask;
            values[i] = (is_signed && (v & sign)) ? static_cast<int32_t>(v) - static_cast<int32_t>(mask) - 1
                                                  : static_cast<int32_t>(v);
        };
        OFCondition status;
        if (bits_allocated == 8) {
            Uint8 *raw = nullptr;
            status = pixelData->getUint8Array(raw);
            if (status.good() && raw) for (size_t i = 0; i < count; i++) store(i, raw[i]);
        } else {
            Uint16 *raw = nullptr;
            status = pixelData->getUint16Array(raw);
            if (status.good() && raw) for (size_t i = 0; i < count; i++) store(i, raw[i]);
        }
        if (status.bad()) {
            free(values);
            say(message, message_size, std::string("cannot read the pixel data (") + status.text() + ")");
            return 1;
        }
        *out = values;
        return 0;
    } catch (const std::exception &e) {
        say(message, message_size, e.what());
    } catch (...) {
        say(message, message_size, "DCMTK failed");
    }
    return 1;
}

extern "C" void cdcmtk_free(void *p) { free(p); }

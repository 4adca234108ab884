#include "cdcmtk.h"
#include "internal.hpp"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmdata/dcistrmb.h"
#include "dcmtk/dcmdata/dcostrmb.h"
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

extern "C" int cdcmtk_read_file(const char *path, cdcmtk_file **out, char *message, size_t message_size) {
    *out = nullptr;
    try {
        setUp();
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
    const char *folder = getenv("TMPDIR");
    std::string path = std::string(folder && *folder ? folder : "/tmp") + "/prism-dicom-XXXXXX";
    std::vector<char> name(path.begin(), path.end());
    name.push_back(0);
    int fd = mkstemp(name.data());
    if (fd < 0) {
        say(message, message_size, std::string("cannot create a temporary file in ") + (folder && *folder ? folder : "/tmp"));
        return 1;
    }
    size_t written = 0;
    while (written < size) {
        ssize_t n = write(fd, data + written, size - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        written += static_cast<size_t>(n);
    }
    close(fd);
    int status = 1;
    if (written == size) status = cdcmtk_read_file(name.data(), out, message, message_size);
    else say(message, message_size, "cannot write a temporary file");
    unlink(name.data());
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
        if (DcmXfer(dataset->getCurrentXfer()).isEncapsulated()) {
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

// Writing a derived image: the counterpart of cdcmtk.cpp's reading, in the same C ABI.
#include "cdcmtk.h"
#include "internal.hpp"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmdata/dcostrmb.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>


namespace {

const auto say = cdcmtk_say;

/// The patient, study, general equipment (and the series' modality and anatomy) attributes a derived image keeps.
const DcmTagKey keptFromSource[] = {
    DCM_SpecificCharacterSet,
    // Patient
    DCM_PatientName, DCM_PatientID, DCM_IssuerOfPatientID, DCM_PatientBirthDate, DCM_PatientSex,
    DCM_EthnicGroup, DCM_PatientComments, DCM_PatientIdentityRemoved, DCM_DeidentificationMethod,
    // General Study, Patient Study
    DCM_StudyInstanceUID, DCM_StudyDate, DCM_StudyTime, DCM_ReferringPhysicianName, DCM_StudyID, DCM_AccessionNumber,
    DCM_StudyDescription, DCM_PatientAge, DCM_PatientSize, DCM_PatientWeight,
    // General Equipment
    DCM_Manufacturer, DCM_InstitutionName, DCM_InstitutionAddress, DCM_StationName, DCM_InstitutionalDepartmentName,
    DCM_ManufacturerModelName, DCM_DeviceSerialNumber, DCM_SoftwareVersions,
    // Series and image: what the pixels show (the size is unchanged, so the spacing holds)
    DCM_Modality, DCM_BodyPartExamined, DCM_ViewPosition, DCM_Laterality, DCM_ImageLaterality,
    DCM_PatientOrientation, DCM_PixelSpacing, DCM_ImagerPixelSpacing, DCM_LossyImageCompression,
    DCM_LossyImageCompressionRatio, DCM_LossyImageCompressionMethod,
};

OFCondition put(DcmItem *item, const DcmTagKey &key, const std::string &value) {
    return item->putAndInsertString(key, value.c_str());
}

std::string now(const char *format) {
    char buffer[32];
    time_t t = time(nullptr);
    struct tm utc;
    gmtime_r(&t, &utc);
    strftime(buffer, sizeof buffer, format, &utc);
    return buffer;
}

} // namespace

extern "C" int cdcmtk_write_derived(const cdcmtk_file *source, const uint8_t *pixels, int rows, int columns,
                                    const cdcmtk_derived_info *info, uint8_t **out, size_t *out_size,
                                    char *instance_uid, char *message, size_t message_size) {
    *out = nullptr;
    *out_size = 0;
    try {
        DcmFileFormat format;
        DcmDataset *d = format.getDataset();
        DcmDataset *src = source ? const_cast<cdcmtk_file *>(source)->format.getDataset() : nullptr;
        OFString sourceClass, sourceInstance;
        if (src) {
            for (const DcmTagKey &key : keptFromSource) {
                DcmElement *e = nullptr;
                if (src->findAndGetElement(key, e).good() && e) d->insert(static_cast<DcmElement *>(e->clone()), OFTrue);
            }
            src->findAndGetOFString(DCM_SOPClassUID, sourceClass);
            src->findAndGetOFString(DCM_SOPInstanceUID, sourceInstance);
        }
        char uid[100];
        if (!d->tagExists(DCM_StudyInstanceUID)) put(d, DCM_StudyInstanceUID, dcmGenerateUniqueIdentifier(uid, SITE_STUDY_UID_ROOT));
        const bool keepClass = sourceClass == UID_ComputedRadiographyImageStorage;
        const std::string sopClass = keepClass ? UID_ComputedRadiographyImageStorage : UID_SecondaryCaptureImageStorage;
        std::string instance = dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT);
        // A UID generated twice in one second by one process could in principle repeat the source's; it must not.
        while (instance == sourceInstance.c_str()) instance = dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT);
        put(d, DCM_SOPClassUID, sopClass);
        put(d, DCM_SOPInstanceUID, instance);
        put(d, DCM_SeriesInstanceUID, dcmGenerateUniqueIdentifier(uid, SITE_SERIES_UID_ROOT));
        put(d, DCM_SeriesNumber, "999");
        put(d, DCM_InstanceNumber, "1");
        if (info->series_description) put(d, DCM_SeriesDescription, info->series_description);
        if (!d->tagExists(DCM_Modality)) put(d, DCM_Modality, "OT");
        for (const DcmTagKey &key : {DCM_PatientName, DCM_PatientID, DCM_PatientBirthDate, DCM_PatientSex,
                                     DCM_StudyDate, DCM_StudyTime, DCM_ReferringPhysicianName, DCM_StudyID,
                                     DCM_AccessionNumber, DCM_Manufacturer, DCM_PatientOrientation, DCM_Laterality})
            if (!d->tagExists(key)) d->insertEmptyElement(key);
        // The CR Series module's type 2 attributes (dciodvfy names them when they are missing).
        if (keepClass)
            for (const DcmTagKey &key : {DCM_BodyPartExamined, DCM_ViewPosition})
                if (!d->tagExists(key)) d->insertEmptyElement(key);
        const std::string date = now("%Y%m%d"), time = now("%H%M%S");
        put(d, DCM_InstanceCreationDate, date);
        put(d, DCM_InstanceCreationTime, time);
        put(d, DCM_ContentDate, date);
        put(d, DCM_ContentTime, time);
        put(d, DCM_ImageType, "DERIVED\\SECONDARY");
        put(d, DCM_DerivationDescription, info->derivation_description ? info->derivation_description : "");
        put(d, DCM_BurnedInAnnotation, "NO");
        if (!keepClass) put(d, DCM_ConversionType, "WSD");
        if (src && !sourceInstance.empty()) {
            DcmItem *item = nullptr;
            if (d->findOrCreateSequenceItem(DCM_SourceImageSequence, item, 0).good() && item) {
                put(item, DCM_ReferencedSOPClassUID, sourceClass.c_str());
                put(item, DCM_ReferencedSOPInstanceUID, sourceInstance.c_str());
            }
        }
        // Image Pixel: what is written, 8-bit MONOCHROME2; the window shows it as it was shown before.
        d->putAndInsertUint16(DCM_SamplesPerPixel, 1);
        put(d, DCM_PhotometricInterpretation, "MONOCHROME2");
        d->putAndInsertUint16(DCM_Rows, static_cast<Uint16>(rows));
        d->putAndInsertUint16(DCM_Columns, static_cast<Uint16>(columns));
        d->putAndInsertUint16(DCM_BitsAllocated, 8);
        d->putAndInsertUint16(DCM_BitsStored, 8);
        d->putAndInsertUint16(DCM_HighBit, 7);
        d->putAndInsertUint16(DCM_PixelRepresentation, 0);
        char number[64];
        snprintf(number, sizeof number, "%g", info->window_center);
        put(d, DCM_WindowCenter, number);
        snprintf(number, sizeof number, "%g", info->window_width);
        put(d, DCM_WindowWidth, number);
        put(d, DCM_RescaleIntercept, "0");
        put(d, DCM_RescaleSlope, "1");
        put(d, DCM_RescaleType, "US");
        if (keepClass) put(d, DCM_PresentationLUTShape, "IDENTITY");
        const size_t count = static_cast<size_t>(rows) * static_cast<size_t>(columns);
        OFCondition status = d->putAndInsertUint8Array(DCM_PixelData, pixels, static_cast<unsigned long>(count));
        if (status.bad()) { say(message, message_size, status.text()); return 1; }

        const E_TransferSyntax xfer = EXS_LittleEndianExplicit;
        status = format.validateMetaInfo(xfer);
        if (status.bad()) { say(message, message_size, status.text()); return 1; }
        std::vector<uint8_t> bytes;
        std::vector<uint8_t> chunk(1 << 16);
        DcmOutputBufferStream stream(chunk.data(), static_cast<offile_off_t>(chunk.size()));
        format.transferInit();
        do {
            status = format.write(stream, xfer, EET_ExplicitLength, nullptr);
            void *buffer = nullptr;
            offile_off_t length = 0;
            stream.flushBuffer(buffer, length);
            bytes.insert(bytes.end(), static_cast<uint8_t *>(buffer), static_cast<uint8_t *>(buffer) + length);
        } while (status == EC_StreamNotifyClient);
        format.transferEnd();
        if (status.bad()) { say(message, message_size, status.text()); return 1; }
        auto *copy = static_cast<uint8_t *>(malloc(bytes.size()));
        if (!copy) { say(message, message_size, "out of memory"); return 1; }
        memcpy(copy, bytes.data(), bytes.size());
        *out = copy;
        *out_size = bytes.size();
        say(instance_uid, 65, instance);
        return 0;
    } catch (const std::exception &e) {
        say(message, message_size, e.what());
    } catch (...) {
        say(message, message_size, "DCMTK failed");
    }
    return 1;
}

// What cdcmtk.cpp and cdcmtk_write.cpp share (not part of the C ABI).
#pragma once
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"

#include <cstdio>
#include <string>

struct cdcmtk_file {
    DcmFileFormat format;
    E_TransferSyntax original = EXS_Unknown;
};

inline void cdcmtk_say(char *message, size_t size, const std::string &text) {
    if (message && size) snprintf(message, size, "%s", text.c_str());
}

#!/usr/bin/env python3
"""Checks a DICOM Prism wrote (`prism edit` on a DICOM, `prism convert --format dicom`) with pydicom, against the
source it was derived from: what a PACS needs to file it as a derived image of the same study.

    check_dicom_written.py WRITTEN.dcm SOURCE.dcm

Exit status 0 when every check passes; each check is printed.
"""
import sys

import numpy as np
import pydicom

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
KEPT = ["PatientID", "PatientName", "PatientSex", "PatientAge", "PatientBirthDate", "StudyInstanceUID", "StudyDate",
        "AccessionNumber", "Manufacturer", "InstitutionName"]


def main(written_path, source_path):
    w = pydicom.dcmread(written_path)          # raises on a file pydicom cannot parse
    s = pydicom.dcmread(source_path)
    checks = []

    def check(what, ok, detail=""):
        checks.append(ok)
        print(f"{'ok  ' if ok else 'FAIL'} {what}{': ' + str(detail) if detail else ''}")

    check("new SOP Instance UID", w.SOPInstanceUID != s.SOPInstanceUID, w.SOPInstanceUID)
    check("meta header's Media Storage SOP Instance UID matches", w.file_meta.MediaStorageSOPInstanceUID == w.SOPInstanceUID)
    check("new Series Instance UID", w.SeriesInstanceUID != s.SeriesInstanceUID, w.SeriesInstanceUID)
    check("same Study Instance UID", w.StudyInstanceUID == s.StudyInstanceUID, w.StudyInstanceUID)
    check("SOP Class: the source's or Secondary Capture", w.SOPClassUID in (s.SOPClassUID, SECONDARY_CAPTURE), w.SOPClassUID.name)
    for key in KEPT:
        if key in s:
            check(f"{key} kept", w.get(key) == s.get(key), w.get(key))
    check("ImageType DERIVED\\SECONDARY", list(w.ImageType)[:2] == ["DERIVED", "SECONDARY"], list(w.ImageType))
    check("Derivation Description", bool(str(w.get("DerivationDescription", ""))), w.get("DerivationDescription"))
    ref = w.get("SourceImageSequence")
    check("Source Image Sequence references the source",
          bool(ref) and ref[0].ReferencedSOPInstanceUID == s.SOPInstanceUID and ref[0].ReferencedSOPClassUID == s.SOPClassUID)
    check("Burned In Annotation NO", w.get("BurnedInAnnotation") == "NO")
    arr = w.pixel_array
    check("pixel module consistent", arr.shape == (w.Rows, w.Columns) and w.SamplesPerPixel == 1
          and w.BitsAllocated == 8 and w.BitsStored == 8 and w.HighBit == 7 and w.PixelRepresentation == 0
          and w.PhotometricInterpretation == "MONOCHROME2", f"{w.Columns}x{w.Rows} {w.PhotometricInterpretation}")
    shown = pydicom.pixels.apply_voi_lut(arr, w)
    check("its window shows the pixels as written (pydicom apply_voi_lut, 0...255)",
          np.abs(shown.astype(float) - arr.astype(float)).max() <= 0.5, f"center {w.WindowCenter}, width {w.WindowWidth}")
    print(f"{sum(checks)}/{len(checks)} checks passed")
    return 0 if all(checks) else 1


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))

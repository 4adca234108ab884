import Core
import Foundation

/// What an image file says about itself (a DICOM header's PatientID, PatientSex, PatientAge, ViewPosition).
public typealias ImageMetadata = (patient: String?, sex: Sex?, age: Int?, view: String?)

extension Record {
    /// The record with what the manifest left blank (an empty patient, a nil sex, age or view) taken from
    /// `metadata(path)`; what the manifest gives is kept. `metadata` returns nil for a file that says nothing (not a
    /// DICOM); the caller reads the file (Datasets reads no images).
    public func fillingMissing(from metadata: (String) throws -> ImageMetadata?) rethrows -> Record {
        guard patientID.isEmpty || sex == nil || age == nil || view == nil, let m = try metadata(path) else { return self }
        var r = self
        if r.patientID.isEmpty, let p = m.patient, !p.isEmpty { r.patientID = p }
        if r.sex == nil { r.sex = m.sex }
        if r.age == nil { r.age = m.age }
        if r.view == nil, let v = m.view, !v.isEmpty { r.view = v }
        return r
    }
}

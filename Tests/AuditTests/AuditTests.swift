import Core
import Datasets
import Foundation
import Phantom
import Testing
@testable import Audit

@Suite struct AuditStatisticsTests {
    @Test func holmAdjustsStepDownAndKeepsOrder() {
        // Sorted 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, then 0.04·1 = 0.04 raised to 0.06 (monotone).
        let adjusted = holm([0.01, 0.04, 0.03, 0.005])
        for (a, b) in zip(adjusted, [0.03, 0.06, 0.06, 0.02]) { #expect(abs(a - b) < 1e-12) }
        #expect(holm([0.5, 0.9]) == [1, 1])
        #expect(holm([]) == [])
    }

    @Test func signFlipTestIsExactForFewPairs() {
        // Five equal differences: only the all-plus and all-minus patterns reach |Σ| = 5, 2 of 32.
        #expect(signFlipTest([1, 1, 1, 1, 1]) == 2.0 / 32)
        // Zeros carry no sign; all zero is no evidence of change.
        #expect(signFlipTest([0, 0, 1, 1, 0, 1, 1, 1]) == 2.0 / 32)
        #expect(signFlipTest([0, 0, 0]) == 1)
        // [3, 1, -1]: |Σ| = 3 is reached by (+3, ±1, ∓1) and their negatives, and by ±(3, 1, 1)·sign: 6 of 8.
        #expect(signFlipTest([3, 1, -1]) == 6.0 / 8)
        // Many consistent changes: as small as the draws allow, and seeded.
        let many = [Double](repeating: 1, count: 40)
        #expect(signFlipTest(many, permutations: 999) == 1.0 / 1000)
        let mixed = (0..<40).map { Double($0 % 3) - 0.9 }
        #expect(signFlipTest(mixed, seed: 3) == signFlipTest(mixed, seed: 3))
    }

    @Test func rolesFollowTheCaption() {
        #expect(EffectMatrix.role(of: "Cardiomegaly", edited: ["Cardiomegaly"]) == .edited)
        #expect(EffectMatrix.role(of: "No Finding", edited: ["Cardiomegaly"]) == .implied)
        #expect(EffectMatrix.role(of: "Support Devices", edited: ["Pacemaker"]) == .implied)
        #expect(EffectMatrix.role(of: "Pacemaker", edited: ["Support Devices"]) == .implied)
        #expect(EffectMatrix.role(of: "Pacemaker", edited: ["Cardiomegaly"]) == .kept)
        #expect(EffectMatrix.role(of: "No Finding", edited: ["Age"]) == .kept)
    }

    @Test func editsParseToTheirLabelAndIntervention() throws {
        let e = try AuditEdit(parsing: "remove cardiomegaly")
        #expect(e.target == "Cardiomegaly" && e.label == .remove("cardiomegaly"))
        #expect(try e.interventions() == [.cardiomegaly(false)])
        #expect(try AuditEdit(parsing: "add pleural effusion").interventions() == [.pleuralEffusion(true)])
        #expect(try AuditEdit(parsing: "remove support devices").target == "Support Devices")
        #expect(try AuditEdit(parsing: "set age=80").interventions() == [.age(80)])
        #expect(e.applies(to: ["Cardiomegaly": 1]) && !e.applies(to: ["Cardiomegaly": 0]))
        #expect(throws: DataFileError.self) { try AuditEdit(parsing: "shrink the heart") }
        #expect(throws: DataFileError.self) { try AuditEdit(parsing: "remove wings") }
    }

    /// The detail vocabulary: the edit's target is the finding it names (an added device, not the umbrella it brings),
    /// and added detail is the middle of its band.
    @Test func detailEditsParseToTheirFindingAndIntervention() throws {
        let effusion = try AuditEdit(parsing: "add a small right pleural effusion")
        #expect(effusion.target == "Pleural Effusion")
        #expect(try effusion.interventions() == [.pleuralEffusion(true), .effusionSide(.right), .effusionVolume(0.325)])
        #expect(effusion.applies(to: ["Pleural Effusion": 0]) && !effusion.applies(to: ["Pleural Effusion": 1]))
        var p = SCMParameters()
        p.effusionVolumeMin = 0.3
        #expect(try effusion.interventions(parameters: p) == [.pleuralEffusion(true), .effusionSide(.right), .effusionVolume(0.375)])
        #expect(try AuditEdit(parsing: "add moderate cardiomegaly").interventions() == [.ctr(0.55)])
        let pacemaker = try AuditEdit(parsing: "remove the pacemaker")
        #expect(pacemaker.target == "Pacemaker")
        #expect(try pacemaker.interventions() == [.pacemaker(false)])
        for _ in 0..<5 {
            let line = try AuditEdit(parsing: "add a central venous catheter")
            #expect(line.target == "Central Venous Catheter")
            #expect(try line.interventions() == [.centralVenousCatheter(true)])
        }
        #expect(throws: DataFileError.self) { try AuditEdit(parsing: "add a purple effusion") }
        #expect(throws: DataFileError.self) { try AuditEdit(parsing: "remove the large pleural effusion") }
    }
}

/// The audit proved right on the phantom, whose causal model is known: the total-effect oracle flags exactly the
/// paths out of the edited node, the direct-effect oracle flags nothing, and a graph without an edge loses its flag.
@Suite struct PhantomAuditTruthTests {
    static let edits = ["remove cardiomegaly", "remove pleural effusion", "remove support devices", "add pleural effusion"]

    func audit(_ editor: AuditEditor, parameters: SCMParameters = SCMParameters(), count: Int = 400) throws
        -> PhantomAudit.Result
    {
        let cases = PhantomAudit.cases(seed: 101, count: count, parameters: parameters, size: 64)
        var statistics = AuditStatistics()
        statistics.permutations = 1999
        statistics.bootstrap.resamples = 200
        var audit = PhantomAudit(cases: cases, edits: try Self.edits.map { try AuditEdit(parsing: $0) }, editor: editor,
                                 measure: .truth)
        audit.statistics = statistics
        return try audit.run()
    }

    func flags(_ r: PhantomAudit.Result) -> Set<String> { Set(r.matrix.flagged.map { "\($0.edit) → \($0.label)" }) }

    @Test func totalEffectOracleFlagsExactlyTheEdgesOutOfTheEditedNode() throws {
        let r = try audit(.oracleTotal)
        #expect(flags(r) == ["remove cardiomegaly → Pleural Effusion", "remove cardiomegaly → Pacemaker",
                             "remove cardiomegaly → Support Devices"])
        // The estimates agree with the causal model's own expectation.
        let scm = try PhantomAudit.scmTotalEffects(try Self.edits.map { try AuditEdit(parsing: $0) }, parameters: SCMParameters())
        for (e, edit) in Self.edits.enumerated() {
            for (k, label) in PhantomTruth.labels.enumerated() {
                let c = try #require(r.matrix.cell(edit, label))
                #expect(abs(c.meanChange - scm[e][k]) < 0.08, "\(edit) → \(label): \(c.meanChange) vs the SCM's \(scm[e][k])")
            }
        }
        let pacemaker = try #require(r.matrix.cell("remove cardiomegaly", "Pacemaker"))
        #expect(pacemaker.meanChange < -0.1 && pacemaker.ciHigh < 0)
        #expect(try #require(r.matrix.cell("remove cardiomegaly", "Cardiomegaly")).meanChange == -1)
    }

    @Test func directEffectOracleFlagsNothing() throws {
        let r = try audit(.oracleDirect)
        #expect(r.matrix.flagged.isEmpty)
        for c in r.matrix.cells where c.role == .kept { #expect(c.meanChange == 0 && c.pAdjusted == 1) }
        #expect(try #require(r.matrix.cell("add pleural effusion", "Pleural Effusion")).meanChange == 1)
    }

    @Test func aGraphWithoutTheCardiomegalyPacemakerEdgeLosesThatFlag() throws {
        var p = SCMParameters()
        p.pacemakerGivenCardiomegaly = p.pacemakerGivenNoCardiomegaly
        let r = try audit(.oracleTotal, parameters: p)
        #expect(flags(r) == ["remove cardiomegaly → Pleural Effusion"])
        let scm = try PhantomAudit.scmTotalEffects([try AuditEdit(parsing: "remove cardiomegaly")], parameters: p)
        #expect(scm[0][PhantomTruth.labels.firstIndex(of: "Pacemaker")!] == 0)
    }

    @Test func theTruthMeasureRefusesAModelsEdits() throws {
        let audit = PhantomAudit(cases: PhantomAudit.cases(seed: 1, count: 2, parameters: SCMParameters(), size: 64),
                                 edits: [try AuditEdit(parsing: "remove cardiomegaly")], editor: .model, measure: .truth)
        #expect(throws: PhantomError.self) { try audit.run() }
    }
}

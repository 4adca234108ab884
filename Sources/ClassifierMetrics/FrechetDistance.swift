/// The Fréchet distance between two sets of feature vectors, each taken as a Gaussian (Heusel et al. 2017, the
/// distance behind FID): ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^½), with the unbiased covariances (numpy's `np.cov`,
/// as pytorch-fid computes them). Features of a domain network (a chest X-ray classifier's penultimate layer) give a
/// domain FID, not Inception's.
///
/// Feature sets are usually far smaller than the feature width, so the covariances are low-rank and the trace of
/// the matrix square root is computed in sample space, exactly: with X₁, X₂ the centred features (rows), the non-zero
/// eigenvalues of Σ₁Σ₂ are those of G Gᵀ for G = X₁X₂ᵀ / √((n₁ − 1)(n₂ − 1)), so Tr (Σ₁Σ₂)^½ is the sum of G's
/// singular values. Nil when a set has fewer than 2 vectors or the widths differ.
public func frechetDistance(_ a: [[Double]], _ b: [[Double]]) -> Double? {
    guard a.count >= 2, b.count >= 2, let d = a.first?.count, d > 0,
          a.allSatisfy({ $0.count == d }), b.allSatisfy({ $0.count == d }) else { return nil }
    func centred(_ x: [[Double]]) -> (mean: [Double], rows: [[Double]]) {
        var mean = [Double](repeating: 0, count: d)
        for row in x { for j in 0..<d { mean[j] += row[j] } }
        for j in 0..<d { mean[j] /= Double(x.count) }
        return (mean, x.map { row in (0..<d).map { row[$0] - mean[$0] } })
    }
    let (m1, x1) = centred(a), (m2, x2) = centred(b)
    func dot(_ u: [Double], _ v: [Double]) -> Double { zip(u, v).reduce(0) { $0 + $1.0 * $1.1 } }
    let meanTerm = zip(m1, m2).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
    let n1 = Double(a.count - 1), n2 = Double(b.count - 1)
    let trace1 = x1.reduce(0) { $0 + dot($1, $1) } / n1
    let trace2 = x2.reduce(0) { $0 + dot($1, $1) } / n2
    // G Gᵀ, n₁ × n₁, with G = X₁X₂ᵀ / √(n₁n₂).
    let g = x1.map { u in x2.map { v in dot(u, v) / (n1 * n2).squareRoot() } }
    let ggT = g.map { u in g.map { v in dot(u, v) } }
    let traceSqrt = symmetricEigenvalues(ggT).reduce(0) { $0 + max($1, 0).squareRoot() }
    return max(0, meanTerm + trace1 + trace2 - 2 * traceSqrt)
}

/// The eigenvalues of a symmetric matrix by the cyclic Jacobi method (rotations until the off-diagonal mass is
/// negligible), in no particular order.
func symmetricEigenvalues(_ matrix: [[Double]]) -> [Double] {
    var m = matrix
    let n = m.count
    guard n > 1 else { return n == 1 ? [m[0][0]] : [] }
    let scale = max(m.reduce(0) { $0 + $1.reduce(0) { $0 + $1 * $1 } }, .leastNormalMagnitude)
    for _ in 0..<100 {
        var off = 0.0
        for p in 0..<n { for q in (p + 1)..<n { off += m[p][q] * m[p][q] } }
        if off <= 1e-30 * scale { break }
        for p in 0..<(n - 1) {
            for q in (p + 1)..<n where m[p][q] != 0 {
                let theta = (m[q][q] - m[p][p]) / (2 * m[p][q])
                let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                let c = 1 / (t * t + 1).squareRoot(), s = t * c
                for k in 0..<n {
                    let kp = m[k][p], kq = m[k][q]
                    m[k][p] = c * kp - s * kq
                    m[k][q] = s * kp + c * kq
                }
                for k in 0..<n {
                    let pk = m[p][k], qk = m[q][k]
                    m[p][k] = c * pk - s * qk
                    m[q][k] = s * pk + c * qk
                }
            }
        }
    }
    return (0..<n).map { m[$0][$0] }
}

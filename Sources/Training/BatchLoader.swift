import Core
import Datasets
import Foundation

/// The order samples are visited in: a fresh permutation each epoch, a pure function of (seed, epoch), so a
/// resumed run visits exactly the samples an uninterrupted one would.
public struct SampleOrder: Sendable {
    public let count: Int
    public let seed: UInt64

    public init(count: Int, seed: UInt64) {
        self.count = count
        self.seed = seed
    }

    public func permutation(epoch: Int) -> [Int] {
        var order = Array(0..<count)
        var rng = SplitMix64(seed: seed ^ (0x5EED_0000_0000 &+ UInt64(epoch) &* 0x9E37_79B9))
        for i in stride(from: count - 1, to: 0, by: -1) {
            order.swapAt(i, Int(rng.next() % UInt64(i + 1)))
        }
        return order
    }
}

/// A sample as the loader draws it: its index in the data and the epoch of the draw.
public struct SampleVisit: Sendable, Equatable {
    public var index: Int
    public var epoch: Int
    public init(index: Int, epoch: Int) {
        self.index = index
        self.epoch = epoch
    }
}

/// A sample loader that is told each draw's epoch (a wrapper, so that a trailing closure always means the plain
/// index loader).
public struct VisitLoader<Sample: Sendable>: Sendable {
    public let load: @Sendable (SampleVisit) throws -> Sample
    public init(_ load: @escaping @Sendable (SampleVisit) throws -> Sample) { self.load = load }
}

/// Loads samples on background threads, ahead of the training loop, in the order ``SampleOrder`` gives,
/// starting anywhere (for resuming). `load(index)` must be safe to call from several threads at once.
public final class BatchLoader<Sample: Sendable>: @unchecked Sendable {
    public typealias Position = (epoch: Int, position: Int)

    let order: SampleOrder
    let batchSize: Int
    let load: @Sendable (SampleVisit) throws -> Sample
    let workers: Int
    let prefetch: Int

    private let lock = NSCondition()
    private var ready: [Int: Result<Sample, Error>] = [:]
    private var nextToSchedule = 0
    private var nextToTake = 0
    private var stopped = false
    private var epochs: [Int: [Int]] = [:]
    private let startEpoch: Int, startPosition: Int
    private var threads: [Thread] = []

    /// - Parameters:
    ///   - prefetch: how many samples may wait, loaded, ahead of the loop.
    public convenience init(order: SampleOrder, batchSize: Int, start: Position = (0, 0), workers: Int = 2, prefetch: Int = 32,
                            load: @escaping @Sendable (Int) throws -> Sample) {
        self.init(order: order, batchSize: batchSize, start: start, workers: workers, prefetch: prefetch,
                  visits: VisitLoader { try load($0.index) })
    }

    /// `visits` receives the sample's epoch as well (for per-epoch random augmentation).
    public init(order: SampleOrder, batchSize: Int, start: Position = (0, 0), workers: Int = 2, prefetch: Int = 32,
                visits: VisitLoader<Sample>) {
        let load = visits.load
        precondition(order.count > 0, "no samples to load")
        self.order = order
        self.batchSize = batchSize
        self.load = load
        self.workers = max(1, workers)
        self.prefetch = max(prefetch, batchSize)
        startEpoch = start.epoch
        startPosition = start.position
        for _ in 0..<self.workers {
            let t = Thread { [weak self] in self?.work() }
            t.stackSize = 1 << 20
            threads.append(t)
            t.start()
        }
    }

    deinit { stop() }

    public func stop() {
        lock.lock()
        stopped = true
        lock.broadcast()
        lock.unlock()
    }

    /// The epoch and position of the n-th sample from the start.
    func place(_ n: Int) -> Position {
        let absolute = startEpoch * order.count + startPosition + n
        return (absolute / order.count, absolute % order.count)
    }

    private func indexOf(_ n: Int) -> Int {
        let p = place(n)
        if epochs[p.epoch] == nil {
            epochs[p.epoch] = order.permutation(epoch: p.epoch)
            epochs = epochs.filter { $0.key >= p.epoch - 1 }
        }
        return epochs[p.epoch]![p.position]
    }

    private func work() {
        while true {
            lock.lock()
            while !stopped && nextToSchedule - nextToTake >= prefetch { lock.wait() }
            if stopped { lock.unlock(); return }
            let n = nextToSchedule
            nextToSchedule += 1
            let visit = SampleVisit(index: indexOf(n), epoch: place(n).epoch)
            lock.unlock()
            let result = Result { try load(visit) }
            lock.lock()
            ready[n] = result
            lock.broadcast()
            lock.unlock()
        }
    }

    /// The next batch and the position after it (what a checkpoint saves). Rethrows a sample's load error.
    public func next() throws -> (samples: [Sample], after: Position) {
        var batch: [Sample] = []
        for _ in 0..<batchSize {
            lock.lock()
            let n = nextToTake
            while ready[n] == nil { lock.wait() }
            let r = ready.removeValue(forKey: n)!
            nextToTake += 1
            lock.broadcast()
            lock.unlock()
            batch.append(try r.get())
        }
        lock.lock()
        defer { lock.unlock() }
        return (batch, place(nextToTake))
    }
}

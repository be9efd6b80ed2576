import Foundation

/// The processes of a data-parallel run and the collectives training needs. `SingleProcess` when
/// LoRAKit runs alone; `MPICommunicator` under `mpirun` (see `Distributed.world`).
public protocol Communicator: AnyObject {
    /// This process's rank, 0 ..< size.
    var rank: Int { get }
    var size: Int { get }
    /// Ranks on this machine, and this one's index among them (for threads per rank).
    var localRank: Int { get }
    var localSize: Int { get }
    /// Sums `buffer` element-wise over every rank, in place; every rank passes the same count.
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws
    /// Sums `values` element-wise over every rank.
    func allreduceSum(_ values: [Double]) throws -> [Double]
    /// Every rank's `bytes`, in rank order, on every rank.
    func allgather(_ bytes: [UInt8]) throws -> [[UInt8]]
    /// Root's `bytes` on every rank.
    func broadcast(_ bytes: [UInt8], root: Int) throws -> [UInt8]
    func barrier() throws
    /// Ends every rank of the job (after an error this rank cannot recover from, so that no rank
    /// waits forever in a collective).
    func abort(code: Int32) -> Never
}

extension Communicator {
    public var isDistributed: Bool { size > 1 }
    /// Whether this rank writes the run's files (rank 0).
    public var writesOutputs: Bool { rank == 0 }
}

/// One process alone: every collective is the identity.
public final class SingleProcess: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public var localRank: Int { 0 }
    public var localSize: Int { 1 }
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {}
    public func allreduceSum(_ values: [Double]) throws -> [Double] { values }
    public func allgather(_ bytes: [UInt8]) throws -> [[UInt8]] { [bytes] }
    public func broadcast(_ bytes: [UInt8], root: Int) throws -> [UInt8] { bytes }
    public func barrier() throws {}
    public func abort(code: Int32) -> Never { exit(code) }
}

/// A collective that could not run.
public struct DistributedError: Error, CustomStringConvertible, LocalizedError {
    public var description: String
    public init(_ description: String) { self.description = description }
    public var errorDescription: String? { description }
}

/// The job this process belongs to.
public enum Distributed {
    nonisolated(unsafe) private static var shared: Communicator?
    private static let lock = NSLock()

    /// The communicator of this process: MPI's world when started by Open MPI's `mpirun` (its
    /// environment names the job), else `SingleProcess`. MPI is initialised on first use.
    /// - Throws: when `mpirun` started this process but libmpi cannot be loaded or initialised.
    public static func world() throws -> Communicator {
        lock.lock()
        defer { lock.unlock() }
        if let shared { return shared }
        let made: Communicator = launchedByMPI ? try MPICommunicator() : SingleProcess()
        shared = made
        return made
    }

    /// The communicator if `world()` has been made, without making it (error paths).
    public static var current: Communicator? {
        lock.lock()
        defer { lock.unlock() }
        return shared
    }

    /// Whether Open MPI's launcher started this process (`OMPI_COMM_WORLD_SIZE`, or PMIx's rank).
    public static var launchedByMPI: Bool {
        let env = ProcessInfo.processInfo.environment
        return env["OMPI_COMM_WORLD_SIZE"] != nil || env["PMIX_RANK"] != nil
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// MPI's world communicator, with libmpi loaded at run time (`dlopen`), not linked: the same
/// `lorakit` binary runs alone on a machine without MPI, and under `mpirun` where Open MPI is
/// installed (Debian's `openmpi-bin`, `libopenmpi3`). Open MPI's ABI is used directly: its
/// predefined handles (`MPI_COMM_WORLD`, `MPI_FLOAT`, `MPI_SUM`, …) are the addresses of global
/// objects (`ompi_mpi_comm_world`, …), and `MPI_IN_PLACE` is `(void *) 1`. MPICH names its
/// handles with integers instead and is not supported. MPI's default error handler
/// (`MPI_ERRORS_ARE_FATAL`) ends the whole job when a collective fails, so no rank hangs.
public final class MPICommunicator: Communicator {
    typealias Handle = UnsafeMutableRawPointer
    private typealias InitFn = @convention(c) (UnsafeMutablePointer<Int32>?, UnsafeMutableRawPointer?) -> Int32
    private typealias FlagFn = @convention(c) (UnsafeMutablePointer<Int32>) -> Int32
    private typealias CommIntFn = @convention(c) (Handle, UnsafeMutablePointer<Int32>) -> Int32
    private typealias AllreduceFn = @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer?, Int32, Handle, Handle, Handle) -> Int32
    private typealias AllgatherFn = @convention(c) (UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?, Int32, Handle, Handle) -> Int32
    private typealias AllgathervFn = @convention(c) (UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?, UnsafePointer<Int32>?,
                                                     UnsafePointer<Int32>?, Handle, Handle) -> Int32
    private typealias BcastFn = @convention(c) (UnsafeMutableRawPointer?, Int32, Handle, Int32, Handle) -> Int32
    private typealias CommFn = @convention(c) (Handle) -> Int32
    private typealias AbortFn = @convention(c) (Handle, Int32) -> Int32
    private typealias VoidFn = @convention(c) () -> Int32

    public let rank: Int
    public let size: Int
    public let localRank: Int
    public let localSize: Int

    private let world: Handle, float: Handle, double: Handle, byte: Handle, int: Handle, sum: Handle
    private let allreduce: AllreduceFn
    private let allgatherFn: AllgatherFn
    private let allgatherv: AllgathervFn
    private let bcast: BcastFn
    private let barrierFn: CommFn
    private let abortFn: AbortFn
    /// Open MPI's `MPI_IN_PLACE`.
    private static let inPlace = UnsafeRawPointer(bitPattern: 1)

    /// Loads libmpi and initialises MPI.
    public init() throws {
        let names = ["libmpi.so.40", "libmpi.so"]
        // RTLD_GLOBAL: Open MPI's own components, loaded later, resolve symbols of libmpi.
        guard let library = names.lazy.compactMap({ dlopen($0, RTLD_NOW | RTLD_GLOBAL) }).first else {
            throw DistributedError("mpirun started this process, but Open MPI's library (\(names.joined(separator: " or "))) cannot be loaded: "
                + "install it (Debian: apt-get install openmpi-bin libopenmpi-dev), or run lorakit without mpirun")
        }
        func symbol(_ name: String) throws -> UnsafeMutableRawPointer {
            guard let s = dlsym(library, name) else {
                throw DistributedError("libmpi has no \(name): LoRAKit runs on Open MPI (MPICH's ABI differs)")
            }
            return s
        }
        func function<F>(_ name: String, as: F.Type) throws -> F { unsafeBitCast(try symbol(name), to: F.self) }
        world = try symbol("ompi_mpi_comm_world")
        float = try symbol("ompi_mpi_float")
        double = try symbol("ompi_mpi_double")
        byte = try symbol("ompi_mpi_byte")
        int = try symbol("ompi_mpi_int")
        sum = try symbol("ompi_mpi_op_sum")
        allreduce = try function("MPI_Allreduce", as: AllreduceFn.self)
        allgatherFn = try function("MPI_Allgather", as: AllgatherFn.self)
        allgatherv = try function("MPI_Allgatherv", as: AllgathervFn.self)
        bcast = try function("MPI_Bcast", as: BcastFn.self)
        barrierFn = try function("MPI_Barrier", as: CommFn.self)
        abortFn = try function("MPI_Abort", as: AbortFn.self)
        var initialized: Int32 = 0
        _ = try function("MPI_Initialized", as: FlagFn.self)(&initialized)
        if initialized == 0 {
            let code = try function("MPI_Init", as: InitFn.self)(nil, nil)
            guard code == 0 else { throw DistributedError("MPI_Init failed (error \(code))") }
            let finalize = try function("MPI_Finalize", as: VoidFn.self)
            MPICommunicator.finalizeAtExit = finalize
            atexit { _ = MPICommunicator.finalizeAtExit?() }
        }
        var r: Int32 = 0, s: Int32 = 0
        _ = try function("MPI_Comm_rank", as: CommIntFn.self)(world, &r)
        _ = try function("MPI_Comm_size", as: CommIntFn.self)(world, &s)
        rank = Int(r)
        size = Int(s)
        let env = ProcessInfo.processInfo.environment
        localRank = env["OMPI_COMM_WORLD_LOCAL_RANK"].flatMap(Int.init) ?? 0
        localSize = env["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? 1
    }

    nonisolated(unsafe) private static var finalizeAtExit: VoidFn?

    private func check(_ code: Int32, _ what: String) throws {
        guard code == 0 else { throw DistributedError("rank \(rank): \(what) failed (MPI error \(code))") }
    }

    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        var start = 0
        while start < buffer.count {                         // counts are C ints
            let n = min(buffer.count - start, Int(Int32.max))
            try check(allreduce(Self.inPlace, buffer.baseAddress! + start, Int32(n), float, sum, world), "MPI_Allreduce")
            start += n
        }
    }

    public func allreduceSum(_ values: [Double]) throws -> [Double] {
        var out = values
        try out.withUnsafeMutableBufferPointer { b in
            try check(allreduce(Self.inPlace, b.baseAddress, Int32(b.count), double, sum, world), "MPI_Allreduce")
        }
        return out
    }

    public func allgather(_ bytes: [UInt8]) throws -> [[UInt8]] {
        var count = Int32(bytes.count)
        var counts = [Int32](repeating: 0, count: size)
        try counts.withUnsafeMutableBufferPointer { c in
            try check(allgatherFn(&count, 1, int, c.baseAddress, 1, int, world), "MPI_Allgather")
        }
        var displacements = [Int32](repeating: 0, count: size)
        for i in 1..<max(size, 1) { displacements[i] = displacements[i - 1] + counts[i - 1] }
        var all = [UInt8](repeating: 0, count: Int(counts.reduce(0, +)))
        try bytes.withUnsafeBytes { send in
            try all.withUnsafeMutableBytes { receive in
                try check(allgatherv(send.baseAddress, Int32(bytes.count), byte, receive.baseAddress, counts, displacements, byte, world),
                          "MPI_Allgatherv")
            }
        }
        return (0..<size).map { Array(all[Int(displacements[$0])..<Int(displacements[$0] + counts[$0])]) }
    }

    public func broadcast(_ bytes: [UInt8], root: Int) throws -> [UInt8] {
        var count = [Int32(bytes.count)]
        try count.withUnsafeMutableBytes { try check(bcast($0.baseAddress, 1, int, Int32(root), world), "MPI_Bcast") }
        var out = rank == root ? bytes : [UInt8](repeating: 0, count: Int(count[0]))
        try out.withUnsafeMutableBytes { try check(bcast($0.baseAddress, count[0], byte, Int32(root), world), "MPI_Bcast") }
        return out
    }

    public func barrier() throws { try check(barrierFn(world), "MPI_Barrier") }

    public func abort(code: Int32) -> Never {
        _ = abortFn(world, code)
        exit(code)
    }
}

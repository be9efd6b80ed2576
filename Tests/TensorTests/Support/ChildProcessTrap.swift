import Foundation
import XCTest

/// Runs code that must stop the program in a child process, and reports how the child ended.
///
/// The child is this test binary itself (`/proc/self/exe`), filtered to one test method that reads
/// the case to run from the environment (`ChildProcessTrap.caseVariable`); no executable target
/// of its own is needed, and it works under `swift test` in any build configuration.
enum ChildProcessTrap {
    /// The environment variable naming the case a child runs.
    static let caseVariable = "LORAKIT_TRAP_CASE"

    /// How a child ended.
    struct Outcome {
        let reason: Process.TerminationReason
        let status: Int32
        let standardError: String
    }

    /// Runs `testSpecifier` (`Module.Class/testMethod`) in a child with `caseVariable = name`.
    static func run(case name: String, testSpecifier: String) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = [testSpecifier]
        var environment = ProcessInfo.processInfo.environment
        environment[caseVariable] = name
        // Swift's backtracer takes seconds per crash and adds pages of registers to stderr.
        environment["SWIFT_BACKTRACE"] = "enable=no"
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Read before waiting: a child blocked on a full pipe would never exit.
        let data = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(reason: process.terminationReason, status: process.terminationStatus,
                       standardError: String(decoding: data, as: UTF8.self))
    }
}

extension XCTestCase {
    /// Asserts that running `name` in a child process stops it with a signal (not a normal exit)
    /// and that its standard error contains every string of `messageParts`.
    func assertTraps(_ name: String, testSpecifier: String, messageParts: [String],
                     file: StaticString = #filePath, line: UInt = #line) throws {
        let outcome = try ChildProcessTrap.run(case: name, testSpecifier: testSpecifier)
        XCTAssertEqual(outcome.reason, .uncaughtSignal,
                       "\(name): the child exited with status \(outcome.status) instead of trapping; stderr:\n\(outcome.standardError)",
                       file: file, line: line)
        for part in messageParts {
            XCTAssertTrue(outcome.standardError.contains(part),
                          "\(name): stderr lacks \"\(part)\":\n\(outcome.standardError)", file: file, line: line)
        }
    }
}

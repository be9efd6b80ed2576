import Foundation
import Tensor

/// What identifies where and with what a run ran: the machine, the threads, LoRAKit's version and
/// the commit of the checkout it was built from (when it was built from one).
public enum RunInfo {
    /// LoRAKit's version.
    public static let version = "0.2.0"

    /// The processor's model name and its logical cores (`/proc/cpuinfo`).
    public static var machine: String {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = info.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) } ?? "unknown processor"
        return "\(model), \(ProcessInfo.processInfo.activeProcessorCount) cores"
    }

    /// The commit of the source checkout this program was built from, if it is a git checkout that
    /// still exists (a released binary has none).
    public static let commit: String? = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        guard FileManager.default.fileExists(atPath: root.appendingPathComponent(".git").path) else { return nil }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        p.arguments = ["-C", root.path, "rev-parse", "--short", "HEAD"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        let text = out.trimmingCharacters(in: .whitespacesAndNewlines)
        return p.terminationStatus == 0 && !text.isEmpty ? text : nil
    }()

    /// Kernel threads in use now.
    public static var threads: Int { Threads.count }
}

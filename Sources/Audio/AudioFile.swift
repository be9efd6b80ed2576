import CSndfile
import Foundation

/// What a sound file holds, from its header.
public struct AudioInfo: Equatable, Sendable {
    public var frames: Int
    public var sampleRate: Int
    public var channels: Int
    /// The container and encoding, as libsndfile names them ("WAV (Microsoft), Signed 16 bit PCM").
    public var format: String
    public var seconds: Double { Double(frames) / Double(sampleRate) }
}

/// Encodings `AudioFile.write` writes.
public enum AudioFileFormat: Sendable, Equatable {
    /// WAV, 16-bit integer PCM.
    case wav16
    /// WAV, 32-bit float.
    case wavFloat
    /// FLAC, 16-bit (lossless for 16-bit sources).
    case flac16
    /// FLAC, 24-bit.
    case flac24

    var code: Int32 {
        switch self {
        case .wav16: return Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_16)
        case .wavFloat: return Int32(SF_FORMAT_WAV | SF_FORMAT_FLOAT)
        case .flac16: return Int32(SF_FORMAT_FLAC | SF_FORMAT_PCM_16)
        case .flac24: return Int32(SF_FORMAT_FLAC | SF_FORMAT_PCM_24)
        }
    }

    /// The format a file name asks for: `.flac` → 16-bit FLAC, anything else 16-bit WAV.
    public init(path: String) {
        self = path.lowercased().hasSuffix(".flac") ? .flac16 : .wav16
    }
}

/// Reading and writing sound files through libsndfile: WAV (any PCM, float, µ-law, A-law),
/// FLAC, OGG (Vorbis and Opus), MP3 and whatever else Debian's libsndfile 1.2 decodes; samples come
/// back as Float32 in [−1, 1], interleaved.
public enum AudioFile {
    /// The header of the file at `path`.
    public static func info(_ path: String) throws -> AudioInfo {
        let reader = try AudioReader(path: path)
        return reader.info
    }

    /// The samples of the file at `path`, from frame `start`, `frames` of them (nil: to the end).
    /// - Throws: `AudioError` naming the file: it cannot be opened or decoded, it holds no
    ///   samples, it is shorter than its header says, or the range lies outside it.
    public static func read(_ path: String, start: Int = 0, frames: Int? = nil) throws -> AudioClip {
        let reader = try AudioReader(path: path)
        let total = reader.info.frames
        guard total > 0 else { throw AudioError.empty(path: path) }
        let count = frames ?? (total - start)
        guard start >= 0, count >= 0, start + count <= total else {
            throw AudioError.invalid("\(path): frames \(start)..<\(start + count) lie outside its \(total) frames")
        }
        if start > 0 { try reader.seek(to: start) }
        var samples: [Float] = []
        samples.reserveCapacity(count * reader.info.channels)
        while samples.count < count * reader.info.channels {
            let want = min(1 << 16, count - samples.count / reader.info.channels)
            guard let chunk = try reader.read(frames: want) else { break }
            samples += chunk.samples
        }
        let decoded = samples.count / reader.info.channels
        guard decoded == count else {
            throw AudioError.truncated(path: path, announced: total, decoded: start + decoded)
        }
        return AudioClip(samples: samples, channels: reader.info.channels, sampleRate: reader.info.sampleRate)
    }

    /// Writes `clip` to `path` in `format` (by default from the name: `.flac` or WAV), through a
    /// temporary file renamed into place: a reader never sees half a file, and a failure (a full
    /// disk) leaves nothing at `path`. Samples outside [−1, 1] are clipped by integer formats.
    public static func write(_ clip: AudioClip, to path: String, format: AudioFileFormat? = nil) throws {
        let format = format ?? AudioFileFormat(path: path)
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = (directory.isEmpty ? "." : directory) + "/.\((path as NSString).lastPathComponent).\(UUID().uuidString).tmp"
        var info = SF_INFO()
        info.samplerate = Int32(clip.sampleRate)
        info.channels = Int32(clip.channels)
        info.format = format.code
        guard sf_format_check(&info) != 0 else {
            throw AudioError.writeFailed(path: path, reason: "\(format) cannot hold \(clip.channels) channels at \(clip.sampleRate) Hz")
        }
        guard let file = sf_open(temporary, Int32(SFM_WRITE), &info) else {
            throw AudioError.writeFailed(path: path, reason: String(cString: sf_strerror(nil)))
        }
        let written = clip.samples.withUnsafeBufferPointer { sf_writef_float(file, $0.baseAddress, sf_count_t(clip.frames)) }
        let problem = written == sf_count_t(clip.frames) ? nil : String(cString: sf_strerror(file))
        let closed = sf_close(file)
        if let problem = problem ?? (closed != 0 ? String(cString: sf_error_number(closed)) : nil) {
            unlink(temporary)
            throw AudioError.writeFailed(path: path, reason: problem)
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw AudioError.writeFailed(path: path, reason: reason)
        }
    }
}

/// A sound file open for reading in chunks (long recordings need not fit in memory).
public final class AudioReader {
    public let path: String
    public let info: AudioInfo
    private let file: OpaquePointer
    /// Frames read so far (from the start of the file).
    public private(set) var position = 0

    /// Opens `path`. - Throws: `AudioError.cannotOpen` naming the file and libsndfile's reason.
    public init(path: String) throws {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else { throw AudioError.cannotOpen(path: path, reason: "no such file") }
        var raw = SF_INFO()
        guard let file = sf_open(path, Int32(SFM_READ), &raw) else {
            throw AudioError.cannotOpen(path: path, reason: String(cString: sf_strerror(nil)))
        }
        self.file = file
        guard raw.channels >= 1, raw.samplerate >= 1 else {
            sf_close(file)
            throw AudioError.cannotOpen(path: path, reason: "\(raw.channels) channels at \(raw.samplerate) Hz")
        }
        info = AudioInfo(frames: Int(max(0, raw.frames)), sampleRate: Int(raw.samplerate), channels: Int(raw.channels),
                         format: AudioReader.describe(raw.format))
        if let cut = AudioReader.truncation(log: log) {
            sf_close(file)
            throw AudioError.truncated(path: path, announced: cut.announced, decoded: cut.present)
        }
    }

    /// libsndfile's account of parsing the header.
    var log: String {
        var buffer = [CChar](repeating: 0, count: 8192)
        _ = sf_command(file, Int32(SFC_GET_LOG_INFO), &buffer, Int32(buffer.count))
        return String(cString: buffer)
    }

    /// A data chunk whose header size exceeds what the file holds (`data : 40000 (should be
    /// 20000)` in libsndfile's log: it then reads what is there), in frames when the block
    /// alignment is logged. Placeholder sizes of streamed recordings (0, 0xFFFFFFFF) are not cuts.
    static func truncation(log: String) -> (announced: Int, present: Int)? {
        var align = 1
        for line in log.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            if parts[0] == "Block Align", let a = Int(parts[1]), a > 0 { align = a }
            guard parts[0] == "data" || parts[0] == "SSND", parts[1].contains("(should be") else { continue }
            let numbers = parts[1].split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            guard numbers.count >= 2, numbers[0] > numbers[1], numbers[0] != 0xFFFF_FFFF, numbers[0] < 0x7FFF_FFFF else { continue }
            return (numbers[0] / align, numbers[1] / align)
        }
        return nil
    }

    deinit { sf_close(file) }

    /// Moves to frame `frame`.
    public func seek(to frame: Int) throws {
        guard sf_seek(file, sf_count_t(frame), SEEK_SET) == sf_count_t(frame) else {
            throw AudioError.decodeFailed(path: path, frame: frame, reason: "cannot seek: \(String(cString: sf_strerror(file)))")
        }
        position = frame
    }

    /// The next `frames` frames (fewer at the end), or nil at the end.
    public func read(frames: Int) throws -> AudioClip? {
        precondition(frames >= 1, "AudioReader.read: frames must be ≥ 1")
        var samples = [Float](repeating: 0, count: frames * info.channels)
        let got = Int(samples.withUnsafeMutableBufferPointer { sf_readf_float(file, $0.baseAddress, sf_count_t(frames)) })
        let code = sf_error(file)
        guard code == 0 || got > 0 else {
            throw AudioError.decodeFailed(path: path, frame: position, reason: String(cString: sf_error_number(code)))
        }
        guard got > 0 else { return nil }
        position += got
        if got < frames { samples.removeLast((frames - got) * info.channels) }
        return AudioClip(samples: samples, channels: info.channels, sampleRate: info.sampleRate)
    }

    /// "WAV (Microsoft), Signed 16 bit PCM", from libsndfile's own names.
    static func describe(_ format: Int32) -> String {
        func name(_ value: Int32) -> String? {
            var entry = SF_FORMAT_INFO()
            entry.format = value
            guard sf_command(nil, Int32(SFC_GET_FORMAT_INFO), &entry, Int32(MemoryLayout<SF_FORMAT_INFO>.size)) == 0,
                  let n = entry.name else { return nil }
            return String(cString: n)
        }
        let major = name(format & Int32(SF_FORMAT_TYPEMASK)) ?? "unknown container"
        let minor = name(format & Int32(SF_FORMAT_SUBMASK)) ?? "unknown encoding"
        return "\(major), \(minor)"
    }
}

import Foundation

/// Float32 values into a GGUF tensor type's bytes, as ggml's reference quantisers
/// (`quantize_row_q8_0_ref`, `quantize_row_q4_0_ref`, `quantize_row_q4_1_ref` in ggml-quants.c)
/// compute them, so that a file LoRAKit writes holds what llama.cpp's own quantiser would write,
/// and `GGUFDequantize` reads it back. Scales are rounded to binary16 (nearest, ties to even).
///
///     Q8_0  per 32: d = max|x| / 127,            q = round(x / d)                       (int8)
///     Q4_0  per 32: d = x_m / −8 (x_m: the element of largest |x|, signed), q = min(15, ⌊x / d + 8.5⌋)
///     Q4_1  per 32: d = (max − min) / 15, m = min, q = min(15, ⌊(x − m) / d + 0.5⌋)
///
/// F32, F16 and BF16 (round to nearest even) are written element by element.
public enum GGUFQuantizer {
    /// The types this quantiser writes.
    public static let types: [GGUFTensorType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1]

    /// `values` (rows of `columns`, row-major) in `type`'s layout, row after row. Block formats
    /// refuse NaN and infinity (a block has no scale for them); F32, F16 and BF16 keep them.
    /// - Throws: `GGUFError.unsupportedTensorType` for a type it does not write,
    ///   `GGUFError.invalidDimensions` when `columns` is not a multiple of the type's block size
    ///   (`path` and `name` name the file being written and the tensor).
    public static func quantize(_ values: [Float], columns: Int, as type: GGUFTensorType, path: String,
                                name: String) throws -> [UInt8] {
        guard types.contains(type) else { throw GGUFError.unsupportedTensorType(path: path, tensor: name, type: type) }
        guard columns > 0, values.count % columns == 0, columns % type.blockSize == 0 else {
            throw GGUFError.invalidDimensions(path: path, tensor: name, dimensions: [UInt64(columns), UInt64(values.count / max(columns, 1))],
                                              reason: "\(columns) columns are not a whole number of \(type)'s \(type.blockSize)-element blocks")
        }
        if [.q8_0, .q4_0, .q4_1].contains(type), let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw GGUFError.invalidDimensions(path: path, tensor: name, dimensions: [UInt64(columns), UInt64(values.count / columns)],
                                              reason: "element \(bad) is \(values[bad]): block formats need finite values")
        }
        var out: [UInt8] = []
        out.reserveCapacity(values.count / type.blockSize * type.typeSize)
        func half(_ x: Float) { withUnsafeBytes(of: Float16(x).bitPattern.littleEndian) { out += $0 } }
        values.withUnsafeBufferPointer { x in
            switch type {
            case .f32: for v in x { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } }
            case .f16: for v in x { half(v) }
            case .bf16: for v in x { withUnsafeBytes(of: bfloat16(v).littleEndian) { out += $0 } }
            case .q8_0:
                for start in stride(from: 0, to: x.count, by: 32) {
                    let block = x[start..<(start + 32)]
                    let amax = block.reduce(0) { max($0, abs($1)) }
                    let d = amax / 127
                    let id: Float = d != 0 ? 1 / d : 0
                    half(d)
                    for v in block { out.append(UInt8(bitPattern: Int8((v * id).rounded(.toNearestOrAwayFromZero)))) }
                }
            case .q4_0:
                for start in stride(from: 0, to: x.count, by: 32) {
                    let block = Array(x[start..<(start + 32)])
                    var amax: Float = 0, signed: Float = 0
                    for v in block where abs(v) > amax { amax = abs(v); signed = v }
                    let d = signed / -8
                    let id: Float = d != 0 ? 1 / d : 0
                    half(d)
                    let q = block.map { UInt8(min(15, Int8(($0 * id + 8.5).rounded(.towardZero)))) }
                    for j in 0..<16 { out.append(q[j] | (q[j + 16] << 4)) }
                }
            case .q4_1:
                for start in stride(from: 0, to: x.count, by: 32) {
                    let block = Array(x[start..<(start + 32)])
                    let lo = block.min()!, hi = block.max()!
                    let d = (hi - lo) / 15
                    let id: Float = d != 0 ? 1 / d : 0
                    half(d)
                    half(lo)
                    let q = block.map { UInt8(min(15, Int8((($0 - lo) * id + 0.5).rounded(.towardZero)))) }
                    for j in 0..<16 { out.append(q[j] | (q[j + 16] << 4)) }
                }
            default: break
            }
        }
        return out
    }

    /// Float32 → bfloat16 bits, rounded to nearest even (NaNs stay NaN), as ggml's `GGML_FP32_TO_BF16`.
    static func bfloat16(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        if x.isNaN { return UInt16(bits >> 16) | 0x40 }
        return UInt16((bits &+ (0x7FFF &+ ((bits >> 16) & 1))) >> 16)
    }
}

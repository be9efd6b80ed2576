import Foundation
import NN
import Tensor

/// The closed-form weights and inputs of `scripts/make_resnet_goldens.py`, evaluated identically
/// here (float64, rounded to float32), so that golden tests against torchvision need no committed
/// weights. Used by the ImageModels ResNet goldens and the CLI's vision-recipe golden
/// (`scripts/make_vision_golden.py`).
///
/// For the state-dict entry `key` of shape `shape`, with `s[i] = wave(i, phase(key))` over the
/// row-major index `i`:
///
///     conv weight [O, C, kh, kw]   s · 2 / √(C·kh·kw)        fc.weight [out, in]   s / √in
///     fc.bias                      0.1 · s                   bn weight / bias      1 + 0.2·s  /  0.1·s
///     bn running_mean / var        0.1 · s  /  1 + 0.3·s     num_batches_tracked   unchanged (0)
public enum FormulaWeights {
    /// `(Σ_j (j + 1)·byte_j mod 1009) / 100` over the key's UTF-8 bytes.
    public static func phase(_ key: String) -> Double {
        var sum = 0
        for (j, byte) in key.utf8.enumerated() { sum += (j + 1) * Int(byte) }
        return Double(sum % 1009) / 100
    }

    /// `a + b · sin(0.37·i + k + 0.7·(i² mod 1009))` for i in 0..<n, rounded to Float. The
    /// quadratic term keeps weight matrices from being rank 2.
    public static func wave(_ n: Int, _ k: Double, times b: Double = 1, plus a: Double = 0) -> [Float] {
        [Float](unsafeUninitializedCapacity: n) { buffer, count in
            for i in 0..<n {
                let argument: Double = Double(i) * 0.37 + k + 0.7 * Double((i * i) % 1009)
                buffer[i] = Float(a + b * sin(argument))
            }
            count = n
        }
    }

    /// The value of the state-dict entry `key` with `shape` (the script's `formula`).
    public static func value(_ key: String, shape: [Int]) -> Tensor {
        let n = shape.reduce(1, *), k = phase(key)
        let leaf = key.split(separator: ".").last.map(String.init) ?? key
        let values: [Float]
        if key.hasPrefix("fc.") {
            values = leaf == "weight" ? wave(n, k, times: 1 / Double(shape[1]).squareRoot()) : wave(n, k, times: 0.1)
        } else if shape.count == 4 {
            values = wave(n, k, times: 2 / Double(shape.dropFirst().reduce(1, *)).squareRoot())
        } else {
            switch leaf {
            case "weight": values = wave(n, k, times: 0.2, plus: 1)
            case "bias", "running_mean": values = wave(n, k, times: 0.1)
            case "running_var": values = wave(n, k, times: 0.3, plus: 1)
            default: preconditionFailure("no formula for \(key)")
            }
        }
        return Tensor(values, shape: shape)
    }

    /// Formula values for every parameter and running statistic of `model`'s state dict
    /// (`num_batches_tracked` keeps the model's own value).
    public static func stateDict(for model: Module) -> [String: Tensor] {
        var state = model.stateDict()
        for (key, tensor) in state where !key.hasSuffix("num_batches_tracked") {
            state[key] = value(key, shape: tensor.shape)
        }
        return state
    }

    /// The script's input: `wave(i, 0.3)` reshaped to `shape`.
    public static func input(_ shape: [Int]) -> Tensor {
        Tensor(wave(shape.reduce(1, *), 0.3), shape: shape)
    }
}

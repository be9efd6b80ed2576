import SafeTensors
import Tensor

extension Module {
    /// Loads parameters and buffers from a safetensors file (a checkpoint whose keys are this
    /// module's state-dict keys), as `load(_:strict:)` does: shapes are checked for every key
    /// before anything changes, F16/BF16 values become F32.
    /// - Parameters:
    ///   - path: the `.safetensors` file.
    ///   - strict: when true, missing and unexpected keys are errors.
    /// - Throws: `SafeTensorsError` for an unreadable or malformed file; `ModuleError` for
    ///   missing or unexpected keys and shape mismatches.
    public func loadSafeTensors(path: String, strict: Bool = true) throws {
        let file = try SafeTensorsFile(path: path)
        try load(file.tensors(), strict: strict)
    }

    /// Writes the state dict (parameters and buffers, each in its storage type) to a safetensors
    /// file, atomically: after a failure the destination keeps its previous content.
    /// - Parameters:
    ///   - path: the destination file.
    ///   - metadata: an optional `__metadata__` map of strings.
    /// - Throws: `SafeTensorsError.io` naming the path and the failing call.
    public func saveSafeTensors(path: String, metadata: [String: String]? = nil) throws {
        try SafeTensors.write(stateDict(), metadata: metadata, to: path)
    }
}

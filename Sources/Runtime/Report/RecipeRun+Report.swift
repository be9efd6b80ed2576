import Foundation
import LoRA
import Tasks

extension RecipeRun {
    /// What the recipe's task shows of the run's trained model (its adapter or weights) on the
    /// validation split, for a report.
    /// - Throws: when the run has no trained model or its data cannot be read.
    public func reportSections() throws -> [ReportSection] { try reportSections(try task()) }

    private func reportSections<T: RecipeTask>(_ task: T) throws -> [ReportSection] {
        let (weights, adapter) = try resolve(.run)
        let session = try task.makeSession(setup(weightsOverride: weights.completeURL))
        let model = try session.makeModel(weights: weights)
        if let adapter { try PEFTAdapterFile.load(into: LoRAModel(wrapping: model.module), from: adapter.path) }
        return try session.reportSections(for: model)
    }
}

extension RunReport {
    /// Writes the report of the runs in `directories` to `file` (atomically).
    /// - Parameter open: the recipe run of a run directory (its resolved `recipe.yaml` with this
    ///   program's registry), for the task's sections; nil skips them.
    public static func write(_ directories: [URL], to file: URL, open: ((URL) throws -> RecipeRun)?) throws {
        let records = directories.map(RunRecord.init(directory:))
        let sections: [Result<[ReportSection], Error>] = records.map { record in
            guard let open else { return .success([]) }
            return Result { try open(record.directory.appendingPathComponent("recipe.yaml")).reportSections() }
        }
        try Data(html(records, sections: sections).utf8).write(to: file, options: .atomic)
    }
}

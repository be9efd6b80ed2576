import ArgumentParser
import Distributed
import Foundation
import Recipes
import Runtime
import Tasks
import Training

/// The `lorakit` command line as a library, so that a user's package can build the same tool with
/// its own plugins compiled in:
///
///     import LoRAKitCLI
///     LoRAKitCLI.main(plugins: [MyPlugin.self])
///
/// Exit codes: 0 success, 1 the run failed, 2 usage or validation errors. Errors go to standard
/// error. The commands parse arguments and print; the work is `Runtime.RecipeRun`'s.
public enum LoRAKitCLI {
    /// What this program was built with: plugins recipes may list, modules registered always, and
    /// extra commands (the `lorakit` tool adds `bench`). A task-local value, not a global.
    struct Invocation {
        var plugins: [LoRAKitPlugin.Type] = []
        var builtIns: [LoRAKitPlugin.Type] = []
        var commands: [ParsableCommand.Type] = []
    }

    @TaskLocal static var invocation = Invocation()

    /// Runs the command line with `arguments` (default: the process's) and exits.
    /// - Parameters:
    ///   - plugins: plugins recipes may list under `plugins:`.
    ///   - builtIns: modules registered for every recipe (e.g. `DemosPlugin`).
    ///   - commands: extra subcommands.
    public static func main(plugins: [LoRAKitPlugin.Type] = [], builtIns: [LoRAKitPlugin.Type] = [],
                            commands: [ParsableCommand.Type] = [], arguments: [String]? = nil) -> Never {
        preferPassiveOpenMPWaiting()
        let code = run(plugins: plugins, builtIns: builtIns, commands: commands,
                       arguments: arguments ?? Array(CommandLine.arguments.dropFirst()))
        exit(code)
    }

    /// Runs the command line and returns its exit code (for tests).
    public static func run(plugins: [LoRAKitPlugin.Type] = [], builtIns: [LoRAKitPlugin.Type] = [],
                           commands: [ParsableCommand.Type] = [], arguments: [String]) -> Int32 {
        $invocation.withValue(Invocation(plugins: plugins, builtIns: builtIns, commands: commands)) {
            do {
                var command = try LoRAKitCommand.parseAsRoot(arguments)
                try command.run()
                return 0
            } catch {
                guard let world = Distributed.current, world.isDistributed else { return report(error) }
                // One rank failing must end them all: the others would wait for it in a collective.
                world.abort(code: report(error, prefix: "rank \(world.rank) of \(world.size): "))
            }
        }
    }

    /// OpenMP's default spin-waiting makes its idle threads burn the cores that the data loader's
    /// threads need (measured: a ResNet-34 step 2.4× slower on 2 cores with a loader running).
    /// Sleeping at once (passive) costs a futex wake-up at each of the thousands of parallel
    /// regions of a step instead (BERT-base LoRA step: 2289 ms passive, 1993 ms spinning; retina
    /// LoRA training, 2 epochs with a loader thread: 25.7–34.0 s passive, 22.9–23.8 s with the
    /// bounded spin). So idle threads spin briefly (`GOMP_SPINCOUNT` 30 000 pauses, about 1 ms)
    /// and then sleep. libgomp reads these only when it loads, so the process re-executes itself
    /// once with them set; values the user set are left alone.
    static func preferPassiveOpenMPWaiting() {
        guard getenv("OMP_WAIT_POLICY") == nil, getenv("GOMP_SPINCOUNT") == nil else { return }
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1)
        setenv("GOMP_SPINCOUNT", "30000", 1)
        var path = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &path, path.count - 1)
        guard n > 0 else { return }
        let args = CommandLine.arguments.map { strdup($0) } + [nil]
        execv(path, args)                                   // returns only on failure: carry on as we are
    }

    /// Prints `error` and maps it to an exit code.
    static func report(_ error: Error, prefix: String = "") -> Int32 {
        let code = LoRAKitCommand.exitCode(for: error)
        if code == .success {                      // --help, --version
            print(LoRAKitCommand.fullMessage(for: error))
            return 0
        }
        FileHandle.standardError.write(Data((prefix + "error: " + message(for: error) + "\n").utf8))
        return isUsageError(error) ? 2 : 1
    }

    static func message(for error: Error) -> String {
        // LoRAKit's own errors describe themselves; argument errors are worded by the parser.
        if LoRAKitCommand.exitCode(for: error) == .failure { return "\(error)" }
        return LoRAKitCommand.message(for: error)
    }

    /// Usage and validation errors (exit 2): bad arguments, invalid recipes, unknown names, a
    /// model or data that does not fit the recipe, a missing trained artifact.
    static func isUsageError(_ error: Error) -> Bool {
        switch error {
        case is UsageError, is RegistryError, is RecipeError, is RunError, is WeightLoadingError, is PredictionError,
             is TaskError:
            return true
        case let error as TrainingError:
            // A changed recipe on --resume, or a batch the model cannot read, is how the run was
            // asked; a file that breaks while reading is the run failing.
            switch error {
            case .runChanged: return true
            case let .data(_, _, underlying): return underlying is TaskError || underlying is RegistryError
            default: return false
            }
        default:
            let code = LoRAKitCommand.exitCode(for: error)
            return code == .validationFailure || code.rawValue == 64
        }
    }
}

/// The root command.
struct LoRAKitCommand: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "lorakit",
            abstract: "Fine-tune pretrained models with low-rank adaptation (LoRA).",
            subcommands: [TrainCommand.self, EvalCommand.self, PredictCommand.self, MergeCommand.self,
                          InspectCommand.self, ValidateCommand.self, SweepCommand.self, DataCommand.self,
                          ListCommand.self, GenerateCommand.self, ReportCommand.self, ServeCommand.self] + LoRAKitCLI.invocation.commands
        )
    }
}

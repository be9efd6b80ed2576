// `precondition` and `preconditionFailure` for LoRAKit's modules, shadowing the standard library's:
// `package` access, so every module of this package that imports Tensor uses these (one copy), and
// programs and plugins outside the package do not see them.
//
// The standard library's versions drop their message in `-O` builds: a failed check traps with
// "Illegal instruction" and nothing else, so a user whose data does not fit the model learns
// nothing. These keep the same meaning (a programmer error stops the program, in every build
// configuration, `-Ounchecked` included) and print the message, which names the operation and the
// shapes. The check costs one branch; the message is built only when it fails.

/// Stops the program with `message` when `condition` is false, in every build configuration.
@inline(__always) @usableFromInline package
func precondition(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String = String(),
                  file: StaticString = #file, line: UInt = #line) {
    if _slowPath(!condition()) { preconditionFailed(message(), file: file, line: line) }
}

/// Stops the program with `message`, in every build configuration.
@inline(__always) @usableFromInline package
func preconditionFailure(_ message: @autoclosure () -> String = String(), file: StaticString = #file,
                         line: UInt = #line) -> Never {
    preconditionFailed(message(), file: file, line: line)
}

/// The cold path of both: kept out of line so that the checks inline to a compare and a branch.
@inline(never) @usableFromInline package
func preconditionFailed(_ message: String, file: StaticString, line: UInt) -> Never {
    fatalError(message, file: file, line: line)
}

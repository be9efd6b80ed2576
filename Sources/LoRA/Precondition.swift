// `precondition` and `preconditionFailure` for this module, shadowing the standard library's (the
// same as Tensor's `Core/Precondition.swift`; each module needs its own, as they are internal).
//
// The standard library's versions drop their message in `-O` builds: a failed check traps with
// "Illegal instruction" and nothing else, so a user whose data does not fit the model learns
// nothing. These keep the same meaning (a programmer error stops the program, in every build
// configuration, `-Ounchecked` included) and print the message, which names the operation and the
// shapes. The check costs one branch; the message is built only when it fails.

/// Stops the program with `message` when `condition` is false, in every build configuration.
@inline(__always) @usableFromInline
func precondition(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String = String(),
                  file: StaticString = #file, line: UInt = #line) {
    if _slowPath(!condition()) { preconditionFailed(message(), file: file, line: line) }
}

/// Stops the program with `message`, in every build configuration.
@inline(__always) @usableFromInline
func preconditionFailure(_ message: @autoclosure () -> String = String(), file: StaticString = #file,
                         line: UInt = #line) -> Never {
    preconditionFailed(message(), file: file, line: line)
}

/// The cold path of both: kept out of line so that the checks inline to a compare and a branch.
@inline(never) @usableFromInline
func preconditionFailed(_ message: String, file: StaticString, line: UInt) -> Never {
    fatalError(message, file: file, line: line)
}

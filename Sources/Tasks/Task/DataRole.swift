
/// Which split of the data.
public enum DataRole: String, Sendable, CaseIterable {
    case train, validation, test
}

import Recipes
import Tasks
import XCTest

final class OptionsTests: XCTestCase {
    let specs: [OptionSpec] = [
        .integer("size", min: 1, help: "side"),
        .number("sigma", above: 0, help: "blur"),
        .number("p", atLeast: 0, atMost: 1, help: "probability"),
        .choice("pooling", ["mean", "cls", "pooler"], help: "pooling"),
        .numbers("std", count: 3, above: 0, help: "deviations"),
        .boolean("flag", help: "a flag"),
        .string("name", required: true, help: "a name"),
    ]

    func options(_ values: [String: RecipeValue]) -> Options {
        Options(values, owner: "transform demo", keyPrefix: "data.transforms[2]", specs: specs)
    }

    func testValidOptionsHaveNoProblemsAndReadTyped() throws {
        let o = options(["size": .int(224), "sigma": .double(0.5), "p": .int(1), "pooling": .string("cls"),
                         "std": .list([.double(0.2), .double(0.3), .int(1)]), "flag": .bool(true), "name": .int(7)])
        XCTAssertEqual(o.problems(), [])
        XCTAssertEqual(try o.int("size"), 224)
        XCTAssertEqual(try o.double("p"), 1)
        XCTAssertEqual(try o.string("name"), "7", "an unquoted number read as a string option is its text")
        XCTAssertEqual(try o.numbers("std"), [0.2, 0.3, 1])
        XCTAssertEqual(try o.bool("flag", default: false), true)
        XCTAssertEqual(try o.int("absent", default: 3), 3)
    }

    func testEveryProblemNamesItsKeyAndWhatIsExpected() {
        let found = options(["size": .int(0), "sigma": .double(0), "p": .double(1.5), "pooling": .string("maen"),
                             "std": .list([.double(1), .double(0), .double(1)]), "flag": .string("yes"), "sizee": .int(3)])
            .problems()
        let byKey = Dictionary(found.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(Set(byKey.keys), ["data.transforms[2].size", "data.transforms[2].sigma", "data.transforms[2].p",
                                         "data.transforms[2].pooling", "data.transforms[2].std", "data.transforms[2].flag",
                                         "data.transforms[2].sizee", "data.transforms[2].name"])
        XCTAssertEqual(byKey["data.transforms[2].size"]?.description, "data.transforms[2].size: expected an integer ≥ 1, got 0")
        XCTAssertEqual(byKey["data.transforms[2].sigma"]?.description, "data.transforms[2].sigma: expected a number > 0, got 0.0")
        XCTAssertEqual(byKey["data.transforms[2].p"]?.description, "data.transforms[2].p: expected a number ≥ 0 and ≤ 1, got 1.5")
        XCTAssertEqual(byKey["data.transforms[2].pooling"]?.suggestion, "mean")
        XCTAssertEqual(byKey["data.transforms[2].sizee"]?.suggestion, "size")
        XCTAssertTrue(byKey["data.transforms[2].std"]!.description.contains("each > 0"))
        if case .missingKey = byKey["data.transforms[2].name"]?.kind {} else { XCTFail("name is required") }
    }

    func testTypedReadersThrowWhatValidationWouldReport() {
        XCTAssertThrowsError(try options(["size": .int(-2)]).int("size")) { error in
            XCTAssertEqual(error as? RegistryError, .invalidOption(key: "data.transforms[2].size", reason: "expected an integer ≥ 1, got -2"))
        }
        XCTAssertThrowsError(try options(["pooling": .string("max")]).string("pooling"))
    }
}

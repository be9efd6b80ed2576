import LoRA
import XCTest

/// The pattern forms of `TargetMatcher`, one by one, on torchvision ResNet keys.
final class TargetMatcherTests: XCTestCase {
    let keys = ["conv1", "bn1", "layer1.0.conv1", "layer1.0.conv2", "layer1.0.conv10", "layer1.0.xconv1",
                "layer2.0.conv1", "layer2.0.downsample", "layer2.0.downsample.0", "layer2.0.downsample.1",
                "layer10.0.conv1", "fc"]

    func matched(_ pattern: String) -> [String] {
        keys.filter { TargetMatcher.matches(pattern: pattern, key: $0) }
    }

    func testExactKeyMatchesItselfAndKeysEndingInIt() {
        XCTAssertEqual(matched("layer1.0.conv1"), ["layer1.0.conv1"])
        XCTAssertEqual(matched("fc"), ["fc"])
        XCTAssertTrue(TargetMatcher.matches(pattern: "layer1.0.conv1", key: "backbone.layer1.0.conv1"))
        XCTAssertFalse(TargetMatcher.matches(pattern: "layer1.0.conv1", key: "layer1.0.conv1.weight_norm"))
    }

    /// A bare name matches at a dot boundary only: `conv1` is not `conv10` nor `xconv1`.
    func testSuffixNameMatchesWholeTrailingComponents() {
        XCTAssertEqual(matched("conv1"), ["conv1", "layer1.0.conv1", "layer2.0.conv1", "layer10.0.conv1"])
        XCTAssertEqual(matched("0.conv1"), ["layer1.0.conv1", "layer2.0.conv1", "layer10.0.conv1"])
        XCTAssertEqual(matched("downsample.0"), ["layer2.0.downsample.0"])
        XCTAssertEqual(matched("onv1"), [])
    }

    /// Globs match the whole key; `*` runs across dots, `?` is exactly one character.
    func testGlobMatchesWholeKeyWithStarCrossingDots() {
        XCTAssertEqual(matched("layer*.*.conv*"), ["layer1.0.conv1", "layer1.0.conv2", "layer1.0.conv10",
                                                   "layer2.0.conv1", "layer10.0.conv1"])
        XCTAssertEqual(matched("layer*.conv1"), ["layer1.0.conv1", "layer2.0.conv1", "layer10.0.conv1"],
                       "* crosses the dot between layer1 and 0")
        XCTAssertEqual(matched("layer?.0.conv1"), ["layer1.0.conv1", "layer2.0.conv1"], "? is one character")
        XCTAssertEqual(matched("conv*"), ["conv1"], "a glob is anchored at both ends, unlike a name")
        XCTAssertEqual(matched("layer*.*.downsample.0"), ["layer2.0.downsample.0"])
        XCTAssertEqual(matched("*downsample*"), ["layer2.0.downsample", "layer2.0.downsample.0", "layer2.0.downsample.1"])
    }

    func testRegexMustMatchTheWholeKey() {
        XCTAssertEqual(matched("re:layer[12]\\.\\d+\\.conv1"), ["layer1.0.conv1", "layer2.0.conv1"])
        XCTAssertEqual(matched("re:conv1"), ["conv1"], "no suffix matching for regexes")
        XCTAssertEqual(matched("re:layer1\\.0\\.conv1|fc"), ["layer1.0.conv1", "fc"],
                       "an alternation is anchored as a whole (full match), not per branch")
        XCTAssertEqual(matched("re:.*conv1"), ["conv1", "layer1.0.conv1", "layer1.0.xconv1", "layer2.0.conv1", "layer10.0.conv1"])
    }

    func testExcludesComeBeforeTargets() {
        let matcher = TargetMatcher(targets: ["re:.*conv\\d", "fc"], excludes: ["layer2.0.conv1", "layer1.*"])
        XCTAssertEqual(keys.filter(matcher.matches), ["conv1", "layer10.0.conv1", "fc"])
        XCTAssertEqual(TargetMatcher(targets: ["fc"], excludes: ["fc"]).matches("fc"), false)
    }

    func testSelectFailsOnAPatternThatMatchesNothing() throws {
        let matcher = TargetMatcher(targets: ["conv2", "layer*.*.conv3", "fc"])
        XCTAssertThrowsError(try matcher.select(from: keys)) { e in
            XCTAssertEqual(e as? LoRAError, .targetMatchedNothing(pattern: "layer*.*.conv3", candidates: keys))
        }
        XCTAssertEqual(try TargetMatcher(targets: ["conv2", "fc"]).select(from: keys), ["layer1.0.conv2", "fc"])
        // A target that matches only excluded keys still matched something: not an error.
        XCTAssertEqual(try TargetMatcher(targets: ["fc", "bn1"], excludes: ["bn1"]).select(from: keys), ["fc"])
    }

    func testInvalidRegexIsAnErrorNamingIt() {
        XCTAssertThrowsError(try TargetMatcher(targets: ["re:layer(1"]).validate()) { e in
            XCTAssertTrue("\(e)".contains("re:layer(1"), "\(e)")
        }
        XCTAssertFalse(TargetMatcher.matches(pattern: "re:layer(1", key: "layer(1"))
        XCTAssertTrue(TargetMatcher.isName("layer1.0.conv1"))
        XCTAssertFalse(TargetMatcher.isName("layer*"))
        XCTAssertFalse(TargetMatcher.isName("re:fc"))
    }
}

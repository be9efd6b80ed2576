import Demos
import Recipes
import Tasks
import Training
import XCTest

/// The keys classification owns, checked by the task (not by the recipe schema): classes against
/// class names, the model's and the data's input kinds, and the options of the architecture, the
/// data format and the transforms.
final class ClassificationValidationTests: XCTestCase {
    let base = """
    task: image_classification
    model: {architecture: tiny_convnet, classes: 4, input_size: 12}
    data: {format: synthetic_patterns, options: {count: 32}}
    train: {epochs: 1}
    output_dir: out
    """

    func problems(_ overrides: [String] = []) throws -> [RecipeProblem] {
        var registry = Registry()
        try registry.install(DemosPlugin.self)
        try registry.registerTask(ClassificationRecipeTask(name: "image_classification", input: .image, summary: ""))
        try registry.registerTask(ClassificationRecipeTask(name: "text_classification", input: .tokens, summary: ""))
        let recipe = try RecipeLoader().load(yaml: base, path: "run.yaml", overrides: overrides).recipe
        let task = try registry.task(recipe.task)
        return task.validation(of: recipe, registry: registry).checks.flatMap { $0(recipe) }
    }

    func testAValidRecipeHasNoProblems() throws {
        XCTAssertEqual(try problems(), [])
    }

    func testClassesAgainstClassNames() throws {
        XCTAssertEqual(try problems(["model.classes=0"]).map(\.description), ["model.classes: must be ≥ 1, got 0"])
        XCTAssertEqual(try problems(["model.class_names=[a, b, c]"]).map(\.description),
                       ["model.class_names: 3 names for 4 classes (model.classes)"])
        XCTAssertEqual(try problems(["model.class_names=[a, b, a, c]"]).map(\.key), ["model.class_names[2]"])
        // A generator names no classes: the head's size must be given.
        let missing = try problems(["model.classes=null"])
        XCTAssertEqual(missing.map(\.key), ["model.classes"])
    }

    func testTheTaskNamesTheInputKindItNeeds() throws {
        let found = try problems(["task=text_classification"])
        XCTAssertEqual(Set(found.map(\.key)), ["model.architecture", "data.format"])
        XCTAssertTrue(found.contains { $0.description.contains("tiny_convnet reads images; text_classification needs a model that reads token ids") },
                      "\(found)")
    }

    func testOptionsOfTheArchitectureFormatAndTransforms() throws {
        let found = try problems(["model.options={widht: 4}", "data.options={count: 0}",
                                  "data.transforms=[{name: normalize, mean: [0.5, 0.5, 0.5]}, {name: blur}]"])
        let descriptions = found.map(\.description)
        XCTAssertTrue(descriptions.contains("model.options.widht: unknown option of architecture tiny_convnet (known: channels, width) (did you mean \"width\"?)"),
                      "\(descriptions)")
        XCTAssertTrue(descriptions.contains("data.options.count: expected an integer ≥ 1, got 0"), "\(descriptions)")
        XCTAssertTrue(descriptions.contains { $0.hasPrefix("data.transforms[0].name: unknown transform \"normalize\" for synthetic_patterns") },
                      "a generator takes no transforms: \(descriptions)")
    }
}

/// `lorakit inspect RECIPE`: filled in with the recipe runner.
enum InspectRecipe {
    static func run(path: String, json: Bool) throws {
        throw UsageError("inspecting recipes needs the recipe runner")
    }
}

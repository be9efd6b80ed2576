// swift-tools-version:6.0
// An example LoRAKit plugin, laid out as a user's own package: it depends on LoRAKit's library
// products, adds a layer type (squeeze-and-excitation) with its LoRA form and an architecture that
// uses it, and builds a `lorakit-se` tool that is the `lorakit` command with the plugin compiled in.
import PackageDescription

let package = Package(
    name: "SqueezeExcitePlugin",
    dependencies: [
        // A user names LoRAKit's repository and a version here; the example points at this checkout.
        .package(name: "LoRAKit", path: "../.."),
    ],
    targets: [
        .target(name: "SqueezeExcite", dependencies: [
            .product(name: "LoRAKit", package: "LoRAKit"),
        ]),
        .executableTarget(name: "lorakit-se", dependencies: [
            "SqueezeExcite", .product(name: "LoRAKit", package: "LoRAKit"), .product(name: "Demos", package: "LoRAKit"),
        ]),
        .testTarget(name: "SqueezeExciteTests", dependencies: [
            "SqueezeExcite", .product(name: "TestSupport", package: "LoRAKit"),
            .product(name: "Demos", package: "LoRAKit"),
        ]),
    ],
    swiftLanguageModes: [.v5]
)

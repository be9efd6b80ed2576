// swift-tools-version:6.0
// An example LoRAKit plugin that adds a TASK: multi-label classification (several labels per
// example, binary cross-entropy per label, per-label and micro/macro F1). It is laid out as a
// user's own package: it depends on LoRAKit's library products, registers its task, data formats
// and metrics through the public API, reuses LoRAKit's classifier architectures, and builds a
// `lorakit-ml` tool that is the `lorakit` command with the plugin compiled in.
import PackageDescription

let package = Package(
    name: "MultiLabelPlugin",
    dependencies: [
        // A user names LoRAKit's repository and a version here, e.g.
        //   .package(url: "https://github.com/you/LoRAKit", from: "0.2.0"),
        // the example points at this checkout (scripts/check_versioned_dependency builds a copy of
        // this package against a tagged clone by version).
        .package(name: "LoRAKit", path: "../.."),
    ],
    targets: [
        .target(name: "MultiLabel", dependencies: [
            .product(name: "LoRAKit", package: "LoRAKit"),
            .product(name: "Demos", package: "LoRAKit"),
        ]),
        .executableTarget(name: "lorakit-ml", dependencies: [
            "MultiLabel", .product(name: "LoRAKit", package: "LoRAKit"), .product(name: "Demos", package: "LoRAKit"),
        ]),
        .testTarget(name: "MultiLabelTests", dependencies: [
            "MultiLabel", .product(name: "LoRAKit", package: "LoRAKit"),
        ]),
    ],
    swiftLanguageModes: [.v5]
)

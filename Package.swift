// swift-tools-version:6.0
import PackageDescription

// Targets follow the layers of ../shared/DESIGN.md and import only downward.
//
// Release builds target Haswell-class x86-64 (AVX2, FMA; every x86-64 server since 2013) rather
// than the SSE2 baseline: the numeric loops written in Swift (elementwise ops, dropout, softmax,
// normalisation, the optimisers) vectorise 8 lanes wide instead of 4, and 32-bit integer lane
// multiplies (dropout's hash) exist at all. oneDNN picks its own kernels at run time regardless.
#if arch(x86_64)
let targetCPU = ["-target-cpu", "haswell"]
#else
let targetCPU: [String] = []
#endif
let optimize: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo"] + targetCPU, .when(configuration: .release))]

let package = Package(
    name: "LoRAKit",
    products: [
        .executable(name: "lorakit", targets: ["lorakit"]),
        .library(name: "Tensor", targets: ["Tensor"]),
        .library(name: "SafeTensors", targets: ["SafeTensors"]),
        .library(name: "NN", targets: ["NN"]),
        .library(name: "LoRA", targets: ["LoRA"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "ImageModels", targets: ["ImageModels"]),
        .library(name: "TextModels", targets: ["TextModels"]),
        .library(name: "Recipes", targets: ["Recipes"]),
        .library(name: "LoRAKitCLI", targets: ["LoRAKitCLI"]),
        .library(name: "TestSupport", targets: ["TestSupport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // System-library shims (Debian packages installed by scripts/setup).
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),
        .systemLibrary(name: "CLAPACK", path: "Sources/CLAPACK"),
        .systemLibrary(name: "CTurboJPEG", path: "Sources/CTurboJPEG", pkgConfig: "libturbojpeg",
                       providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CSndfile", path: "Sources/CSndfile", pkgConfig: "sndfile",
                       providers: [.apt(["libsndfile1-dev"])]),

        .target(name: "CParallel", cSettings: [.unsafeFlags(["-fopenmp=libgomp", "-O2"])],
                linkerSettings: [.linkedLibrary("gomp")]),

        .target(name: "Tensor", dependencies: ["CDNNL", "CParallel", "CLAPACK"], swiftSettings: optimize),
        .target(name: "SafeTensors", dependencies: ["Tensor"], swiftSettings: optimize),
        .target(name: "NN", dependencies: ["Tensor", "SafeTensors"], swiftSettings: optimize),
        .target(name: "LoRA", dependencies: ["NN", "SafeTensors"], swiftSettings: optimize),
        .target(name: "Training", dependencies: ["NN", "LoRA", "SafeTensors"], swiftSettings: optimize),
        .target(name: "ImageModels", dependencies: ["Training", "NN", "LoRA", "CPNG", "CTurboJPEG"], swiftSettings: optimize),
        .target(name: "TextModels", dependencies: ["Training", "NN", "LoRA", "SafeTensors"], swiftSettings: optimize),
        .target(name: "Recipes", dependencies: ["Training", "NN", "LoRA", .product(name: "Yams", package: "Yams")],
                swiftSettings: optimize),
        .target(name: "LoRAKitCLI", dependencies: [
            "Tensor", "SafeTensors", "NN", "LoRA", "Training", "ImageModels", "TextModels", "Recipes",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: optimize),
        .target(name: "TestSupport", dependencies: ["Tensor", "NN", "LoRA"], swiftSettings: optimize),

        .executableTarget(name: "lorakit", dependencies: ["LoRAKitCLI"], swiftSettings: optimize),

        // Examples: small programs that use the public API (and serve the tests).
        .executableTarget(name: "resume-probe", dependencies: ["Training", "LoRA", "NN", "SafeTensors"],
                          path: "examples/ResumeProbe", swiftSettings: optimize),

        .testTarget(name: "TensorTests", dependencies: ["Tensor", "TestSupport", "SafeTensors"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "SafeTensorsTests", dependencies: ["SafeTensors", "Tensor"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "NNTests", dependencies: ["NN", "TestSupport", "SafeTensors"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "TestSupport", "SafeTensors"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ImageModelsTests", dependencies: ["ImageModels", "TestSupport", "SafeTensors"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "TextModelsTests", dependencies: ["TextModels", "TestSupport", "SafeTensors"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "RecipesTests", dependencies: ["Recipes", "TestSupport"]),
        .testTarget(name: "LoRAKitCLITests", dependencies: ["LoRAKitCLI", "TestSupport", "ImageModels", "NN", "Tensor"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "LoRATests", dependencies: ["LoRA", "NN", "TestSupport", "SafeTensors"],
                    resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v5]
)

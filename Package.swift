// swift-tools-version:6.0
import PackageDescription

// Targets follow the layers of ../shared/DESIGN.md and import only downward:
//
//   lorakit (executable) → LoRAKitCLI → Runtime → ImageModels, TextModels → Tasks → Recipes
//     → Training → LoRA → NN → SafeTensors → Tensor → system libraries
//
// The manifest carries no unsafe flags, so a user's plugin package can depend on a tagged LoRAKit
// by version (SwiftPM refuses `unsafeFlags` in such dependencies). Release builds use `-O`, with
// every precondition kept.
//
// LoRAKit's own scripts build with LORAKIT_NATIVE=1, which targets Haswell-class x86-64 (AVX2,
// FMA; every x86-64 server since 2013) rather than the SSE2 baseline: the numeric loops written in
// Swift (elementwise ops, dropout, softmax, normalisation, the optimisers) vectorise 8 lanes wide
// instead of 4, and 32-bit integer lane multiplies (dropout's hash) exist at all. oneDNN picks its
// own kernels at run time regardless. Only LoRAKit's scripts set the variable, so a package that
// depends on LoRAKit (and does not set it) sees a manifest without unsafe flags.
#if arch(x86_64)
let nativeFlags = ["-target-cpu", "haswell"]
#else
let nativeFlags: [String] = []
#endif
let native = Context.environment["LORAKIT_NATIVE"] == "1"
let optimize: [SwiftSetting] = native && !nativeFlags.isEmpty
    ? [.unsafeFlags(nativeFlags, .when(configuration: .release))]
    : []

let package = Package(
    name: "LoRAKit",
    products: [
        .executable(name: "lorakit", targets: ["lorakit"]),
        // Everything a Swift program or a plugin needs, in one import.
        .library(name: "LoRAKit", targets: ["LoRAKit"]),
        .library(name: "Tensor", targets: ["Tensor"]),
        .library(name: "SafeTensors", targets: ["SafeTensors"]),
        .library(name: "GGUF", targets: ["GGUF"]),
        .library(name: "NN", targets: ["NN"]),
        .library(name: "LoRA", targets: ["LoRA"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "Distributed", targets: ["Distributed"]),
        .library(name: "Serving", targets: ["Serving"]),
        .library(name: "Recipes", targets: ["Recipes"]),
        .library(name: "Tasks", targets: ["Tasks"]),
        .library(name: "ImageModels", targets: ["ImageModels"]),
        .library(name: "Audio", targets: ["Audio"]),
        .library(name: "AudioModels", targets: ["AudioModels"]),
        .library(name: "AudioVisualModels", targets: ["AudioVisualModels"]),
        .library(name: "TextModels", targets: ["TextModels"]),
        .library(name: "LanguageModels", targets: ["LanguageModels"]),
        .library(name: "Runtime", targets: ["Runtime"]),
        .library(name: "LoRAKitCLI", targets: ["LoRAKitCLI"]),
        .library(name: "TestSupport", targets: ["TestSupport"]),
        // The seeded demo models and data (tiny_convnet, synthetic_patterns), for examples and tests.
        .library(name: "Demos", targets: ["Demos"]),
        .library(name: "Plots", targets: ["Plots"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // lorakit serve: the HTTP server (Hummingbird 2 on SwiftNIO), its lifecycle, Prometheus
        // metrics; the tests' HTTP client.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
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
        .systemLibrary(name: "CSamplerate", path: "Sources/CSamplerate", pkgConfig: "samplerate",
                       providers: [.apt(["libsamplerate0-dev"])]),
        .systemLibrary(name: "CKissFFT", path: "Sources/CKissFFT", providers: [.apt(["libkissfft-dev"])]),
        .systemLibrary(name: "CEspeakNG", path: "Sources/CEspeakNG", pkgConfig: "espeak-ng", providers: [.apt(["libespeak-ng-dev"])]),

        .target(name: "CParallel", linkerSettings: [.linkedLibrary("gomp")]),

        // Inline SVG plots (reports, sweeps); depends on nothing.
        .target(name: "Plots", swiftSettings: optimize),

        .target(name: "Tensor", dependencies: ["CDNNL", "CParallel", "CLAPACK"], swiftSettings: optimize),
        .target(name: "SafeTensors", dependencies: ["Tensor"], swiftSettings: optimize),
        .target(name: "GGUF", dependencies: ["Tensor", "SafeTensors"], swiftSettings: optimize),
        .target(name: "NN", dependencies: ["Tensor", "SafeTensors"], swiftSettings: optimize),
        .target(name: "LoRA", dependencies: ["NN", "SafeTensors", "Tensor"], swiftSettings: optimize),
        .target(name: "Distributed"),
        .target(name: "Training", dependencies: ["Distributed", "NN", "SafeTensors", "Tensor"], swiftSettings: optimize),
        .target(name: "Recipes", dependencies: ["Training", "LoRA", .product(name: "Yams", package: "Yams")],
                swiftSettings: optimize),
        .target(name: "Tasks", dependencies: ["Recipes", "Training", "LoRA", "NN", "SafeTensors", "Tensor", "Plots"],
                swiftSettings: optimize),
        .target(name: "Audio", dependencies: ["Tensor", "CSndfile", "CSamplerate", "CKissFFT"]),
        .target(name: "AudioModels", dependencies: ["Audio", "CEspeakNG", "Tasks", "Recipes", "Training", "NN", "Tensor", "SafeTensors"]),
        .target(name: "AudioVisualModels", dependencies: ["Audio", "AudioModels", "ImageModels", "Tasks", "Recipes", "Training", "NN",
                                                         "Tensor", "SafeTensors"]),
        .target(name: "ImageModels", dependencies: ["Tasks", "Recipes", "Training", "NN", "Tensor", "CPNG", "CTurboJPEG"],
                swiftSettings: optimize),
        .target(name: "TextModels", dependencies: ["Tasks", "Training", "NN", "SafeTensors", "Tensor"], swiftSettings: optimize),
        .target(name: "LanguageModels", dependencies: ["Tasks", "Training", "LoRA", "NN", "GGUF", "SafeTensors", "Tensor"],
                swiftSettings: optimize),
        .target(name: "Runtime", dependencies: ["Tasks", "ImageModels", "TextModels", "LanguageModels", "Recipes", "Training", "Distributed",
                                                "LoRA", "NN", "Plots", "SafeTensors", "Tensor", "AudioModels", "AudioVisualModels"],
                swiftSettings: optimize),
        .target(name: "Serving", dependencies: [
            "Runtime", "Tasks", "Recipes", "LoRA", "NN", "Tensor",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ], swiftSettings: optimize),
        .target(name: "LoRAKitCLI", dependencies: [
            "Runtime", "Serving", "Tasks", "Recipes", "Training", "Distributed", "LoRA", "SafeTensors", "Plots",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: optimize),
        .target(name: "LoRAKit", dependencies: ["Runtime", "LoRAKitCLI", "Tasks", "Recipes", "ImageModels", "TextModels",
                                                "LanguageModels", "GGUF", "Training", "LoRA", "NN", "SafeTensors", "Tensor"], swiftSettings: optimize),
        .target(name: "TestSupport", dependencies: ["LoRA", "NN", "Tensor"], swiftSettings: optimize),
        .target(name: "Demos", dependencies: ["Tasks", "Training", "NN", "Tensor"], swiftSettings: optimize),

        // Benchmarks (`lorakit bench …`): linked into the tool only, not into the libraries.
        .target(name: "Bench", dependencies: [
            "ImageModels", "TextModels", "LanguageModels", "Audio", "AudioModels", "AudioVisualModels", "Training", "LoRA", "NN", "Tensor",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: optimize),

        .executableTarget(name: "lorakit", dependencies: ["LoRAKitCLI", "Bench", "Demos"], swiftSettings: optimize),

        // Examples: small programs that use the public API (and serve the tests).
        .executableTarget(name: "resume-probe", dependencies: ["Training", "Demos"],
                          path: "examples/ResumeProbe", swiftSettings: optimize),

        .testTarget(name: "TensorTests", dependencies: ["Tensor", "TestSupport", "SafeTensors"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "SafeTensorsTests", dependencies: ["SafeTensors", "Tensor"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "AudioModelsTests", dependencies: ["AudioModels", "Audio", "LoRA", "NN", "Recipes", "SafeTensors", "Tasks", "Tensor",
                                                          "TestSupport", "Training"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "AudioVisualModelsTests", dependencies: ["AudioVisualModels", "AudioModels", "Audio", "ImageModels", "LoRA", "NN",
                                                                "SafeTensors", "Tensor", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "AudioTests", dependencies: ["Audio", "Tensor", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "GGUFTests", dependencies: ["GGUF", "Tensor", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "NNTests", dependencies: ["NN", "TestSupport", "SafeTensors"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Distributed", "Demos", "TestSupport", "SafeTensors"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ImageModelsTests", dependencies: ["ImageModels", "TestSupport", "SafeTensors"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "TextModelsTests", dependencies: ["TextModels", "TestSupport", "SafeTensors"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "LanguageModelsTests", dependencies: ["LanguageModels", "TestSupport", "GGUF", "SafeTensors", "Tasks"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "RecipesTests", dependencies: ["Recipes", "TestSupport"]),
        .testTarget(name: "PlotsTests", dependencies: ["Plots"]),
        .testTarget(name: "TasksTests", dependencies: ["Tasks", "Demos", "TestSupport"]),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "Demos", "TestSupport", "ImageModels", "TextModels",
                                                      "LanguageModels", "GGUF", "SafeTensors"]),
        .testTarget(name: "ServingTests", dependencies: [
            "Serving", "Runtime", "Demos", "ImageModels", "LanguageModels", "LoRA", "NN", "Tasks", "Tensor", "TestSupport",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Yams", package: "Yams"),
        ]),
        .testTarget(name: "LoRAKitCLITests", dependencies: ["LoRAKitCLI", "Demos", "Audio", "TestSupport", "ImageModels", "LanguageModels", "LoRA", "NN", "Tensor"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "LoRATests", dependencies: ["LoRA", "NN", "TestSupport", "SafeTensors"],
                    resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v5]
)

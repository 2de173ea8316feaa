// swift-tools-version:6.0
//
// Cairn for Apple platforms: the generated bindings (`Cairn`), a thin Swift
// layer (`CairnKit`: Keychain-held key, zones from Foundation) and their tests.
//
// On Apple platforms the Rust library comes as CairnFFI.xcframework, built by
// build-xcframework.sh for every platform declared below (iOS, the iOS
// simulator, macOS). On Linux (tests/swift.sh runs the tests there) the
// header is a plain C target linking libcairn_ffi.so from $CAIRN_LIB_DIR.
//
// Language modes: Swift 6 (complete strict concurrency checking) for CairnKit
// and the tests; Swift 5 for `Cairn`, which uniffi generates and which is
// never edited by hand.
//
// A release package for apps fetches the XCFramework instead of building it:
// `build-xcframework.sh --release <url>` prints the `.binaryTarget(url:checksum:)`
// that replaces the local one below.
import PackageDescription

#if os(Linux)
let ffi: Target = .target(
    name: "CairnFFI",
    path: "Sources/CairnFFI",
    exclude: ["CairnFFI.modulemap"],  // the XCFramework's (it uses Darwin)
    publicHeadersPath: "include",
    linkerSettings: Context.environment["CAIRN_LIB_DIR"].map { dir in
        [.unsafeFlags(["-L\(dir)", "-Xlinker", "-rpath", "-Xlinker", dir])]
    } ?? []
)
#else
let ffi: Target = .binaryTarget(name: "CairnFFI", path: "CairnFFI.xcframework")
#endif

let package = Package(
    name: "Cairn",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "Cairn", targets: ["Cairn", "CairnKit"]),
    ],
    targets: [
        ffi,
        .target(
            name: "Cairn",
            dependencies: ["CairnFFI"],
            path: "Sources/Cairn",
            swiftSettings: [.swiftLanguageMode(.v5)]  // generated code
        ),
        .target(name: "CairnKit", dependencies: ["Cairn"], path: "Sources/CairnKit"),
        .testTarget(
            name: "CairnTests",
            dependencies: ["Cairn", "CairnKit"],
            path: "Tests/CairnTests"
        ),
    ],
    swiftLanguageModes: [.v6]
)

// swift-tools-version:5.9
//
// Cairn for Apple platforms: the generated bindings (`Cairn`), a thin Swift
// layer (`CairnKit`: Keychain-held key, zones from Foundation) and their tests.
//
// On Apple platforms the Rust library comes as CairnFFI.xcframework, built by
// build-xcframework.sh. On Linux (tests/swift.sh runs the tests there) the
// header is a plain C target linking libcairn_ffi.so from $CAIRN_LIB_DIR.
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
        .target(name: "Cairn", dependencies: ["CairnFFI"], path: "Sources/Cairn"),
        .target(name: "CairnKit", dependencies: ["Cairn"], path: "Sources/CairnKit"),
        .testTarget(
            name: "CairnTests",
            dependencies: ["Cairn", "CairnKit"],
            path: "Tests/CairnTests"
        ),
    ]
)

// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "perfprobe",
    platforms: [.macOS(.v15)],
    products: [
        // Run through the `perfprobe` launcher (probes/launcher), built beside it.
        .executable(name: "perfprobe-agent", targets: ["perfprobe"]),
        .library(name: "PerfProbeCore", targets: ["PerfProbeCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // Only the runtime: the pprof messages are generated once with protoc
        // (scripts/generate-pprof.sh) and committed, so no build plugin runs.
        // No traits: the default BinaryDelimitedStreams imports Foundation
        // (and with it ICU) into every program that links the runtime.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0", traits: []),
    ],
    targets: [
        // The kernel interfaces Swift cannot call directly: perf_event_open,
        // variadic ioctl, ring-buffer barriers, fork+exec with a start gate;
        // zlib's gzip for pprof files, and zstd for debug sections libdw cannot
        // decompress (elfutils 0.188 reads zlib only).
        .target(name: "CPerfProbe", linkerSettings: [.linkedLibrary("stdc++"), .linkedLibrary("z"), .linkedLibrary("zstd"), .linkedLibrary("dl")]),
        // elfutils: libelf for symbol tables, libdw for DWARF line tables and
        // inline trees (DWARF 4 and 5, zlib-compressed sections).
        .systemLibrary(
            name: "CLibElf",
            pkgConfig: "libdw",
            providers: [.apt(["libelf-dev", "libdw-dev"])]
        ),
        .systemLibrary(
            name: "CLibUnwind",
            pkgConfig: "libunwind-generic",
            providers: [.apt(["libunwind-dev"])]
        ),
        // libunwind's remote API behind plain functions: its unw_* names are
        // macros, and its accessors are C callbacks. C is the library's user,
        // so the link flags sit here.
        .target(
            name: "CPerfProbeUnwind",
            dependencies: ["CLibUnwind"],
            linkerSettings: [.linkedLibrary("unwind-x86_64"), .linkedLibrary("unwind")]
        ),
        // `perfprobe top`'s full screen and the status line's terminfo.
        .systemLibrary(
            name: "CNcurses",
            pkgConfig: "ncursesw",
            providers: [.apt(["libncurses-dev"])]
        ),
        .target(
            name: "PerfProbeCore",
            dependencies: ["CPerfProbe", "CLibElf", "CPerfProbeUnwind", "CNcurses",
                           .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["Reports/Pprof/profile.proto"]
        ),
        .executableTarget(
            name: "perfprobe",
            dependencies: [
                "PerfProbeCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The parsers of untrusted bytes under libFuzzer (`make fuzz`), or
        // replaying inputs when built plainly.
        .executableTarget(
            name: "perfprobe-fuzz",
            dependencies: ["PerfProbeCore"],
            path: "Sources/PerfProbeFuzz"
        ),
        .testTarget(
            name: "PerfProbeCoreTests",
            dependencies: ["PerfProbeCore"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "PerfProbeCLITests",
            dependencies: ["PerfProbeCore"]
        ),
    ]
)
